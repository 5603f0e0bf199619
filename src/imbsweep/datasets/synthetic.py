"""The seed practical's data: scikit-learn's ``make_classification``."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

from imbsweep.datasets.base import Dataset, register


@dataclass
class SyntheticConf:
    """``dataset=synthetic``: the seed practical's data (make_classification, 95:5)."""

    kind: str = "synthetic"
    name: str = "synthetic"
    n_samples: int = 10000
    n_features: int = 20
    n_informative: int = 2
    n_redundant: int = 2
    weights: list[float] = field(default_factory=lambda: [0.95, 0.05])
    class_sep: float = 1.0
    flip_y: float = 0.01
    random_state: int = 42
    standardize: bool = False  # the practical feeds raw features to the net


@register("synthetic", SyntheticConf)
def load_synthetic(cfg: dict) -> Dataset:
    """The practical's ``make_classification`` set (95:5 by default)."""
    X, y = make_classification(
        n_samples=int(cfg["n_samples"]),
        n_features=int(cfg["n_features"]),
        n_informative=int(cfg["n_informative"]),
        n_redundant=int(cfg["n_redundant"]),
        n_classes=2,
        weights=list(cfg["weights"]),
        class_sep=float(cfg["class_sep"]),
        flip_y=float(cfg["flip_y"]),
        random_state=int(cfg["random_state"]),
    )
    cols = [f"x{i}" for i in range(X.shape[1])]
    return Dataset(
        name=cfg["name"],
        X=pd.DataFrame(X, columns=cols),
        y=y.astype(np.int64),
        source="sklearn.datasets.make_classification",
    )
