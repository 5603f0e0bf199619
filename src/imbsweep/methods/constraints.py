"""The allowed values of every ``method.*`` key, declared once and checked at start.

A key fed to a library estimator takes that estimator's own declared constraint
(``_parameter_constraints``, e.g. SMOTE's ``k_neighbors``: an integer >= 1), found through the
component files; :data:`DECLARED` states the rest (our net's keys, the practical's weights, the
threshold) and the few where ours is deliberately stricter. Pairings (which sampler with which
model) are :mod:`imbsweep.methods.pairing`'s; the check against the training rows' ratio is
:func:`imbsweep.methods.data_aware.checked_ratio`'s.
"""

from __future__ import annotations

import functools
import importlib
from numbers import Integral, Real
from typing import Any

from sklearn.utils._param_validation import Interval, Options, StrOptions, make_constraint

from imbsweep.errors import ConfigError
from imbsweep.methods.components import MODELS, SAMPLERS
from imbsweep.threshold import TUNABLE_METRICS

STRATEGY_WORDS = ("auto", "all", "majority", "minority", "not minority", "not majority")
CLASS_WEIGHTS = ("none", "balanced")
LOSSES = ("bce", "focal")


def _at_least(low: int) -> list:
    return [Interval(Integral, low, None, closed="left")]


_POSITIVE = [Interval(Real, 0, None, closed="neither")]

# key -> (constraints, why; None: the constraint alone). Keys no library declares, or where ours
# is stricter than the library's (max_iter: LogisticRegression takes 0; cluster_balance_threshold:
# KMeansSMOTE takes any number, above 1 no cluster could ever qualify).
DECLARED: dict[str, tuple[list, str | None]] = {
    "threshold": ([Interval(Real, 0, 1, closed="neither"), StrOptions({"tuned"})], None),
    "threshold_metric": (
        [StrOptions(set(TUNABLE_METRICS))],
        "metrics of the predicted labels that an extreme threshold does not trivially win",
    ),
    "threshold_cv": (
        [Options(Integral, {0}), Interval(Integral, 2, None, closed="left")],
        "0 = tune on validation rows; a fold count >= 2 = on out-of-fold training scores",
    ),
    "sampling_strategy": (
        [Interval(Real, 0, 1, closed="right"), StrOptions(set(STRATEGY_WORDS))],
        "a minority/majority ratio or a word",
    ),
    "borderline_kind": ([Options(Integral, {1, 2})], "borderline-1 or borderline-2"),
    "cluster_balance_threshold": (
        [Interval(Real, 0, 1, closed="both"), StrOptions({"auto"})],
        "a minority share",
    ),
    "hidden_units": (_at_least(1), None),
    "epochs": (_at_least(1), None),
    "batch_size": (_at_least(1), None),
    "learning_rate": (_POSITIVE, None),
    "steps_per_execution": (_at_least(1), None),
    "early_stopping": (_at_least(0), "0 = off; else patience in epochs"),
    "min_steps": (_at_least(0), None),
    "class_weight": ([StrOptions(set(CLASS_WEIGHTS))], None),
    "weight_scale": (_POSITIVE, "1.0 = the practical's weights"),
    "loss": ([StrOptions(set(LOSSES))], None),
    "focal_gamma": ([Interval(Real, 0, None, closed="left")], "0 = plain cross-entropy"),
    "focal_alpha": (
        [Interval(Real, 0, 1, closed="neither")],
        "the positive (minority) class's weight",
    ),
    "max_iter": (_at_least(1), None),
}
# Checked whatever the method, at start: the keys above and the libraries' keys that most methods
# share. The other keys (gan_*, noise_scale, svm_*, kmeans_clusters) are checked only when the
# method reads them, by the libraries themselves (pairing.check_params).
ALWAYS = (
    *DECLARED,
    "k_neighbors",
    "n_neighbors",
    "m_neighbors",
    "near_miss_version",
    "n_estimators",
)
_VALUE_KINDS = (Interval, StrOptions, Options)


@functools.cache
def library_constraints(key: str) -> list:
    """The first declared constraint of an estimator parameter ``method.<key>`` feeds."""
    for comp in (*SAMPLERS.values(), *MODELS.values()):
        for k, target, param in comp.feeds:
            if k != key:
                continue
            module, _, name = target.rpartition(".")
            cls = getattr(importlib.import_module(module), name)
            declared = getattr(cls, "_parameter_constraints", {})
            found = [
                c
                for c in (make_constraint(c) for c in declared.get(param, []))
                if isinstance(c, _VALUE_KINDS)
            ]
            if found:
                return found
    return []


def constraints(key: str) -> tuple[list, str | None]:
    return DECLARED.get(key) or (library_constraints(key), None)


def _satisfied(c: Any, v: Any) -> bool:
    if isinstance(v, bool) and isinstance(c, Interval):
        return False  # True is an Integral to Python, not a count to a user
    return c.is_satisfied_by(v)


def _number(x: float) -> str:
    return f"{x:g}"


def describe(cs: list) -> str:
    """``an integer >= 1``, ``a number in (0, 1) or 'tuned'``: the allowed values in words."""
    parts = []
    for c in cs:
        if isinstance(c, Interval):
            what = "an integer" if c.type is Integral else "a number"
            lo, hi = c.left, c.right
            if lo is None and hi is None:
                parts.append(what)
            elif hi is None:
                op = ">=" if c.closed in ("left", "both") else ">"
                parts.append(f"{what} {op} {_number(lo)}")
            elif lo is None:
                op = "<=" if c.closed in ("right", "both") else "<"
                parts.append(f"{what} {op} {_number(hi)}")
            else:
                a = "[" if c.closed in ("left", "both") else "("
                b = "]" if c.closed in ("right", "both") else ")"
                parts.append(f"{what} in {a}{_number(lo)}, {_number(hi)}{b}")
        elif isinstance(c, StrOptions):
            opts = sorted(c.options - c.deprecated)
            parts.append(f"one of {opts}" if len(opts) > 1 else repr(opts[0]))
        else:
            opts = sorted(c.options, key=str)
            parts.append(" or ".join(str(o) for o in opts))
    return " or ".join(parts)


def check_values(m: dict) -> None:
    """The :data:`ALWAYS` values against their constraints; the first bad one names its key."""
    for key in ALWAYS:
        v = m[key]
        cs, why = constraints(key)
        if not any(_satisfied(c, v) for c in cs):
            raise ConfigError(f"method.{key}", v, describe(cs), why)
