"""Preprocessing fitted on the training rows: imputation, one-hot and scaling, and SMOTE-NC
between them."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from imbsweep.datasets.base import Dataset


def imputer(strategy: str) -> SimpleImputer:
    """``dataset.impute``'s strategies as scikit-learn imputers."""
    if strategy == "zero":
        return SimpleImputer(strategy="constant", fill_value=0.0, keep_empty_features=True)
    if strategy == "missing":  # a category of its own
        return SimpleImputer(strategy="constant", fill_value="missing", keep_empty_features=True)
    # keep_empty_features: a column missing on every training row still gives a column.
    return SimpleImputer(strategy=strategy, keep_empty_features=True)


def build_preprocessor(ds: Dataset, standardize: bool):
    """Imputation (when the data has missing values), one-hot for categorical columns, optional
    scaling for numeric ones; None = identity."""
    numeric = [c for c in ds.X.columns if c not in ds.categorical]
    impute = ds.extra.get("impute")  # set by loaders whose data has missing values
    if not ds.categorical and not standardize and not impute:
        return None
    parts = []
    if numeric:
        steps = []
        if impute:
            steps.append(("impute", imputer(impute["numeric"])))
        if standardize:
            steps.append(("scale", StandardScaler()))
        # A lone step stays bare: the preprocessors of complete data are as before.
        num = Pipeline(steps) if len(steps) > 1 else steps[0][1] if steps else "passthrough"
        parts.append(("num", num, numeric))
    if ds.categorical:
        enc = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        if impute:
            enc = Pipeline([("impute", imputer(impute["categorical"])), ("onehot", enc)])
        parts.append(("cat", enc, list(ds.categorical)))
    return ColumnTransformer(parts, sparse_threshold=0.0)


def resample_mixed(sampler_comp, cfg, ds, X_tr, y_tr, pre, seed):
    """SMOTE-NC between the two halves of the preprocessor, on training rows only.

    The preprocessor is fitted on the training rows as for every sampler. Numeric columns are
    transformed (imputed, scaled or passed through), categorical ones kept as categories
    (imputed); SMOTE-NC resamples that; the resampled categories are then one-hot encoded by the
    fitted encoder. Original rows come out exactly as ``pre.transform`` gives them, column order
    included.
    """
    cat = list(ds.categorical)
    numeric = [c for c in X_tr.columns if c not in ds.categorical]
    num = pre.named_transformers_["num"].transform(X_tr[numeric])
    mixed = pd.DataFrame(np.asarray(num, dtype=np.float64), columns=numeric)
    cat_t = pre.named_transformers_["cat"]
    if isinstance(cat_t, Pipeline):  # imputer, then encoder
        filled, enc = cat_t[:-1].transform(X_tr[cat]), cat_t[-1]
        for j, c in enumerate(cat):
            mixed[c] = np.asarray(filled)[:, j]
    else:
        enc = cat_t
        for c in cat:
            mixed[c] = X_tr[c].to_numpy()
    cat_idx = list(range(len(numeric), len(numeric) + len(cat)))
    sampler, info = sampler_comp.build(cfg, seed, y_tr, cat_idx)
    res, y_fit = sampler.fit_resample(mixed, y_tr)
    # The encoder saw a frame (alone) or an array (after the imputer): give it the same.
    cats = res[cat] if hasattr(enc, "feature_names_in_") else res[cat].to_numpy()
    onehot = enc.transform(cats)
    Xa = np.hstack([res[numeric].to_numpy(dtype=np.float64), np.asarray(onehot)])
    return Xa.astype(np.float32), np.asarray(y_fit), info
