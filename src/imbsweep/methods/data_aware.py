"""The values of a sampler or model that depend on the training rows it will see.

Component files (``samplers/*.yaml``, ``models/*.yaml``) call these as OmegaConf resolvers, e.g.
``k_neighbors: ${minority_k:k_neighbors}``. Each reads the method key it is given from
``_root_.method`` and the labels from :data:`ROWS` (set by
:meth:`imbsweep.methods.components.Component.build`). :data:`READS` says which method keys each
one reads, so that those keys are logged as the component's parameters.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from imbsweep.errors import SkipMethod

log = logging.getLogger("imbsweep.methods")


def need_minority(n_min: int, need: int, what: str) -> None:
    if n_min < need:
        raise SkipMethod(f"{n_min} minority row(s) in training: at least {need} needed for {what}")


def practical_class_weight(y: np.ndarray, scale: float = 1.0) -> dict[int, float]:
    """The practical's w_c = N / (2 n_c), with the minority weight multiplied by ``scale``.

    With ``scale=1`` it is scikit-learn's ``class_weight="balanced"`` for two classes.
    """
    n = len(y)
    n1 = int(y.sum())
    n0 = n - n1
    return {0: n / (2.0 * n0), 1: n / (2.0 * n1) * float(scale)}


def class_weight(cfg: dict, y_fit: np.ndarray) -> dict[int, float] | None:
    """The practical's weights with ``class_weight=balanced``, else None (unweighted)."""
    if cfg["class_weight"] == "balanced":
        return practical_class_weight(y_fit, cfg["weight_scale"])
    return None


def checked_ratio(cfg: dict, n_min: int, n_maj: int, what: str) -> Any:
    """``sampling_strategy``; a float is the minority/majority ratio after resampling and cannot
    be below the training rows' ratio (that would need fewer minority or more majority rows).

    That is a value the user chose that this data cannot honour: the job fails with a ValueError
    naming the key and the smallest ratio that works (a sweep's other jobs go on). It is not a
    :class:`SkipMethod`, which would quietly turn a config mistake into skipped seeds.
    """
    s = cfg["sampling_strategy"]
    if isinstance(s, int | float):
        s = float(s)
        if n_maj and s < n_min / n_maj:
            raise ValueError(
                f"method.sampling_strategy={s:g} is below the training rows' minority/majority "
                f"ratio {n_min}/{n_maj} = {n_min / n_maj:.3f}: {what} cannot reach it. "
                f"Use a ratio >= {n_min / n_maj:.3f} or 'auto'"
            )
    return s


def under_sampled_counts(strategy: Any, n_min: int, n_maj: int) -> tuple[int | float, int]:
    """(majority, minority) rows an under-sampling model's own balancing leaves of each class,
    as imbalanced-learn's under-samplers read ``sampling_strategy`` on two classes: a ratio r
    keeps n_min / r majority rows; 'not majority' resamples only the minority (to its own count,
    so nothing changes); every other word cuts the majority to the minority's count."""
    if isinstance(strategy, int | float) and not isinstance(strategy, bool):
        return n_min / float(strategy), n_min
    if strategy == "not majority":
        return n_maj, n_min
    return n_min, n_min


def minority_k(cfg: dict, n_min: int, key: str, extra: int = 1) -> int:
    """Neighbour counts fitted on the minority rows need ``k + extra`` of them (SMOTE-like: the
    row itself + k); shrink k on tiny minorities and say so. The k used is logged."""
    k = int(cfg[key])
    need_minority(n_min, 1 + extra, key)
    if k + extra > n_min:
        log.warning(
            "%s=%d needs %d minority rows, training has %d: using %d",
            key,
            k,
            k + extra,
            n_min,
            n_min - extra,
        )
        return n_min - extra
    return k


@dataclass(frozen=True)
class Rows:
    """The labels a component will be fitted on, and their counts."""

    y: np.ndarray
    n_min: int
    n_maj: int
    n_rows: int

    @classmethod
    def of(cls, y: np.ndarray) -> Rows:
        y = np.asarray(y)
        n_min = int(y.sum())
        return cls(y, n_min, int((y == 0).sum()), len(y))


# The rows of the component being built (set by Component.build around its resolution).
ROWS: ContextVar[Rows] = ContextVar("rows")

# Resolver name -> (function of (method config, rows, *args), the method keys it reads; None:
# the key named by its first argument).
RESOLVERS: dict[str, tuple[Any, tuple[str, ...] | None]] = {
    # ${ratio:over-sampling}: sampling_strategy, checked against the training rows' ratio
    "ratio": (lambda m, r, what: checked_ratio(m, r.n_min, r.n_maj, what), ("sampling_strategy",)),
    # ${minority_k:k_neighbors[,extra]}: k shrunk to the minority rows there are
    "minority_k": (lambda m, r, key, extra=1: minority_k(m, r.n_min, key, int(extra)), None),
    # ${rows_cap:m_neighbors[,spare]}: at most the training rows minus spare (fitted on all rows)
    "rows_cap": (lambda m, r, key, spare=1: min(int(m[key]), r.n_rows - int(spare)), None),
    # ${class_weight:}: the practical's weights or None
    "class_weight": (lambda m, r: class_weight(m, r.y), ("class_weight", "weight_scale")),
    # ${pos_weight:}: the same weights as one ratio w_1 / w_0 (boosting's scale_pos_weight)
    "pos_weight": (lambda m, r: _pos_weight(m, r.y), ("class_weight", "weight_scale")),
    # ${needs_minority:2,what}: the minority count, or the seed is skipped below it
    "needs_minority": (lambda m, r, n, what: _needs(r.n_min, int(n), what), ()),
    # ${class_folds:k,what}: k stratified folds, fewer on a small class; skipped below 2
    "class_folds": (lambda m, r, k, what: _folds(min(r.n_min, r.n_maj), int(k), what), ()),
    # ${minority_folds:k}: between 2 and k folds, no more than the minority rows
    "minority_folds": (lambda m, r, k: max(2, min(int(k), r.n_min)), ()),
}


def _pos_weight(cfg: dict, y_fit: np.ndarray) -> float:
    w = class_weight(cfg, y_fit)
    return 1.0 if w is None else w[1] / w[0]


def _needs(n_min: int, need: int, what: str) -> int:
    need_minority(n_min, need, what)
    return n_min


def _folds(n_small: int, k: int, what: str) -> int:
    need_minority(n_small, 2, what)
    return min(k, n_small)


class _Resolver:
    """One of :data:`RESOLVERS`, picklable by name: Hydra ships the registered resolvers to
    launcher workers (Dask, joblib), and a closure over :data:`ROWS` (a ContextVar) cannot go."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, *args: Any, _root_: Any) -> Any:
        return RESOLVERS[self.name][0](_root_.method, ROWS.get(), *args)


def _register() -> None:
    for name in RESOLVERS:
        OmegaConf.register_new_resolver(name, _Resolver(name), replace=True)


_register()
READS = {name: keys for name, (_, keys) in RESOLVERS.items()}
