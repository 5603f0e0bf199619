"""Metrics of one unit run: the minority class's precision/recall/F1, MCC and G-mean,
threshold-free scores, the calibration of the predicted probabilities (Brier score, log-loss,
reliability-diagram data) and the confusion counts, from which a k-fold repeat's metrics are
pooled (:func:`count_metrics`).

Names are stable (they are MLflow metric keys); see docs/tracking.md, "Names".
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
    "mcc",
    "gmean",
)
# Functions of the confusion counts alone: a k-fold repeat's value is computed from its folds'
# summed counts (Forman & Scholz 2010), not averaged over folds.
COUNT_METRICS = (
    "minority_precision",
    "minority_recall",
    "minority_f1",
    "accuracy",
    "balanced_accuracy",
    "mcc",
    "gmean",
)
# The confusion counts every unit run logs (minority = positive).
COUNTS = ("test_tp", "test_fp", "test_fn", "test_tn")
# Also logged by every seed run; lower is better, so they are not objectives or tie-breakers.
# Remedies shift the predicted probabilities: these say how far from calibrated they are.
CALIBRATION_METRICS = ("brier", "log_loss")
# Every key evaluate() returns, in order.
EVALUATED = (*METRICS, *CALIBRATION_METRICS, "predicted_positives", *COUNTS)


def evaluate(y_true: np.ndarray, y_pred: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """Minority-class (label 1) metrics from sklearn's report, plus ROC-AUC and PR-AUC."""
    rep = report_dict(y_true, y_pred)
    tn, fp, fn, tp = confusion(y_true, y_pred).ravel()
    from_counts = count_metrics(tp, fp, fn, tn)
    out = {
        "minority_precision": rep["1"]["precision"],
        "minority_recall": rep["1"]["recall"],
        "minority_f1": rep["1"]["f1-score"],
        "accuracy": rep["accuracy"],
        "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
        "roc_auc": roc_auc_score(y_true, score),
        "average_precision": average_precision_score(y_true, score),
        "mcc": from_counts["mcc"],
        "gmean": from_counts["gmean"],
        "brier": brier_score_loss(y_true, score),
        # Probabilities clipped to [1e-15, 1 - 1e-15]: a constant 0 score (the majority baseline)
        # gets a large but finite loss.
        "log_loss": log_loss(y_true, np.clip(score, 1e-15, 1 - 1e-15), labels=[0, 1]),
        # 0 means the model never predicted the minority class on these rows.
        "predicted_positives": int(np.sum(y_pred == 1)),
        **dict(zip(COUNTS, (tp, fp, fn, tn), strict=True)),
    }
    return {k: float(v) for k, v in out.items()}


def prior_corrected(score, prior: float, fit_prior: float) -> np.ndarray:
    """Probabilities of a model fitted at minority share ``fit_prior``, moved to ``prior``.

    Bayes' rule with the class-conditional densities unchanged (Saerens et al. 2002, Elkan
    2001): odds scale by (prior / (1 - prior)) / (fit_prior / (1 - fit_prior)). Resampling or
    class weights shift a model's probabilities toward the minority; this undoes that shift.
    """
    s = np.asarray(score, dtype=float)
    a, b = s * prior / fit_prior, (1 - s) * (1 - prior) / (1 - fit_prior)
    return np.divide(a, a + b, out=np.zeros_like(s), where=(a + b) > 0)


def calibration(y_true, score) -> dict[str, float]:
    """Brier score and log-loss (probabilities clipped to [1e-15, 1 - 1e-15])."""
    return {
        "brier": float(brier_score_loss(y_true, score)),
        "log_loss": float(log_loss(y_true, np.clip(score, 1e-15, 1 - 1e-15), labels=[0, 1])),
    }


def count_metrics(tp, fp, fn, tn) -> dict[str, np.ndarray | float]:
    """The :data:`COUNT_METRICS` from confusion counts (scalars or arrays of any shape).

    Conventions as scikit-learn's with ``zero_division=0``: a ratio with an empty denominator is
    0 (precision with no predicted positive, F1 with neither), MCC is 0 when a margin is empty.
    G-mean is sqrt(recall of class 1 x recall of class 0).
    """
    tp, fp, fn, tn = (np.asarray(v, dtype=float) for v in (tp, fp, fn, tn))

    def ratio(a, b):
        return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b > 0)

    recall, specificity = ratio(tp, tp + fn), ratio(tn, tn + fp)
    margins = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    out = {
        "minority_precision": ratio(tp, tp + fp),
        "minority_recall": recall,
        "minority_f1": ratio(2 * tp, 2 * tp + fp + fn),
        "accuracy": ratio(tp + tn, tp + fp + fn + tn),
        "balanced_accuracy": (recall + specificity) / 2,
        "mcc": ratio(tp * tn - fp * fn, np.sqrt(margins)),
        "gmean": np.sqrt(recall * specificity),
    }
    return {k: (float(v) if v.ndim == 0 else v) for k, v in out.items()}


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
