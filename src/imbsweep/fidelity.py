"""How far synthetic rows are from the real ones: a classifier two-sample test (C2ST).

A forest learns to tell real minority rows from synthetic ones; its cross-validated ROC AUC is
the figure. 0.5: it cannot tell them apart (the synthetic rows look real); 1.0: every synthetic
row is recognisable (mode collapse, rows off the data's support). Lopez-Paz & Oquab (2017).
"""

from __future__ import annotations

import numpy as np


def c2st_auc(real: np.ndarray, synthetic: np.ndarray, seed: int, folds: int = 3) -> float:
    """Cross-validated ROC AUC of a forest separating ``real`` from ``synthetic`` rows.

    Equal numbers of each are compared (the first ``min(len(real), len(synthetic))``) so that
    the AUC is not driven by the class ratio. Folds shrink to the rows available (>= 2 each).
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    n = min(len(real), len(synthetic))
    if n < 2:
        raise ValueError(f"a two-sample test needs >= 2 rows of each kind, got {n}")
    X = np.vstack([real[:n], synthetic[:n]])
    y = np.r_[np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64)]
    cv = StratifiedKFold(n_splits=min(folds, n), shuffle=True, random_state=seed)
    forest = RandomForestClassifier(n_estimators=50, min_samples_leaf=2, random_state=seed)
    p = cross_val_predict(forest, X, y, cv=cv, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, p))
