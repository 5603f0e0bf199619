"""Metrics of one seed run: the minority class's precision/recall/F1 and threshold-free scores.

Names are stable (they are MLflow metric keys); see the README's "Names" section.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    classification_report,
    confusion_matrix,
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
    }
    return {k: float(v) for k, v in out.items()}


def report_dict(y_true, y_pred) -> dict:
    # zero_division=0: the naive baseline predicts no positives; its precision is 0, not a warning.
    return classification_report(y_true, y_pred, labels=[0, 1], output_dict=True, zero_division=0)


def report_text(y_true, y_pred) -> str:
    return classification_report(y_true, y_pred, labels=[0, 1], digits=4, zero_division=0)


def confusion(y_true, y_pred) -> np.ndarray:
    """Rows: true class 0, 1; columns: predicted class 0, 1."""
    return confusion_matrix(y_true, y_pred, labels=[0, 1])
