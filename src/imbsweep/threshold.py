"""Decision thresholds tuned on validation rows only.

:func:`tune_threshold` sees nothing but the validation labels and the model's scores for those
same rows: it cannot read training or test rows, so a tuned threshold never leaks the test set.
The rule it tunes for is the one every prediction uses: positive iff ``score > threshold``.
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
