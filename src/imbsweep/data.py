"""The data a run sees: a dataset (loaded by :mod:`imbsweep.datasets`) and its split into
train / validation / test rows."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from imbsweep.config import SplitConf
from imbsweep.datasets import LOADERS, Dataset, load_dataset
from imbsweep.errors import ConfigError

__all__ = [
    "LOADERS",
    "Dataset",
    "Split",
    "fold_count",
    "halve",
    "load_dataset",
    "split_dataset",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Split:
    """Row indices of one split; the test rows keep the original class distribution."""

    train: np.ndarray
    test: np.ndarray
    validation: np.ndarray | None = None
    # Test rows whose features equal a training row's (a leak of memorised rows), and how many
    # of those are minority rows; rows dropped as duplicates before splitting.
    dup_test_rows: int = 0
    dup_test_minority: int = 0
    dropped_duplicates: int = 0

    def facts(self) -> dict[str, int]:
        """Numbers worth logging with every seed run (docs/tracking.md, "Names")."""
        return {
            "test_dup_rows": self.dup_test_rows,
            "test_dup_minority": self.dup_test_minority,
            "dropped_duplicates": self.dropped_duplicates,
        }


# With split.holdout > 0 a study's trials never see the held-out rows; every other stage
# (best, default, run) takes its test rows from them.
TRIAL_STAGE = "trial"


def split_dataset(
    ds: Dataset, split_cfg: dict, seed: int, stage: str = "run", fold: int | None = None
) -> Split:
    """Split rows into train / test (and optionally validation, carved from train).

    ``split.protocol=kfold`` (the default): repeated stratified k-fold. The seed draws the
    repeat's fold assignment (:func:`kfold_rows`); ``fold`` picks the test fold, the other folds
    train. Every row is a test row exactly once per seed.

    ``split.protocol=holdout``: a stratified split per seed (``vary_with_seed``, ``stratify``),
    so the spread across seeds includes the data split, not only the model's seed. The
    practical's own setting (``sweeps/practical.yaml``) is one fixed split for every seed:
    ``train_test_split(test_size=0.2, random_state=42)``.
    ``drop_duplicates`` removes rows whose features repeat an earlier row before splitting;
    either way the test rows that also appear in training are counted.

    ``holdout`` > 0 (the tuning sweeps) sets a stratified share of the rows aside, fixed by
    ``random_state`` (:func:`holdout_rows`). A study's trials (``stage="trial"``) split only the
    other rows, so no trial ever sees a held-out row; every other stage draws its test rows from
    the held-out rows only (``test_size`` of all rows, a new draw per seed when
    ``vary_with_seed``) and trains on all the rest. So the final best-vs-default comparison can
    vary its outer split without testing on rows the study tuned on.
    """
    split_cfg = {**asdict(SplitConf()), **split_cfg}  # the schema's defaults for missing keys
    test_size = float(split_cfg["test_size"])
    vary = bool(split_cfg["vary_with_seed"])
    rs = seed if vary else int(split_cfg["random_state"])
    stratify = bool(split_cfg["stratify"])
    row_hash = pd.util.hash_pandas_object(ds.X, index=False).to_numpy()
    idx = np.arange(len(ds.y))
    dropped = 0
    if split_cfg["drop_duplicates"]:
        keep = ~pd.Series(row_hash).duplicated().to_numpy()
        dropped = int((~keep).sum())
        idx = idx[keep]
    val_size = float(split_cfg["validation_size"] or 0.0)
    min_train = 2 if val_size > 0 else 1  # with a validation split to come: one for each side
    holdout = float(split_cfg["holdout"] or 0.0)
    if split_cfg["protocol"] == "kfold":
        if fold is None:
            raise ValueError("split.protocol=kfold: a unit needs its fold (unit.fold)")
        if stage == TRIAL_STAGE and split_cfg.get("outer_fold") is not None:
            # Nested: the trial's rows are its outer fold's training rows, nothing else.
            idx = outer_training_rows(ds, idx, split_cfg, seed)
            folds = _kfold(ds, idx, inner_fold_count(ds, idx, split_cfg), seed)
        else:
            folds = kfold_rows(ds, idx, split_cfg, seed)
        if not 0 <= fold < len(folds):
            raise ValueError(f"fold {fold} of {len(folds)}")
        test = folds[fold]
        train = np.sort(np.concatenate([f for i, f in enumerate(folds) if i != fold]))
    elif holdout > 0 and stage != TRIAL_STAGE:
        # Test rows from the held-out rows only, as many as test_size of all rows.
        pool, held = _holdout(ds, idx, split_cfg)
        share = min(1.0, round(test_size * len(idx)) / len(held))
        if share >= 1.0:
            rest, test = held[:0], held
        else:
            rest, test = _split(held, ds.y[held], share, rs, True, "test")
        train = np.sort(np.concatenate([pool, rest]))
    else:
        if holdout > 0:  # a study's trial: the held-out rows do not exist for it
            idx = _holdout(ds, idx, split_cfg)[0]
        train, test = _split(idx, ds.y[idx], test_size, rs, stratify, "test", min_train)
    validation = None
    if val_size > 0:
        # Validation is always stratified: tiny minorities must appear on both sides.
        train, validation = _split(train, ds.y[train], val_size, rs, True, "validation")
    seen = np.isin(row_hash[test], row_hash[train])
    return Split(
        train=train,
        test=test,
        validation=validation,
        dup_test_rows=int(seen.sum()),
        dup_test_minority=int(ds.y[test][seen].sum()),
        dropped_duplicates=dropped,
    )


def fold_count(ds: Dataset, split_cfg: dict, warn: bool = False) -> int:
    """Folds of the k-fold protocol on this data: ``split.folds``, or fewer for a tiny minority.

    Stratified folds need a minority row in every fold; with fewer minority rows than
    ``split.folds`` the folds shrink to the minority count (a warning says so). Fewer than two
    minority rows cannot be cross-validated.
    """
    k = int(split_cfg.get("folds", 5))
    rows = _rows(ds, split_cfg)
    n_min = int(ds.y[rows].sum())
    if n_min < 2:
        raise ConfigError(
            "split.folds",
            k,
            "a dataset with at least 2 minority rows",
            f"{ds.name} has {n_min} minority row(s): nothing to train on and test",
        )
    if n_min < k:
        if not warn:  # said once, when the sweep is planned
            return n_min
        log.warning(
            "%s: %d minority rows < split.folds=%d: using %d folds (one minority row each)",
            ds.name,
            n_min,
            k,
            n_min,
        )
        return n_min
    return k


def kfold_rows(ds: Dataset, idx: np.ndarray, split_cfg: dict, seed: int) -> list[np.ndarray]:
    """The test rows of each fold of one repeat: stratified, shuffled by ``seed``.

    Depends only on the data, the seed and the fold count, so every method of a sweep is tested
    on the same folds at a seed (the pairing of the paired comparisons).
    """
    return _kfold(ds, idx, fold_count(ds, split_cfg), seed)


def _kfold(ds: Dataset, idx: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [np.sort(idx[test]) for _, test in skf.split(np.zeros(len(idx)), ds.y[idx])]


def outer_training_rows(ds: Dataset, idx: np.ndarray, split_cfg: dict, seed: int) -> np.ndarray:
    """Nested k-fold: the training rows of outer fold ``split.outer_fold`` of repeat ``seed``."""
    folds = kfold_rows(ds, idx, split_cfg, seed)
    outer = int(split_cfg["outer_fold"])
    if not 0 <= outer < len(folds):
        raise ConfigError("split.outer_fold", outer, f"a fold in 0..{len(folds) - 1}")
    return np.sort(np.concatenate([f for i, f in enumerate(folds) if i != outer]))


def inner_fold_count(ds: Dataset, rows: np.ndarray, split_cfg: dict) -> int:
    """Inner folds of a nested trial on ``rows``: ``split.inner_folds``, fewer for a tiny
    minority (one minority row per fold)."""
    return max(2, min(int(split_cfg["inner_folds"]), int(ds.y[rows].sum())))


def trial_fold_count(ds: Dataset, split_cfg: dict, seed: int) -> int:
    """Folds of a nested trial's repeat ``seed`` (what the driver plans as its units)."""
    idx = outer_training_rows(ds, _rows(ds, split_cfg), split_cfg, seed)
    return inner_fold_count(ds, idx, split_cfg)


def _rows(ds: Dataset, split_cfg: dict) -> np.ndarray:
    """All rows, or the first of each set of duplicate rows with ``split.drop_duplicates``."""
    idx = np.arange(len(ds.y))
    if split_cfg.get("drop_duplicates", False):
        row_hash = pd.util.hash_pandas_object(ds.X, index=False).to_numpy()
        idx = idx[~pd.Series(row_hash).duplicated().to_numpy()]
    return idx


def holdout_rows(ds: Dataset, split_cfg: dict) -> np.ndarray:
    """The rows ``split.holdout`` sets aside: never seen by a study's trials."""
    return _holdout(ds, _rows(ds, split_cfg), split_cfg)[1]


def _holdout(ds: Dataset, idx: np.ndarray, split_cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """(tuning rows, held-out rows): stratified, fixed by ``random_state`` whatever the seed."""
    size = float(split_cfg["holdout"])
    return _split(idx, ds.y[idx], size, int(split_cfg.get("random_state", 42)), True, "holdout", 2)


def halve(ds: Dataset, rows: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two stratified halves of ``rows``; both halves are ``rows`` if it has < 2 minority rows."""
    if ds.y[rows].sum() < 2:
        log.warning("validation split has < 2 minority rows: threshold chosen and scored on it")
        return rows, rows
    return _split(rows, ds.y[rows], 0.5, seed, True, "validation")


def _split(idx, y, size, rs, stratify, part, min_a=1):
    """Split ``idx`` into (a, b) with >= 1 minority row in b and >= ``min_a`` in a."""
    n_min = int(y.sum())
    if n_min < min_a + 1:
        raise ConfigError(
            f"split.{part}_size",
            size,
            f"a dataset with at least {min_a + 1} minority rows",
            f"only {n_min} minority row(s) left to split into train and {part}",
        )
    a, b = train_test_split(idx, test_size=size, random_state=rs, stratify=y if stratify else None)
    pos = idx[y == 1]
    n_a, n_b = np.isin(a, pos).sum(), np.isin(b, pos).sum()
    if not stratify and (n_b == 0 or n_a < min_a):
        # An unstratified split can leave a part without minority rows; retry stratified.
        log.warning("unstratified %s split left a part without minority rows: using stratify", part)
        a, b = train_test_split(idx, test_size=size, random_state=rs, stratify=y)
        n_a, n_b = np.isin(a, pos).sum(), np.isin(b, pos).sum()
    if n_b == 0 or n_a < min_a:
        # Stratifying rounds a minority share below one row down to 0: swap one minority row in
        # and one majority row out, so both parts keep their sizes.
        rng = np.random.default_rng(rs)
        src, dst = (a, b) if n_b == 0 else (b, a)
        give = rng.choice(src[np.isin(src, pos)])
        take = rng.choice(dst[~np.isin(dst, pos)])
        src, dst = np.append(src[src != give], take), np.append(dst[dst != take], give)
        a, b = (src, dst) if n_b == 0 else (dst, src)
        log.warning("%s split: moved one minority row so that both parts have one", part)
    return np.sort(a), np.sort(b)
