"""Remedies: a sampler (applied to the training rows only) paired with a model and a threshold.

A method config is flat (``method.k_neighbors``, ``method.epochs``, ...) so that any key can be
overridden or tuned by name. Each sampler and model declares which keys it reads; only those are
logged as the method's parameters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from imbsweep.data import Dataset
from imbsweep.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Component:
    """A sampler or model: the config keys it reads and how to build it."""

    name: str
    keys: tuple[str, ...]
    build: Callable[..., Any]
    resamples_internally: bool = False
    probabilistic: bool = True


SAMPLERS: dict[str, Component] = {}
MODELS: dict[str, Component] = {}


def _sampler(name: str, keys: tuple[str, ...] = ()):
    def deco(fn):
        SAMPLERS[name] = Component(name, keys, fn)
        return fn

    return deco


def _model(name: str, keys: tuple[str, ...] = (), **kw):
    def deco(fn):
        MODELS[name] = Component(name, keys, fn, **kw)
        return fn

    return deco


# ---------------------------------------------------------------- samplers (imbalanced-learn)


def _effective_k(cfg: dict, n_min: int, key: str = "k_neighbors") -> int:
    """SMOTE-like samplers need k + 1 minority rows; shrink k on tiny minorities and say so."""
    k = int(cfg[key])
    if n_min < 2:
        raise SkipMethod(f"{n_min} minority row(s) in training: at least 2 needed to interpolate")
    if k >= n_min:
        log.warning(
            "%s=%d needs %d minority rows, training has %d: using %d",
            key,
            k,
            k + 1,
            n_min,
            n_min - 1,
        )
        return n_min - 1
    return k


def _strategy(cfg: dict) -> Any:
    s = cfg.get("sampling_strategy", "auto")
    return float(s) if isinstance(s, int | float) else s


@_sampler("none")
def _none(cfg, seed, n_min):
    return None


@_sampler("smote", ("k_neighbors", "sampling_strategy"))
def _smote(cfg, seed, n_min):
    from imblearn.over_sampling import SMOTE

    k = _effective_k(cfg, n_min)
    return SMOTE(k_neighbors=k, sampling_strategy=_strategy(cfg), random_state=seed), {"k_used": k}


class SkipMethod(Exception):
    """The method cannot apply to this data (e.g. too few minority rows); recorded, not fatal."""


# ---------------------------------------------------------------- models


def practical_class_weight(y: np.ndarray, scale: float = 1.0) -> dict[int, float]:
    """The practical's w_c = N / (2 n_c), with the minority weight multiplied by ``scale``."""
    n = len(y)
    n1 = int(y.sum())
    n0 = n - n1
    return {0: n / (2.0 * n0), 1: n / (2.0 * n1) * float(scale)}


@_model("majority", probabilistic=True)
def _majority(cfg, seed, y_train):
    from sklearn.dummy import DummyClassifier

    return DummyClassifier(strategy="most_frequent")


@_model(
    "brf",
    ("n_estimators", "sampling_strategy", "replacement", "bootstrap"),
    resamples_internally=True,
)
def _brf(cfg, seed, y_train):
    from imblearn.ensemble import BalancedRandomForestClassifier

    return BalancedRandomForestClassifier(
        n_estimators=int(cfg["n_estimators"]),
        sampling_strategy=_strategy(cfg),
        replacement=bool(cfg["replacement"]),
        bootstrap=bool(cfg["bootstrap"]),
        random_state=seed,
        n_jobs=int(cfg.get("n_jobs", 1)),
    )


@_model(
    "mlp",
    (
        "hidden_units",
        "epochs",
        "batch_size",
        "learning_rate",
        "class_weight",
        "weight_scale",
        "steps_per_execution",
    ),
)
def _mlp(cfg, seed, y_train):
    from imbsweep.keras_model import KerasMLP

    return KerasMLP(
        hidden_units=int(cfg["hidden_units"]),
        epochs=int(cfg["epochs"]),
        batch_size=int(cfg["batch_size"]),
        learning_rate=float(cfg["learning_rate"]),
        steps_per_execution=int(cfg.get("steps_per_execution", 1)),
        seed=seed,
        class_weight=(
            practical_class_weight(y_train, cfg["weight_scale"])
            if cfg.get("class_weight", "none") == "balanced"
            else None
        ),
    )


# ---------------------------------------------------------------- a method = sampler + model


@dataclass
class FittedMethod:
    """What a seed run produced: the fitted pieces and the facts worth logging."""

    preprocessor: Any
    model: Any
    threshold: float
    counts_before: dict[int, int]
    counts_after: dict[int, int]
    fit_seconds: float
    info: dict[str, Any] = field(default_factory=dict)

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        if self.preprocessor is None:
            return X.to_numpy(dtype=np.float32)
        return np.asarray(self.preprocessor.transform(X), dtype=np.float32)

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of the positive (minority) class."""
        return np.asarray(self.model.predict_proba(self.transform(X)))[:, 1]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        # Strictly greater, as the practical's `model.predict(X) > 0.5`.
        return (self.score(X) > self.threshold).astype(np.int64)


def method_keys(cfg: dict) -> tuple[str, ...]:
    """The config keys this method actually reads (its loggable parameters)."""
    keys = ["name", "sampler", "model", "threshold"]
    for comp in (SAMPLERS.get(cfg.get("sampler")), MODELS.get(cfg.get("model"))):
        if comp is not None:
            keys += [k for k in comp.keys if k not in keys]
    return tuple(keys)


def check_method(cfg: dict) -> None:
    """Reject a sampler/model pairing that makes no sense, before anything runs."""
    if cfg.get("sampler") not in SAMPLERS:
        raise ConfigError("method.sampler", cfg.get("sampler"), f"one of {sorted(SAMPLERS)}")
    if cfg.get("model") not in MODELS:
        raise ConfigError("method.model", cfg.get("model"), f"one of {sorted(MODELS)}")
    if cfg["sampler"] != "none" and MODELS[cfg["model"]].resamples_internally:
        raise ConfigError(
            "method.sampler",
            cfg["sampler"],
            "none",
            f"model '{cfg['model']}' resamples internally; a second sampler in front of it "
            "would resample twice. Set method.sampler=none or choose another model",
        )


def build_preprocessor(ds: Dataset, standardize: bool):
    """One-hot for categorical columns, optional scaling for numeric ones; None = identity."""
    numeric = [c for c in ds.X.columns if c not in ds.categorical]
    if not ds.categorical and not standardize:
        return None
    parts = []
    if numeric:
        parts.append(("num", StandardScaler() if standardize else "passthrough", numeric))
    if ds.categorical:
        enc = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        parts.append(("cat", enc, list(ds.categorical)))
    return ColumnTransformer(parts, sparse_threshold=0.0)


def fit_method(
    cfg: dict, ds: Dataset, train: np.ndarray, seed: int, standardize: bool = False
) -> FittedMethod:
    """Fit preprocessing and the sampler on the training rows only, then the model."""
    X_tr, y_tr = ds.X.iloc[train], ds.y[train]
    counts_before = _counts(y_tr)
    t0 = time.perf_counter()
    pre = build_preprocessor(ds, standardize)
    Xa = (
        X_tr.to_numpy(dtype=np.float32)
        if pre is None
        else np.asarray(pre.fit_transform(X_tr), dtype=np.float32)
    )
    info: dict[str, Any] = {}
    built = SAMPLERS[cfg["sampler"]].build(cfg, seed, int(y_tr.sum()))
    sampler, sinfo = built if isinstance(built, tuple) else (built, {})
    info.update(sinfo)
    if sampler is not None:
        Xa, y_fit = sampler.fit_resample(Xa, y_tr)
    else:
        y_fit = y_tr
    model = MODELS[cfg["model"]].build(cfg, seed, y_fit)
    model.fit(Xa, y_fit)
    fit_seconds = time.perf_counter() - t0
    return FittedMethod(
        preprocessor=pre,
        model=model,
        threshold=float(cfg.get("threshold", 0.5)),
        counts_before=counts_before,
        counts_after=_counts(y_fit),
        fit_seconds=fit_seconds,
        info=info,
    )


def _counts(y: np.ndarray) -> dict[int, int]:
    return {0: int((y == 0).sum()), 1: int((y == 1).sum())}
