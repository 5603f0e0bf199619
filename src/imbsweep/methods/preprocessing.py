"""Preprocessing fitted on the training rows: one-hot and scaling, and SMOTE-NC between them."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from imbsweep.datasets.base import Dataset


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


def resample_mixed(sampler_comp, cfg, ds, X_tr, y_tr, pre, seed):
    """SMOTE-NC between the two halves of the preprocessor, on training rows only.

    The preprocessor is fitted on the training rows as for every sampler. Numeric columns are
    transformed (scaled or passed through), categorical ones kept as categories; SMOTE-NC
    resamples that; the resampled categories are then one-hot encoded by the fitted encoder.
    Original rows come out exactly as ``pre.transform`` gives them, column order included.
    """
    cat = list(ds.categorical)
    numeric = [c for c in X_tr.columns if c not in ds.categorical]
    num = pre.named_transformers_["num"].transform(X_tr[numeric])
    mixed = pd.DataFrame(np.asarray(num, dtype=np.float64), columns=numeric)
    for c in cat:
        mixed[c] = X_tr[c].to_numpy()
    cat_idx = list(range(len(numeric), len(numeric) + len(cat)))
    sampler, info = sampler_comp.build(cfg, seed, y_tr, cat_idx)
    res, y_fit = sampler.fit_resample(mixed, y_tr)
    onehot = pre.named_transformers_["cat"].transform(res[cat])
    Xa = np.hstack([res[numeric].to_numpy(dtype=np.float64), np.asarray(onehot)])
    return Xa.astype(np.float32), np.asarray(y_fit), info
