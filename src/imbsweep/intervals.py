"""Intervals and paired tests matched to how a sweep's test rows were drawn.

Every interval and p-value of the ranges table, the paired table and the job runs comes from
here, chosen by the protocol the unit runs logged (``split.*`` params):

- ``kfold`` (repeated stratified k-fold): the estimate is the mean over repeats of each repeat's
  pooled value (:mod:`imbsweep.pooling`); its spread is the corrected repeated k-fold t of
  Bouckaert & Frank (2004), after Nadeau & Bengio (2003): the sample variance of the k x r
  per-fold values times ``1/(k r) + n_test/n_train``, Student t with k r - 1 degrees of freedom.
  Training sets of different folds overlap, so the plain ``1/(k r)`` would be far too small.
- ``holdout`` (a train/test split per seed): the same correction over the J seeds,
  ``1/J + n_test/n_train`` with J - 1 degrees of freedom (Nadeau & Bengio's corrected
  resampled t).
- ``fixed`` (one split for every seed, the practical's): the test rows are one sample, so the
  interval must say how much another sample of test rows could differ. A bootstrap over test
  rows and model seeds (percentile interval; paired comparisons resample the same rows and seeds
  for both methods) from each unit's predictions (``test_predictions.npz``). Runs logged
  without their predictions get the spread over model seeds only, labelled as such.

Centre and spread come from the same t (or the same replicates), so an interval excludes 0
exactly when its p-value is below 1 - confidence.
"""

from __future__ import annotations

import functools
import io
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from imbsweep.evaluation import COUNT_METRICS, count_metrics

KFOLD = "corrected repeated k-fold t (Bouckaert & Frank 2004)"
HOLDOUT = "corrected resampled t (Nadeau & Bengio 2003)"
HELD_OUT = "corrected resampled t (Nadeau & Bengio 2003, held-out test rows)"
BOOTSTRAP = "bootstrap over test rows and model seeds"
SEEDS_ONLY = "t over model seeds only (one split: test-row noise not included)"
CONFIDENCE = 0.95
# Bootstrap replicates; the replicate weights are drawn with a fixed seed (same rows, same
# interval) and in blocks, so a large test set does not hold a replicates x rows matrix at once.
REPLICATES = 1000
_BLOCK_CELLS = 20_000_000
# The artifact each fixed-split unit run logs: its test rows' labels, scores and predictions.
PREDICTIONS = "test_predictions.npz"


@dataclass(frozen=True)
class Estimate:
    """A mean (or mean difference), its interval, and for a difference its two-sided p-value."""

    mean: float
    low: float
    high: float
    p: float
    n: int  # values behind the spread: folds x repeats, seeds, or bootstrap test rows
    method: str


NAN = Estimate(math.nan, math.nan, math.nan, math.nan, 0, "")


# ---------------------------------------------------------------------------- protocol

# What must be equal for two jobs' units to be paired (same data; at each seed and fold, the
# same test rows).
SPLIT_PARAMS = (
    "params.data.digest",
    "params.split.protocol",
    "params.split.folds",
    "params.split.test_size",
    "params.split.vary_with_seed",
    "params.split.random_state",
    "params.split.stratify",
    "params.split.validation_size",
    "params.split.drop_duplicates",
    "params.split.holdout",
)


def same_test_rows(ga: pd.DataFrame, gb: pd.DataFrame) -> bool:
    """Same data and split settings: only then did a seed (and fold) test the same rows."""
    setting = [c for c in SPLIT_PARAMS if c in ga and c in gb]
    return all(set(ga[c].astype(str)) == set(gb[c].astype(str)) for c in setting)


def protocol(rows: pd.DataFrame) -> str:
    """``kfold``, ``holdout`` or ``fixed``, from the unit rows' logged params."""
    if "fold" in rows and rows["fold"].notna().all() and len(rows):
        return "kfold"
    col = "params.split.vary_with_seed"
    if col in rows and (rows[col].astype(str).str.lower() == "false").all():
        return "fixed"
    return "holdout"


def test_train_ratio(rows: pd.DataFrame, default: float = 0.25) -> float:
    """n_test / n_train of one unit, from the logged class counts (mean over units)."""
    cols = ("test_class0", "test_class1", "train_class0", "train_class1")
    if not set(cols) <= set(rows.columns):
        return default
    r = (rows["test_class0"] + rows["test_class1"]) / (rows["train_class0"] + rows["train_class1"])
    r = r[np.isfinite(r)]
    return float(r.mean()) if len(r) else default


def _number(rows: pd.DataFrame, col: str) -> float:
    vals = pd.to_numeric(rows.get(col, pd.Series(dtype=float)), errors="coerce").dropna()
    return float(vals.iloc[0]) if len(vals) else 0.0


def correction(rows: pd.DataFrame) -> tuple[float, str]:
    """Nadeau & Bengio's ratio for these unit rows, and the name of the test it makes."""
    kind = protocol(rows)
    ratio = test_train_ratio(rows)
    if kind == "kfold":
        return ratio, KFOLD
    hold, size = _number(rows, "params.split.holdout"), _number(rows, "params.split.test_size")
    if hold > 0 and size > 0:
        # Test rows drawn from a held-out share (a tuning sweep's final table): two outer test
        # sets share size/hold of their rows on average, not size as under free resampling.
        # The ratio stands for rho / (1 - rho) with rho that overlap; take the larger.
        rho = min(size / hold, 0.99)
        return max(ratio, rho / (1 - rho)), HELD_OUT
    return ratio, HOLDOUT


# ---------------------------------------------------------------------------- corrected t


def corrected_t(
    units, center: float, ratio: float, method: str, confidence: float = CONFIDENCE
) -> Estimate:
    """Interval and p-value (of ``center`` = 0) from per-unit values with the NB correction.

    ``units``: one value per unit (fold or seed); ``center``: the estimate (a k-fold repeat's
    pooled mean, else the units' mean). ``ratio`` 0 gives the plain t over units.
    """
    v = np.asarray(units, dtype=float)
    v = v[np.isfinite(v)]
    n = v.size
    if n < 2 or not np.isfinite(center):
        return Estimate(center, math.nan, math.nan, math.nan, n, method)
    var = float(v.var(ddof=1))
    se = math.sqrt((1.0 / n + ratio) * var)
    if se < 1e-12:
        # No spread at all: identical values (p = 1 at 0, else as sure as it gets).
        same = abs(center) < 1e-12
        return Estimate(center, center, center, 1.0 if same else 0.0, n, method)
    q = float(sps.t.ppf(0.5 + confidence / 2, n - 1))
    p = float(2 * sps.t.sf(abs(center) / se, n - 1))
    return Estimate(center, center - q * se, center + q * se, p, n, method)


# ---------------------------------------------------------------------------- bootstrap


def weighted_scores(
    weights: np.ndarray, y: np.ndarray, pred: np.ndarray, score: np.ndarray, metric: str
) -> np.ndarray:
    """``metric`` of one model's test predictions under each row-weight vector (rows of
    ``weights``): integer weights are a bootstrap resample. Returns one value per weight row."""
    y = y.astype(float)
    if metric in COUNT_METRICS:
        p = pred.astype(float)
        tp, fp = weights @ (p * y), weights @ (p * (1 - y))
        fn, tn = weights @ ((1 - p) * y), weights @ ((1 - p) * (1 - y))
        return count_metrics(tp, fp, fn, tn)[metric]
    total = weights.sum(axis=1)
    if metric == "brier":
        return (weights @ (score - y) ** 2) / total
    if metric == "log_loss":
        s = np.clip(score, 1e-15, 1 - 1e-15)
        return (weights @ -(y * np.log(s) + (1 - y) * np.log(1 - s))) / total
    if metric not in ("roc_auc", "average_precision"):
        raise ValueError(f"no bootstrap for metric {metric!r}")
    # Ranking metrics on weighted rows: rows grouped by distinct score, high to low (ties
    # count together); a sparse row-to-group matrix sums each replicate's weights per group
    # without reordering the replicates x rows matrix.
    from scipy import sparse

    distinct, group = np.unique(-score, return_inverse=True)
    rows = np.arange(len(y))
    to_group = sparse.csr_matrix((np.ones(len(y)), (rows, group)), shape=(len(y), len(distinct)))
    pos = np.asarray((to_group.multiply(y[:, None]).T @ weights.T).T)
    neg = np.asarray((to_group.multiply((1 - y)[:, None]).T @ weights.T).T)
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    w = weights
    if metric == "roc_auc":
        # A positive beats the negatives of lower scores and ties half of its own score's.
        lower = n_neg[:, None] - np.cumsum(neg, axis=1)
        hits = (pos * (lower + 0.5 * neg)).sum(axis=1)
        return np.divide(hits, n_pos * n_neg, out=np.full(len(w), np.nan), where=n_pos * n_neg > 0)
    # Average precision as scikit-learn's: sum over thresholds of (R_k - R_k-1) P_k.
    tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=tp + fp > 0)
    return np.divide(
        (pos * precision).sum(axis=1), n_pos, out=np.full(len(w), np.nan), where=n_pos > 0
    )


BOOTSTRAPPABLE = (*COUNT_METRICS, "brier", "log_loss", "roc_auc", "average_precision")


def bootstrap(
    models: list[dict[str, np.ndarray]],
    metric: str,
    opponents: list[dict[str, np.ndarray]] | None = None,
    replicates: int = REPLICATES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Estimate:
    """Percentile bootstrap over test rows and model seeds.

    ``models``: one dict per seed (``y``, ``score``, ``pred``) on the same test rows in the same
    order. With ``opponents`` (the other method at the same seeds, same rows) the estimate is
    the mean difference, both sides resampled with the same rows and seeds, and ``p`` is the
    two-sided bootstrap p-value of no difference.
    """
    if not models or metric not in BOOTSTRAPPABLE:
        return NAN
    y = models[0]["y"]
    n, k = len(y), len(models)
    for m in [*models, *(opponents or [])]:
        if len(m["y"]) != n or not np.array_equal(m["y"], y):
            raise ValueError("bootstrap: every model must predict the same test rows")

    ones = np.ones((1, n))
    point = np.array([weighted_scores(ones, y, m["pred"], m["score"], metric)[0] for m in models])
    if opponents is not None:
        point -= [weighted_scores(ones, y, m["pred"], m["score"], metric)[0] for m in opponents]
    center = float(np.mean(point))
    v = np.column_stack([_replicates(m, metric, replicates, seed) for m in models])
    if opponents is not None:
        v = v - np.column_stack([_replicates(m, metric, replicates, seed) for m in opponents])
    pick = np.random.default_rng([seed, 1]).integers(0, k, size=(replicates, k))  # the seeds
    r = np.take_along_axis(v, pick, axis=1).mean(axis=1)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return Estimate(center, math.nan, math.nan, math.nan, n, BOOTSTRAP)
    lo, hi = np.quantile(r, [0.5 - confidence / 2, 0.5 + confidence / 2])
    p = math.nan
    if opponents is not None:
        tail = min((r <= 0).sum(), (r >= 0).sum())
        p = min(1.0, 2 * (tail + 1) / (r.size + 1))
    return Estimate(center, float(lo), float(hi), p, n, BOOTSTRAP)


def _replicates(model: dict, metric: str, replicates: int, seed: int) -> np.ndarray:
    """One model's ``metric`` on each bootstrap resample of its test rows.

    Kept in the model's own dict: a model appears in its method's interval and in every pair
    it is part of, and the ranking metrics cost ~0.1 s a model on 2,000 rows.
    """
    memo = model.setdefault("_replicates", {})
    key = (metric, replicates, seed)
    if key not in memo:
        n = len(model["y"])
        block = max(1, _BLOCK_CELLS // max(n, 1))
        memo[key] = np.concatenate(
            [
                weighted_scores(
                    _resamples(n, min(block, replicates - start), seed, i),
                    model["y"],
                    model["pred"],
                    model["score"],
                    metric,
                )
                for i, start in enumerate(range(0, replicates, block))
            ]
        )
    return memo[key]


@functools.lru_cache(maxsize=8)
def _resamples(n: int, size: int, seed: int, block: int) -> np.ndarray:
    """Row counts of ``size`` bootstrap resamples of ``n`` rows (block ``block`` of a seed's
    stream). The same for every method and metric on the same test rows, so all of a table's
    intervals and paired tests resample the same rows; kept, since drawing them is most of a
    small bootstrap's time. Read-only: shared between calls."""
    w = np.random.default_rng([seed, 0, block]).multinomial(n, np.full(n, 1.0 / n), size=size)
    w = w.astype(float)
    w.flags.writeable = False
    return w


def read_predictions(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob)) as z:
        return {k: z[k] for k in ("y", "score", "pred")}


def write_predictions(y, score, pred) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        y=np.asarray(y, np.int8),
        score=np.asarray(score, float),
        pred=np.asarray(pred, np.int8),
    )
    return buf.getvalue()


# ---------------------------------------------------------------------------- per group


def estimate(
    units: pd.DataFrame,
    metric: str,
    predictions: dict[str, dict[str, np.ndarray]] | None = None,
    confidence: float = CONFIDENCE,
    repeats: pd.DataFrame | None = None,
) -> Estimate:
    """One method's ``metric`` on one dataset: mean over seeds (repeats) and its interval
    (clipped to what the metric can be: a t-interval of an F1 near 1 can pass 1).

    ``units``: the method's unit rows (one per run: folds or seeds); ``predictions`` maps run
    ids to their test predictions (needed for the fixed split's bootstrap); ``repeats``: the
    units' :func:`imbsweep.pooling.repeat_rows` when the caller has them.
    """
    from imbsweep.pooling import repeat_rows

    if metric not in units:
        return NAN
    kind = protocol(units)
    reps = repeat_rows(units) if repeats is None else repeats
    center = float(reps[metric].astype(float).mean())
    if kind == "fixed":
        models = _models(units, predictions)
        if models is not None and metric in BOOTSTRAPPABLE:
            return bootstrap(models, metric, confidence=confidence)
        return _within(corrected_t(units[metric], center, 0.0, SEEDS_ONLY, confidence), metric)
    ratio, method = correction(units)
    return _within(corrected_t(units[metric], center, ratio, method, confidence), metric)


# What a metric can be: a t-interval past these bounds only claims values that cannot occur.
_BOUNDS = {
    "mcc": (-1.0, 1.0),
    "log_loss": (0.0, math.inf),
    "log_loss_prior_corrected": (0.0, math.inf),
}


def _within(est: Estimate, metric: str) -> Estimate:
    lo, hi = _BOUNDS.get(metric, (0.0, 1.0))
    if not np.isfinite(est.low):
        return est
    return Estimate(est.mean, max(est.low, lo), min(est.high, hi), est.p, est.n, est.method)


def paired(
    a: pd.DataFrame,
    b: pd.DataFrame,
    metric: str,
    predictions: dict[str, dict[str, np.ndarray]] | None = None,
    confidence: float = CONFIDENCE,
    repeats: tuple[pd.Series, pd.Series] | None = None,
) -> Estimate:
    """``a`` minus ``b`` on the units both ran (same seed, same fold: the same test rows).

    ``repeats``: both sides' per-seed values of ``metric`` (:func:`imbsweep.pooling.repeat_rows`,
    indexed by seed) when the caller has them: pooling is most of this function's time.
    """
    from imbsweep.pooling import repeat_rows

    kind = protocol(a)
    keys = ["seed", "fold"] if kind == "kfold" else ["seed"]
    # The units both ran with a value, in the same (seed, fold) order on both sides.
    a, b = (x[x[metric].notna()] if metric in x else x.iloc[:0] for x in (a, b))
    both = a[keys].merge(b[keys], on=keys)
    a, b = (x.merge(both, on=keys).sort_values(keys, kind="stable") for x in (a, b))
    if kind == "fixed":
        ma, mb = _models(a, predictions), _models(b, predictions)
        if ma is not None and mb is not None and metric in BOOTSTRAPPABLE:
            return bootstrap(ma, metric, opponents=mb, confidence=confidence)
    if len(a) < 2:
        return Estimate(math.nan, math.nan, math.nan, math.nan, len(a), "")
    d = a[metric].to_numpy(float) - b[metric].to_numpy(float)
    if kind == "fixed":
        return corrected_t(d, float(d.mean()), 0.0, SEEDS_ONLY, confidence)
    # The centre: each repeat pooled from its folds, then the difference (k-fold); else the
    # mean difference.
    if repeats is None:
        repeats = tuple(repeat_rows(x).set_index("seed")[metric] for x in (a, b))
    ra, rb = (r.astype(float) for r in repeats)
    ratio, method = correction(pd.concat([a, b]))
    return corrected_t(d, float((ra - rb).mean()), ratio, method, confidence)


def _models(units: pd.DataFrame, predictions) -> list[dict[str, np.ndarray]] | None:
    """The units' test predictions in seed order, or None if any is missing."""
    if not predictions or "run_id" not in units:
        return None
    ordered = units.sort_values("seed", kind="stable")["run_id"]
    out = [predictions.get(r) for r in ordered]
    return None if any(m is None for m in out) else out
