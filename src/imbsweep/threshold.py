"""Decision thresholds tuned on validation rows or on out-of-fold scores of the training rows.

:func:`tune_threshold` sees nothing but the labels and the model's scores of the rows it is given:
validation rows (``split.validation_size > 0``), or, with ``method.threshold_cv = k >= 2``, every
training row scored by a model fitted on the other k-1 folds (:func:`oof_threshold`, the approach
of scikit-learn's ``TunedThresholdClassifierCV``, applied to the whole method: sampler included).
Test rows are never seen. The rule it tunes for is the one every prediction uses: positive iff
``score > threshold``; :func:`with_threshold` puts that rule into a logged scikit-learn model.
"""

from __future__ import annotations

import numpy as np

# Metrics a threshold can be tuned for: they depend on the predicted labels and are not
# trivially maximised by an extreme threshold (minority_recall would pick "all positive",
# minority_precision a threshold that keeps a handful of rows). ROC-AUC and average precision do
# not depend on the threshold at all.
TUNABLE_METRICS = ("minority_f1", "balanced_accuracy", "accuracy")


def candidate_thresholds(score: np.ndarray) -> np.ndarray:
    """Every distinct decision on these scores, once: midpoints between consecutive distinct
    scores, plus one threshold below the lowest score (all positive) and the highest score
    (all negative)."""
    u = np.unique(np.asarray(score, dtype=np.float64))
    mids = (u[:-1] + u[1:]) / 2.0
    return np.concatenate([[np.nextafter(u[0], -np.inf)], mids, [u[-1]]])


def metric_at(y: np.ndarray, score: np.ndarray, thresholds: np.ndarray, metric: str) -> np.ndarray:
    """``metric`` of the predictions ``score > t`` for each ``t`` in ``thresholds``, vectorised."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    pos, neg = np.sort(s[y]), np.sort(s[~y])
    n_pos, n_neg = len(pos), len(neg)
    tp = n_pos - np.searchsorted(pos, thresholds, side="right")
    fp = n_neg - np.searchsorted(neg, thresholds, side="right")
    fn, tn = n_pos - tp, n_neg - fp
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "minority_f1":
            out = np.where(tp > 0, 2.0 * tp / (2.0 * tp + fp + fn), 0.0)
        elif metric == "balanced_accuracy":
            out = (tp / max(n_pos, 1) + tn / max(n_neg, 1)) / 2.0
        elif metric == "accuracy":
            out = (tp + tn) / max(n_pos + n_neg, 1)
        else:
            raise ValueError(f"threshold metric {metric!r}: expected one of {TUNABLE_METRICS}")
    return np.asarray(out, dtype=np.float64)


def tune_threshold(y_val: np.ndarray, score_val: np.ndarray, metric: str) -> tuple[float, float]:
    """The threshold that maximises ``metric`` on the validation rows, and that best value.

    Ties (a plateau of equally good thresholds) go to the threshold closest to 0.5, the
    untuned default, so a flat metric does not drag the threshold to an extreme.
    """
    y_val = np.asarray(y_val)
    if len(y_val) != len(score_val):
        raise ValueError(f"{len(y_val)} labels but {len(score_val)} scores")
    if y_val.sum() == 0 or y_val.sum() == len(y_val):
        raise ValueError("the validation rows need both classes to tune a threshold")
    t = candidate_thresholds(score_val)
    vals = metric_at(y_val, score_val, t, metric)
    best = vals.max()
    tied = np.flatnonzero(np.isclose(vals, best, rtol=0, atol=1e-12))
    i = tied[np.argmin(np.abs(t[tied] - 0.5))]
    return float(t[i]), float(best)


def oof_threshold(
    method_cfg: dict,
    ds,
    rows: np.ndarray,
    seed: int,
    standardize: bool,
    folds: int,
    metric: str,
) -> tuple[float, float]:
    """The threshold that maximises ``metric`` on out-of-fold scores of ``rows`` (training rows).

    Each of ``folds`` stratified folds is scored by the method (sampler and model) fitted on the
    other folds; the pooled scores pick the threshold. Folds are capped at the number of minority
    rows, so every fold holds one. Returns ``(threshold, best value)``.
    """
    from sklearn.model_selection import StratifiedKFold

    from imbsweep.methods import SkipMethod, fit_method

    y = ds.y[rows]
    k = min(int(folds), int(y.sum()), int((y == 0).sum()))
    if k < 2:
        raise SkipMethod(f"{int(y.sum())} minority training row(s): too few for {folds} folds")
    cfg = {**method_cfg, "threshold": 0.5}
    scores = np.empty(len(rows), dtype=np.float64)
    cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for fit_idx, held_idx in cv.split(rows, y):
        fitted = fit_method(cfg, ds, rows[fit_idx], seed, standardize=standardize)
        scores[held_idx] = fitted.score(ds.X.iloc[rows[held_idx]])
    return tune_threshold(y, scores, metric)


def with_threshold(estimator, threshold: float):
    """A fitted scikit-learn classifier whose ``predict`` applies ``score > threshold``.

    scikit-learn's ``FixedThresholdClassifier`` predicts ``score >= t``; the next float above our
    threshold gives the same rule as ours. Its ``predict_proba`` is the estimator's, unchanged.
    """
    from sklearn.model_selection import FixedThresholdClassifier

    t = float(np.nextafter(float(threshold), np.inf))
    return FixedThresholdClassifier(estimator, threshold=t, response_method="predict_proba")
