"""The fraud notebook's synthetic transactions (seed notebook 003, first code cell).

Three features and a ``Class`` target, 98:2 by default:

- ``Transaction_Amount``: log-normal, legitimate mean 3.5 sigma 1, fraud mean 5 sigma 1.5
  (skewed: the YAML sets ``standardize: true``);
- ``Transaction_Type``: categorical, Online / In-Person / Other with probabilities 0.5 / 0.4 / 0.1
  (legitimate) and 0.7 / 0.2 / 0.1 (fraud); one-hot encoded on the training rows only;
- ``Time_of_Transaction``: hour of the day, uniform on 0..23 for both classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from imbsweep.datasets.base import Dataset, register
from imbsweep.errors import ConfigError

TYPES = ("Online", "In-Person", "Other")
TYPE_P_LEGIT = (0.5, 0.4, 0.1)
TYPE_P_FRAUD = (0.7, 0.2, 0.1)


def make_fraud(n_samples: int = 10_000, fraud_ratio: float = 0.02, random_state: int = 42):
    """Generate the transactions; returns ``(X, y)`` with ``y`` 1 for fraud.

    Reproducible from ``random_state`` through ``numpy.random.default_rng``. The notebook used the
    legacy global stream (``np.random.seed(42)``) and an unseeded ``df.sample`` shuffle, so the
    rows are not the notebook's rows: the distributions, the class counts
    (``int(n_samples * fraud_ratio)`` frauds) and the column names are.
    """
    rng = np.random.default_rng(random_state)
    n_fraud = int(n_samples * fraud_ratio)
    n_legit = n_samples - n_fraud
    amount = np.concatenate(
        [
            rng.lognormal(mean=3.5, sigma=1.0, size=n_legit),
            rng.lognormal(mean=5.0, sigma=1.5, size=n_fraud),
        ]
    )
    kind = np.concatenate(
        [
            rng.choice(TYPES, size=n_legit, p=TYPE_P_LEGIT),
            rng.choice(TYPES, size=n_fraud, p=TYPE_P_FRAUD),
        ]
    )
    hour = rng.integers(0, 24, size=n_samples)
    y = np.concatenate([np.zeros(n_legit, np.int64), np.ones(n_fraud, np.int64)])
    order = rng.permutation(n_samples)  # the notebook's shuffle, seeded this time
    X = pd.DataFrame(
        {
            "Transaction_Amount": amount[order],
            "Transaction_Type": pd.array(kind[order], dtype="str"),
            "Time_of_Transaction": hour[order].astype(np.int64),
        }
    )
    return X, y[order]


def _int(cfg: dict, key: str, low: int) -> int:
    v = cfg[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise ConfigError(f"dataset.{key}", v, f"an integer >= {low}")
    return v


def fraud_params(cfg: dict) -> tuple[int, float, int]:
    """``(n_samples, fraud_ratio, random_state)``, checked."""
    n = _int(cfg, "n_samples", 10)
    rs = _int(cfg, "random_state", 0)
    ratio = cfg["fraud_ratio"]
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 < ratio < 0.5:
        raise ConfigError("dataset.fraud_ratio", ratio, "a fraction in (0, 0.5), e.g. 0.02")
    if int(n * ratio) < 2:
        raise ConfigError(
            "dataset.fraud_ratio",
            ratio,
            f"a fraction giving at least 2 fraud rows out of n_samples={n}",
            f"int({n} * {ratio}) = {int(n * ratio)}; raise dataset.n_samples or the ratio",
        )
    return n, float(ratio), rs


@dataclass
class FraudConf:
    """``dataset=fraud``: the fraud notebook's synthetic transactions."""

    kind: str = "fraud"
    name: str = "fraud"
    n_samples: int = 10000
    fraud_ratio: float = 0.02  # int(n_samples * fraud_ratio) fraud rows
    random_state: int = 42
    standardize: bool = True  # amounts are heavily skewed


@register("fraud", FraudConf)
def load_fraud(cfg: dict) -> Dataset:
    """``dataset=fraud``: keys ``n_samples``, ``fraud_ratio``, ``random_state``."""
    n, ratio, rs = fraud_params(cfg)
    X, y = make_fraud(n, ratio, rs)
    return Dataset(
        name=cfg["name"] or "fraud",
        X=X,
        y=y,
        categorical=("Transaction_Type",),
        positive_label="1",  # the notebook's Class: 1 = fraud
        source=f"imbsweep.datasets.fraud.make_fraud(random_state={rs})",
        extra={"kind": "fraud", "target": "Class"},
    )
