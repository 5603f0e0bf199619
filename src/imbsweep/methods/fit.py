"""Fitting a method on the training rows: preprocessing, the sampler, the model, the threshold."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from imbsweep.datasets.base import Dataset
from imbsweep.errors import ConfigError, SkipMethod
from imbsweep.methods.components import MODELS, SAMPLERS
from imbsweep.methods.data_aware import class_weight, under_sampled_counts
from imbsweep.methods.pairing import check_method_data
from imbsweep.methods.preprocessing import build_preprocessor, resample_mixed
from imbsweep.threshold import tune_threshold


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
    # Distributions the logged model needs beyond scikit-learn and imbalanced-learn.
    packages: tuple[str, ...] = ()

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


def fit_method(
    cfg: dict,
    ds: Dataset,
    train: np.ndarray,
    seed: int,
    standardize: bool = False,
    validation: np.ndarray | None = None,
) -> FittedMethod:
    """Fit preprocessing and the sampler on the training rows only, then the model.

    ``validation`` rows are used for one thing only: with ``threshold=tuned`` the threshold is
    chosen on their scores and labels (:func:`imbsweep.threshold.tune_threshold`). Test rows are
    never passed in.
    """
    check_method_data(cfg, ds)
    X_tr, y_tr = ds.X.iloc[train], ds.y[train]
    counts_before = _counts(y_tr)
    if counts_before[1] == 0:
        raise SkipMethod("no minority row in the training split")
    t0 = time.perf_counter()
    pre = build_preprocessor(ds, standardize)
    sampler_comp = SAMPLERS[cfg["sampler"]]
    info: dict[str, Any] = {}
    if sampler_comp.needs_categorical:
        pre.fit(X_tr)
        Xa, y_fit, sinfo = resample_mixed(sampler_comp, cfg, ds, X_tr, y_tr, pre, seed)
        info.update(sinfo)
    else:
        Xa = (
            X_tr.to_numpy(dtype=np.float32)
            if pre is None
            else np.asarray(pre.fit_transform(X_tr), dtype=np.float32)
        )
        sampler, sinfo = sampler_comp.build(cfg, seed, y_tr, ())
        info.update(sinfo)
        if sampler is not None:
            try:
                Xa, y_fit = sampler.fit_resample(Xa, y_tr)
            except RuntimeError as exc:
                # ADASYN: "Not any neigbours belong to the majority class" (nothing to weigh);
                # KMeans-SMOTE: "No clusters found with sufficient samples ...".
                raise SkipMethod(f"{cfg['sampler']}: {exc}") from exc
            # Figures the sampler measured while fitting (a GAN's losses, its fidelity).
            info.update(getattr(sampler, "info_", {}))
        else:
            y_fit = y_tr
    if len(np.unique(y_fit)) < 2:
        raise SkipMethod(f"{cfg['sampler']} left a single class in the training rows")
    model_comp = MODELS[cfg["model"]]
    model = model_comp.build(cfg, seed, y_fit)
    weights = class_weight(cfg, y_fit) if model_comp.sample_weighted else None
    if weights is None:
        model.fit(Xa, y_fit)
    else:
        model.fit(Xa, y_fit, sample_weight=np.where(y_fit == 1, weights[1], weights[0]))
    fit_seconds = time.perf_counter() - t0
    # The minority share the model was fitted on (resampled rows, class_weight=balanced, which
    # every model with class weights applies, and a model's own under-sampling: BRF's balanced
    # bootstraps): scores estimate P(minority) under this prior, not the data's
    # (evaluation.prior_corrected).
    cw = class_weight(cfg, y_fit)
    w0, w1 = (cw[0], cw[1]) if cw is not None else (1.0, 1.0)
    n0, n1 = int((y_fit == 0).sum()), int((y_fit == 1).sum())
    if model_comp.resamples_internally and "sampling_strategy" in model_comp.keys:
        n0, n1 = under_sampled_counts(cfg["sampling_strategy"], n1, n0)
    info["fit_prior"] = w1 * n1 / (w1 * n1 + w0 * n0)
    for attr, key in (("epochs_run_", "epochs_run"), ("passes_", "passes")):
        if getattr(model, attr, None) is not None:  # the net's budget as it ran
            info[key] = getattr(model, attr)
    fitted = FittedMethod(
        preprocessor=pre,
        model=model,
        threshold=0.5,
        counts_before=counts_before,
        counts_after=_counts(y_fit),
        fit_seconds=fit_seconds,
        info=info,
        packages=model_comp.packages,
    )
    if cfg["threshold"] == "tuned":
        metric = cfg["threshold_metric"]
        fitted.threshold, best = _tuned_threshold(fitted, ds, train, validation, metric)
        info["threshold_val_score"] = best
    else:
        fitted.threshold = float(cfg["threshold"])
    return fitted


def _tuned_threshold(fitted, ds, train, validation, metric) -> tuple[float, float]:
    """Score the validation rows and tune on them alone (labels and scores of those rows)."""
    if validation is None or len(validation) == 0:
        raise ConfigError(
            "split.validation_size",
            0,
            "a fraction > 0 with method.threshold=tuned",
            "the threshold is tuned on validation rows, never on the test set",
        )
    if np.intersect1d(train, validation).size:
        raise ValueError("validation rows overlap the training rows")
    yv = ds.y[validation]
    if yv.sum() == 0 or yv.sum() == len(yv):
        raise SkipMethod("the validation rows hold a single class: no threshold to tune")
    return tune_threshold(yv, fitted.score(ds.X.iloc[validation]), metric)


def _counts(y: np.ndarray) -> dict[int, int]:
    return {0: int((y == 0).sum()), 1: int((y == 1).sum())}
