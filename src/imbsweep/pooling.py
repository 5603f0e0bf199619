"""A k-fold repeat's metrics from its folds: one row per (job, seed) from one row per unit run.

Under ``split.protocol=kfold`` every row is a test row once per repeat, so the repeat has one
confusion matrix: its folds' counts added up. The count metrics (precision, recall, F1, MCC,
...) come from those pooled counts; averaging F1 over folds is biased when a fold holds few
minority rows (Forman & Scholz 2010, "Apples-to-apples in cross-validation studies"). The
threshold-free scores (ROC-AUC, average precision) are the mean over folds, each fold's model
ranking its own rows, as Forman & Scholz recommend for AUC; Brier score and log-loss are means
over rows, so the folds' values are weighted by their test rows.

Holdout rows (no ``fold`` column, or NaN folds) pass through unchanged: a seed is one unit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from imbsweep.evaluation import CALIBRATION_METRICS, COUNT_METRICS, COUNTS, count_metrics

# Summed over a repeat's folds: every row is tested once, so these count the whole data.
SUMMED = (*COUNTS, "test_class0", "test_class1", "predicted_positives")
SUMMED += ("test_dup_rows", "test_dup_minority")
# Means over rows: the folds' values weighted by their test rows.
ROW_WEIGHTED = (*CALIBRATION_METRICS, "brier_prior_corrected", "log_loss_prior_corrected")


def is_kfold(rows: pd.DataFrame) -> pd.Series:
    """Which unit rows are folds of a k-fold repeat."""
    if "fold" not in rows:
        return pd.Series(False, index=rows.index)
    return rows["fold"].notna()


def repeat_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per repeat (job, seed) for k-fold units; other rows unchanged, order kept.

    A repeat row carries the pooled metrics, ``n_folds`` and the first fold's run id and
    params (the folds of a repeat share their params).
    """
    kfold = is_kfold(rows)
    if not kfold.any():
        return rows
    keys = ["job_id", "seed"]
    folds = rows[kfold].assign(_pos=np.flatnonzero(kfold.to_numpy()))
    if "test_class0" in folds:
        folds["_rows"] = folds["test_class0"] + folds["test_class1"]
    numeric = [c for c in folds.columns if c not in keys and folds[c].dtype.kind in "fiu"]
    g = folds.groupby(keys, sort=False, dropna=False)
    out = g.first()  # params, labels, run id: shared by a repeat's folds (and the first _pos)
    out[numeric] = g[numeric].mean()
    out["_pos"] = g["_pos"].min()
    summed = [c for c in SUMMED if c in folds]
    if summed:
        out[summed] = g[summed].sum(min_count=1)
    for col in (c for c in ROW_WEIGHTED if c in folds and "_rows" in folds):
        w = folds["_rows"].where(folds[col].notna())
        part = folds.assign(_num=folds[col] * w, _den=w).groupby(keys, sort=False, dropna=False)
        out[col] = part["_num"].sum(min_count=1) / part["_den"].sum()
    if set(COUNTS) <= set(folds.columns):
        pooled = count_metrics(*(out[c].to_numpy(float) for c in COUNTS))
        for m in COUNT_METRICS:
            out[m] = pooled[m]
    out["n_folds"] = g.size()
    out = out.drop(columns=["fold", "_rows"], errors="ignore").reset_index()
    # Back in the rows' order: a repeat where its first fold stood, holdout rows as they were.
    rest = rows[~kfold].assign(_pos=np.flatnonzero(~kfold.to_numpy()))
    both = pd.concat([rest, out], ignore_index=True).sort_values("_pos", kind="stable")
    return both.drop(columns="_pos").reset_index(drop=True)
