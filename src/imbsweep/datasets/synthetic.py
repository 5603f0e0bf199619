"""The seed practical's data: scikit-learn's ``make_classification``."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

from imbsweep.datasets.base import Dataset, register


@register("synthetic")
def load_synthetic(cfg: dict) -> Dataset:
    """The practical's ``make_classification`` set (95:5 by default)."""
    weights = list(cfg.get("weights", [0.95, 0.05]))
    X, y = make_classification(
        n_samples=int(cfg.get("n_samples", 10000)),
        n_features=int(cfg.get("n_features", 20)),
        n_informative=int(cfg.get("n_informative", 2)),
        n_redundant=int(cfg.get("n_redundant", 2)),
        n_classes=2,
        weights=weights,
        class_sep=float(cfg.get("class_sep", 1.0)),
        flip_y=float(cfg.get("flip_y", 0.01)),
        random_state=int(cfg.get("random_state", 42)),
    )
    cols = [f"x{i}" for i in range(X.shape[1])]
    return Dataset(
        name=cfg.get("name", "synthetic"),
        X=pd.DataFrame(X, columns=cols),
        y=y.astype(np.int64),
        source="sklearn.datasets.make_classification",
    )
