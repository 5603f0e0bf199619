"""Metrics of one seed run: the minority class's precision/recall/F1, threshold-free scores and
the calibration of the predicted probabilities (Brier score, log-loss, reliability-diagram data).

Names are stable (they are MLflow metric keys); see the README's "Names" section.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    classification_report,
    confusion_matrix,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
)

# The metrics every seed run logs, in display order.
METRICS = (
    "minority_precision",
    "minority_recall",
    "minority_f1",
    "accuracy",
    "balanced_accuracy",
    "roc_auc",
    "average_precision",
)
# Also logged by every seed run; lower is better, so they are not objectives or tie-breakers.
# Remedies shift the predicted probabilities: these say how far from calibrated they are.
CALIBRATION_METRICS = ("brier", "log_loss")
# Every key evaluate() returns, in order.
EVALUATED = (*METRICS, *CALIBRATION_METRICS, "predicted_positives")


def evaluate(y_true: np.ndarray, y_pred: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """Minority-class (label 1) metrics from sklearn's report, plus ROC-AUC and PR-AUC."""
    rep = report_dict(y_true, y_pred)
    out = {
        "minority_precision": rep["1"]["precision"],
        "minority_recall": rep["1"]["recall"],
        "minority_f1": rep["1"]["f1-score"],
        "accuracy": rep["accuracy"],
        "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
        "roc_auc": roc_auc_score(y_true, score),
        "average_precision": average_precision_score(y_true, score),
        "brier": brier_score_loss(y_true, score),
        # Probabilities clipped to [1e-15, 1 - 1e-15]: a constant 0 score (the majority baseline)
        # gets a large but finite loss.
        "log_loss": log_loss(y_true, np.clip(score, 1e-15, 1 - 1e-15), labels=[0, 1]),
        # 0 means the model never predicted the minority class on these rows.
        "predicted_positives": int(np.sum(y_pred == 1)),
    }
    return {k: float(v) for k, v in out.items()}


def reliability(y_true, score, n_bins: int = 10) -> dict[str, list]:
    """Reliability-diagram data in ``n_bins`` equal-width bins of the predicted probability.

    Per bin: row count, sum of predicted probabilities and count of positives, so bins of many
    seed runs add up before dividing (``mean_score = score_sum / count``).
    """
    s = np.clip(np.asarray(score, dtype=float), 0.0, 1.0)
    y = np.asarray(y_true).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    b = np.clip(np.digitize(s, edges[1:-1], right=True), 0, n_bins - 1)
    return {
        "edges": edges.tolist(),
        "count": np.bincount(b, minlength=n_bins).astype(int).tolist(),
        "score_sum": np.bincount(b, weights=s, minlength=n_bins).tolist(),
        "positives": np.bincount(b, weights=y, minlength=n_bins).astype(int).tolist(),
    }


def pr_curve(y_true, score, n_points: int = 101) -> dict[str, list]:
    """Precision-recall curve on a fixed recall grid, so the curves of many seeds average.

    Interpolated precision (the best precision at recall >= r), as in PASCAL VOC: the envelope
    of sklearn's curve, ~2 kB per run whatever the number of test rows.
    """
    precision, recall, _ = precision_recall_curve(np.asarray(y_true), np.asarray(score))
    order = np.argsort(recall, kind="stable")
    r, p = recall[order], precision[order]
    envelope = np.maximum.accumulate(p[::-1])[::-1]
    grid = np.linspace(0.0, 1.0, n_points)
    idx = np.searchsorted(r, grid, side="left")
    prec = np.where(idx < len(r), envelope[np.minimum(idx, len(r) - 1)], 0.0)
    return {"recall": grid.round(4).tolist(), "precision": prec.round(4).tolist()}


def report_dict(y_true, y_pred) -> dict:
    # zero_division=0: the naive baseline predicts no positives; its precision is 0, not a warning.
    return classification_report(y_true, y_pred, labels=[0, 1], output_dict=True, zero_division=0)


def report_text(y_true, y_pred) -> str:
    return classification_report(y_true, y_pred, labels=[0, 1], digits=4, zero_division=0)


def confusion(y_true, y_pred) -> np.ndarray:
    """Rows: true class 0, 1; columns: predicted class 0, 1."""
    return confusion_matrix(y_true, y_pred, labels=[0, 1])
