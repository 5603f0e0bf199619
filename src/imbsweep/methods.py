"""Remedies: a sampler (applied to the training rows only) paired with a model and a threshold.

A method config is flat (``method.k_neighbors``, ``method.epochs``, ...) so that any key can be
overridden or tuned by name. Each sampler and model declares which keys it reads; only those are
logged as the method's parameters. Any sampler can be paired with any model, except the pairings
:func:`check_method` (config only) and :func:`check_method_data` (config + dataset) refuse.

Pairings refused at start (ConfigError naming the key, the value and the fix):

- any sampler in front of a model that resamples internally (``brf``, ``easy_ensemble``);
- ``class_weight=balanced`` on a model without class weights (``majority``, ``brf``,
  ``easy_ensemble``);
- ``loss=focal`` on any model but ``mlp``;
- ``threshold=tuned`` on a model whose scores do not rank rows (``majority``);
- a ``sampling_strategy`` word the sampler cannot honour ('majority' for an over-sampler,
  'minority' for an under-sampler);
- ``smote_nc`` on a dataset without a categorical column, or without a numeric one
  (:func:`check_method_data`, once the dataset is loaded).

Pairings that are allowed but odd (they run; read the results with care):

- a sampler *and* ``class_weight=balanced``: the imbalance is corrected twice. The weights are
  computed on the resampled rows, so after a balancing sampler they are close to 1 anyway.
- ``loss=focal`` with a sampler or with ``class_weight=balanced``: focal loss already re-weights
  (``focal_alpha`` weighs the positive class, ``focal_gamma`` the hard rows).
- SMOTE, borderline SMOTE, ADASYN (and the SMOTE combinations) on a dataset with categorical
  columns: they interpolate the one-hot columns and make fractional indicator values; SMOTE-NC
  keeps categories whole.
- a fixed ``threshold`` on ``majority``: its scores are constant 0, so no threshold changes it.
- ``threshold=tuned`` after a sampler or with class weights: fine; it just has less to do.
- keys a component does not read are ignored and not logged, e.g. ``replacement`` for
  ``easy_ensemble`` (imblearn's default, no replacement), ``learning_rate``/``max_iter`` for
  ``hist_gb`` (sklearn's defaults; its iterations are ``n_estimators``), ``sampling_strategy`` for
  the cleaning samplers ``tomek`` and ``enn`` (they always clean the majority class).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from imbsweep.data import Dataset
from imbsweep.errors import ConfigError
from imbsweep.threshold import TUNABLE_METRICS, tune_threshold

log = logging.getLogger(__name__)

# The presets (conf/method/*.yaml) of this checkout.
_METHOD_CONF = Path(__file__).resolve().parents[2] / "conf" / "method"


class SkipMethod(Exception):
    """The method cannot apply to this data (e.g. too few minority rows); recorded, not fatal."""


@dataclass(frozen=True)
class Component:
    """A sampler or model: the config keys it reads and how to build it.

    ``kind`` (samplers): ``over`` adds minority rows, ``under`` removes majority rows to a target
    ratio, ``clean`` removes majority rows near the boundary, ``combine`` = over + clean.
    ``resamples_internally`` (models): the model balances its own training data; no sampler may
    precede it. ``probabilistic`` (models): its scores rank rows, so a threshold can be tuned.
    """

    name: str
    keys: tuple[str, ...]
    build: Callable[..., Any]
    resamples_internally: bool = False
    probabilistic: bool = True
    kind: str = ""
    needs_categorical: bool = False


SAMPLERS: dict[str, Component] = {}
MODELS: dict[str, Component] = {}


def _sampler(name: str, keys: tuple[str, ...] = (), kind: str = "", **kw):
    def deco(fn):
        SAMPLERS[name] = Component(name, keys, fn, kind=kind, **kw)
        return fn

    return deco


def _model(name: str, keys: tuple[str, ...] = (), **kw):
    def deco(fn):
        MODELS[name] = Component(name, keys, fn, **kw)
        return fn

    return deco


# ---------------------------------------------------------------- samplers (imbalanced-learn)
#
# A sampler builder is ``build(cfg, seed, y, categorical_idx) -> (sampler | None, info)``:
# ``y`` are the training labels it will see, ``info`` numbers worth logging (e.g. the k used).


def _effective_k(cfg: dict, n_min: int, key: str = "k_neighbors", extra: int = 1) -> int:
    """Neighbour counts fitted on the minority rows need ``k + extra`` of them (SMOTE-like: the
    row itself + k); shrink k on tiny minorities and say so. The k used is logged."""
    k = int(cfg[key])
    if n_min < 1 + extra:
        raise SkipMethod(
            f"{n_min} minority row(s) in training: at least {1 + extra} needed for {key}"
        )
    if k + extra > n_min:
        log.warning(
            "%s=%d needs %d minority rows, training has %d: using %d",
            key,
            k,
            k + extra,
            n_min,
            n_min - extra,
        )
        return n_min - extra
    return k


def _strategy(cfg: dict) -> Any:
    s = cfg.get("sampling_strategy", "auto")
    return float(s) if isinstance(s, int | float) else s


def _ratio_ok(cfg: dict, y: np.ndarray, what: str) -> Any:
    """A float ``sampling_strategy`` is the minority/majority ratio after resampling: it cannot
    be below the training rows' ratio (that would need fewer minority or more majority rows).

    That is a value the user chose that this data cannot honour: the job fails with a ValueError
    naming the key and the smallest ratio that works (a sweep's other jobs go on). It is not a
    :class:`SkipMethod`, which would quietly turn a config mistake into skipped seeds.
    """
    s = _strategy(cfg)
    if isinstance(s, float):
        n_min, n_maj = int(y.sum()), int((y == 0).sum())
        if n_maj and s < n_min / n_maj:
            raise ValueError(
                f"method.sampling_strategy={s:g} is below the training rows' minority/majority "
                f"ratio {n_min}/{n_maj} = {n_min / n_maj:.3f}: {what} cannot reach it. "
                f"Use a ratio >= {n_min / n_maj:.3f} or 'auto'"
            )
    return s


def _n_min(y: np.ndarray) -> int:
    return int(np.asarray(y).sum())


@_sampler("none")
def _none(cfg, seed, y, cat_idx=()):
    return None, {}


@_sampler("random_over", ("sampling_strategy",), kind="over")
def _random_over(cfg, seed, y, cat_idx=()):
    from imblearn.over_sampling import RandomOverSampler

    s = _ratio_ok(cfg, y, "over-sampling")
    return RandomOverSampler(sampling_strategy=s, random_state=seed), {}


@_sampler("smote", ("k_neighbors", "sampling_strategy"), kind="over")
def _smote(cfg, seed, y, cat_idx=()):
    from imblearn.over_sampling import SMOTE

    s = _ratio_ok(cfg, y, "over-sampling")
    k = _effective_k(cfg, _n_min(y))
    return SMOTE(k_neighbors=k, sampling_strategy=s, random_state=seed), {"k_used": k}


@_sampler(
    "borderline_smote",
    ("k_neighbors", "m_neighbors", "borderline_kind", "sampling_strategy"),
    kind="over",
)
def _borderline_smote(cfg, seed, y, cat_idx=()):
    """SMOTE from the minority rows whose m nearest neighbours are mostly (not all) majority.
    With no such "danger" rows it adds nothing (counts_after = counts_before)."""
    from imblearn.over_sampling import BorderlineSMOTE

    s = _ratio_ok(cfg, y, "over-sampling")
    k = _effective_k(cfg, _n_min(y))
    m = min(int(cfg["m_neighbors"]), len(y) - 1)  # fitted on all rows: m + 1 of them
    sampler = BorderlineSMOTE(
        k_neighbors=k,
        m_neighbors=m,
        kind=f"borderline-{int(cfg['borderline_kind'])}",
        sampling_strategy=s,
        random_state=seed,
    )
    return sampler, {"k_used": k, "m_used": m}


@_sampler("adasyn", ("k_neighbors", "sampling_strategy"), kind="over")
def _adasyn(cfg, seed, y, cat_idx=()):
    """ADASYN's ``n_neighbors`` is ``method.k_neighbors`` (the same role as SMOTE's k)."""
    from imblearn.over_sampling import ADASYN

    s = _ratio_ok(cfg, y, "over-sampling")
    k = _effective_k(cfg, _n_min(y))
    return ADASYN(n_neighbors=k, sampling_strategy=s, random_state=seed), {"k_used": k}


@_sampler("smote_nc", ("k_neighbors", "sampling_strategy"), kind="over", needs_categorical=True)
def _smote_nc(cfg, seed, y, cat_idx=()):
    """SMOTE for mixed data: numeric columns interpolated, categorical ones take the most
    frequent category among the neighbours. Runs before one-hot encoding (see fit_method)."""
    from imblearn.over_sampling import SMOTENC

    s = _ratio_ok(cfg, y, "over-sampling")
    k = _effective_k(cfg, _n_min(y))
    sampler = SMOTENC(
        categorical_features=list(cat_idx), k_neighbors=k, sampling_strategy=s, random_state=seed
    )
    return sampler, {"k_used": k}


@_sampler("random_under", ("sampling_strategy",), kind="under")
def _random_under(cfg, seed, y, cat_idx=()):
    from imblearn.under_sampling import RandomUnderSampler

    s = _ratio_ok(cfg, y, "under-sampling")
    return RandomUnderSampler(sampling_strategy=s, random_state=seed), {}


@_sampler("tomek", (), kind="clean")
def _tomek(cfg, seed, y, cat_idx=()):
    """Removes the majority row of every Tomek link (a cross-class nearest-neighbour pair)."""
    from imblearn.under_sampling import TomekLinks

    return TomekLinks(n_jobs=int(cfg.get("n_jobs", 1))), {}


@_sampler("enn", ("n_neighbors",), kind="clean")
def _enn(cfg, seed, y, cat_idx=()):
    """Edited nearest neighbours: removes majority rows whose n_neighbors disagree with them."""
    from imblearn.under_sampling import EditedNearestNeighbours

    n = min(int(cfg["n_neighbors"]), len(y) - 1)
    return EditedNearestNeighbours(n_neighbors=n, n_jobs=int(cfg.get("n_jobs", 1))), {
        "n_neighbors_used": n
    }


@_sampler("near_miss", ("near_miss_version", "n_neighbors", "sampling_strategy"), kind="under")
def _near_miss(cfg, seed, y, cat_idx=()):
    """NearMiss-1/2/3: keeps the majority rows closest to (1, 2) or around (3) the minority.
    Its neighbours are fitted on the minority rows: n_neighbors is capped at their count."""
    from imblearn.under_sampling import NearMiss

    s = _ratio_ok(cfg, y, "under-sampling")
    n = _effective_k(cfg, _n_min(y), key="n_neighbors", extra=0)
    sampler = NearMiss(
        version=int(cfg["near_miss_version"]),
        n_neighbors=n,
        sampling_strategy=s,
        n_jobs=int(cfg.get("n_jobs", 1)),
    )
    return sampler, {"n_neighbors_used": n}


@_sampler("smote_tomek", ("k_neighbors", "sampling_strategy"), kind="combine")
def _smote_tomek(cfg, seed, y, cat_idx=()):
    """SMOTE, then Tomek-link cleaning of the majority (imblearn's SMOTETomek defaults)."""
    from imblearn.combine import SMOTETomek
    from imblearn.over_sampling import SMOTE

    s = _ratio_ok(cfg, y, "over-sampling")
    k = _effective_k(cfg, _n_min(y))
    smote = SMOTE(k_neighbors=k, sampling_strategy=s, random_state=seed)
    return SMOTETomek(smote=smote, random_state=seed), {"k_used": k}


@_sampler("smote_enn", ("k_neighbors", "sampling_strategy", "n_neighbors"), kind="combine")
def _smote_enn(cfg, seed, y, cat_idx=()):
    """SMOTE, then edited-nearest-neighbours cleaning (of every class, imblearn's default)."""
    from imblearn.combine import SMOTEENN
    from imblearn.over_sampling import SMOTE
    from imblearn.under_sampling import EditedNearestNeighbours

    s = _ratio_ok(cfg, y, "over-sampling")
    k = _effective_k(cfg, _n_min(y))
    smote = SMOTE(k_neighbors=k, sampling_strategy=s, random_state=seed)
    enn = EditedNearestNeighbours(sampling_strategy="all", n_neighbors=int(cfg["n_neighbors"]))
    return SMOTEENN(smote=smote, enn=enn, random_state=seed), {"k_used": k}


# ---------------------------------------------------------------- models
#
# A model builder is ``build(cfg, seed, y_fit)``: ``y_fit`` are the labels it is fitted on
# (after the sampler), from which class weights are computed.


def practical_class_weight(y: np.ndarray, scale: float = 1.0) -> dict[int, float]:
    """The practical's w_c = N / (2 n_c), with the minority weight multiplied by ``scale``.

    With ``scale=1`` it is scikit-learn's ``class_weight="balanced"`` for two classes.
    """
    n = len(y)
    n1 = int(y.sum())
    n0 = n - n1
    return {0: n / (2.0 * n0), 1: n / (2.0 * n1) * float(scale)}


def _class_weight(cfg: dict, y_fit: np.ndarray) -> dict[int, float] | None:
    if cfg.get("class_weight", "none") == "balanced":
        return practical_class_weight(y_fit, cfg["weight_scale"])
    return None


@_model("majority", probabilistic=False)
def _majority(cfg, seed, y_train):
    """The naive baseline. Its score is the constant P(minority) = 0: nothing to threshold."""
    from sklearn.dummy import DummyClassifier

    return DummyClassifier(strategy="most_frequent")


@_model(
    "brf",
    ("n_estimators", "sampling_strategy", "replacement", "bootstrap"),
    resamples_internally=True,
)
def _brf(cfg, seed, y_train):
    from imblearn.ensemble import BalancedRandomForestClassifier

    return BalancedRandomForestClassifier(
        n_estimators=int(cfg["n_estimators"]),
        sampling_strategy=_ratio_ok(cfg, y_train, "its under-sampling"),
        replacement=bool(cfg["replacement"]),
        bootstrap=bool(cfg["bootstrap"]),
        random_state=seed,
        n_jobs=int(cfg.get("n_jobs", 1)),
    )


@_model("easy_ensemble", ("n_estimators", "sampling_strategy"), resamples_internally=True)
def _easy_ensemble(cfg, seed, y_train):
    """imblearn's EasyEnsemble: AdaBoost learners, each on a balanced random under-sample."""
    from imblearn.ensemble import EasyEnsembleClassifier

    return EasyEnsembleClassifier(
        n_estimators=int(cfg["n_estimators"]),
        sampling_strategy=_ratio_ok(cfg, y_train, "its under-sampling"),
        random_state=seed,
        n_jobs=int(cfg.get("n_jobs", 1)),
    )


@_model("logreg", ("class_weight", "weight_scale", "max_iter"))
def _logreg(cfg, seed, y_train):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(
        max_iter=int(cfg["max_iter"]),
        class_weight=_class_weight(cfg, y_train),
        random_state=seed,
    )


@_model("random_forest", ("n_estimators", "class_weight", "weight_scale"))
def _random_forest(cfg, seed, y_train):
    """scikit-learn's forest with its defaults (bootstrap on; ``method.bootstrap`` is BRF's)."""
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=int(cfg["n_estimators"]),
        class_weight=_class_weight(cfg, y_train),
        random_state=seed,
        n_jobs=int(cfg.get("n_jobs", 1)),
    )


@_model("hist_gb", ("n_estimators", "class_weight", "weight_scale"))
def _hist_gb(cfg, seed, y_train):
    """HistGradientBoosting with ``n_estimators`` boosting iterations (its ``max_iter``), no
    early stopping (so the count means what it says), sklearn's other defaults."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=int(cfg["n_estimators"]),
        early_stopping=False,
        class_weight=_class_weight(cfg, y_train),
        random_state=seed,
    )


@_model(
    "mlp",
    (
        "hidden_units",
        "epochs",
        "batch_size",
        "learning_rate",
        "class_weight",
        "weight_scale",
        "steps_per_execution",
        "loss",
        "early_stopping",
        "min_steps",
    ),
)
def _mlp(cfg, seed, y_train):
    """The practical's net; ``loss=focal`` trains it with Keras' binary focal loss."""
    from imbsweep.keras_model import KerasMLP

    return KerasMLP(
        hidden_units=int(cfg["hidden_units"]),
        epochs=int(cfg["epochs"]),
        batch_size=int(cfg["batch_size"]),
        learning_rate=float(cfg["learning_rate"]),
        steps_per_execution=int(cfg.get("steps_per_execution", 1)),
        seed=seed,
        class_weight=_class_weight(cfg, y_train),
        loss=str(cfg.get("loss", "bce")),
        focal_gamma=float(cfg.get("focal_gamma", 2.0)),
        focal_alpha=float(cfg.get("focal_alpha", 0.25)),
        early_stopping=int(cfg.get("early_stopping", 0)),
        min_steps=int(cfg.get("min_steps", 0)),
    )


# Keys read only under a condition: logged only then.
_FOCAL_KEYS = ("focal_gamma", "focal_alpha")


# ---------------------------------------------------------------- a method = sampler + model


@dataclass
class FittedMethod:
    """What a seed run produced: the fitted pieces and the facts worth logging."""

    preprocessor: Any
    model: Any
    threshold: float
    counts_before: dict[int, int]
    counts_after: dict[int, int]
    fit_seconds: float
    info: dict[str, Any] = field(default_factory=dict)

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        if self.preprocessor is None:
            return X.to_numpy(dtype=np.float32)
        return np.asarray(self.preprocessor.transform(X), dtype=np.float32)

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of the positive (minority) class."""
        return np.asarray(self.model.predict_proba(self.transform(X)))[:, 1]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        # Strictly greater, as the practical's `model.predict(X) > 0.5`.
        return (self.score(X) > self.threshold).astype(np.int64)


def method_keys(cfg: dict) -> tuple[str, ...]:
    """The config keys this method actually reads (its loggable parameters)."""
    keys = ["name", "sampler", "model", "threshold"]
    if cfg.get("threshold") == "tuned":
        keys += ["threshold_metric", "threshold_cv"]
    for comp in (SAMPLERS.get(cfg.get("sampler")), MODELS.get(cfg.get("model"))):
        if comp is not None:
            keys += [k for k in comp.keys if k not in keys]
    if cfg.get("model") == "mlp" and cfg.get("loss") == "focal":
        keys += list(_FOCAL_KEYS)
    return tuple(keys)


def _models_reading(key: str) -> list[str]:
    return sorted(n for n, c in MODELS.items() if key in c.keys)


def _number(cfg: dict, key: str, low: float, allowed: str) -> None:
    v = cfg.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float) or v < low:
        raise ConfigError(f"method.{key}", v, allowed)


def check_method(cfg: dict) -> None:
    """Reject a sampler/model pairing that makes no sense, before anything runs.

    Only the config is needed here; :func:`check_method_data` adds the checks that need the
    dataset (SMOTE-NC needs categorical and numeric columns).
    """
    sampler, model = cfg.get("sampler"), cfg.get("model")
    if sampler not in SAMPLERS:
        raise ConfigError("method.sampler", sampler, f"one of {sorted(SAMPLERS)}")
    if model not in MODELS:
        raise ConfigError("method.model", model, f"one of {sorted(MODELS)}")
    s, m = SAMPLERS[sampler], MODELS[model]
    if sampler != "none" and m.resamples_internally:
        raise ConfigError(
            "method.sampler",
            sampler,
            "none",
            f"model '{model}' resamples internally; a second sampler in front of it "
            "would resample twice. Set method.sampler=none or choose another model",
        )
    cw = cfg.get("class_weight", "none")
    if cw != "none" and "class_weight" not in m.keys:
        why = (
            "it balances its training data itself"
            if m.resamples_internally
            else "it has no class weights"
        )
        raise ConfigError(
            "method.class_weight",
            cw,
            "none",
            f"model '{model}' does not take class weights ({why}). Set method.class_weight=none "
            f"or choose one of {_models_reading('class_weight')}",
        )
    loss = cfg.get("loss", "bce")
    if loss != "bce" and "loss" not in m.keys:
        raise ConfigError(
            "method.loss",
            loss,
            "bce",
            f"only {_models_reading('loss')} train with a choice of loss, not '{model}'. "
            "Set method.model=mlp or method.loss=bce",
        )
    if cfg.get("threshold") == "tuned" and not m.probabilistic:
        raise ConfigError(
            "method.threshold",
            "tuned",
            "a fixed threshold such as 0.5",
            f"model '{model}' gives every row the same score: there is no threshold to tune. "
            "Set method.threshold=0.5 or choose another model",
        )
    if cfg.get("threshold_metric", "minority_f1") not in TUNABLE_METRICS:
        raise ConfigError(
            "method.threshold_metric",
            cfg.get("threshold_metric"),
            f"one of {list(TUNABLE_METRICS)}",
            "metrics of the predicted labels that an extreme threshold does not trivially win",
        )
    strategy = cfg.get("sampling_strategy", "auto")
    over = s.kind in ("over", "combine") and "sampling_strategy" in s.keys
    under = (s.kind == "under" and "sampling_strategy" in s.keys) or (
        m.resamples_internally and "sampling_strategy" in m.keys
    )
    if over and strategy == "majority":
        raise ConfigError(
            "method.sampling_strategy",
            strategy,
            "'auto', 'minority', 'not majority', 'all' or a ratio in (0, 1]",
            f"'{sampler}' over-samples; it cannot add majority rows",
        )
    if under and strategy == "minority":
        raise ConfigError(
            "method.sampling_strategy",
            strategy,
            "'auto', 'majority', 'not minority', 'all' or a ratio in (0, 1]",
            f"'{sampler if s.kind == 'under' else model}' under-samples; "
            "it cannot remove minority rows",
        )
    for key in ("m_neighbors",):
        v = cfg.get(key, 1)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(f"method.{key}", v, "an integer >= 1")
    bk = cfg.get("borderline_kind", 1)
    if isinstance(bk, bool) or bk not in (1, 2):
        raise ConfigError("method.borderline_kind", bk, "1 or 2 (borderline-1 or borderline-2)")
    if "focal_gamma" in cfg:
        _number(cfg, "focal_gamma", 0.0, "a number >= 0 (0 = plain cross-entropy)")
    fa = cfg.get("focal_alpha", 0.25)
    if isinstance(fa, bool) or not isinstance(fa, int | float) or not 0 < fa < 1:
        raise ConfigError(
            "method.focal_alpha", fa, "a number in (0, 1): the positive (minority) class's weight"
        )


def check_method_data(cfg: dict, ds: Dataset) -> None:
    """The pairing checks that need the dataset; call after loading it, before any run opens."""
    sampler = cfg.get("sampler")
    if sampler in SAMPLERS and SAMPLERS[sampler].needs_categorical:
        if not ds.categorical:
            raise ConfigError(
                "method.sampler",
                sampler,
                "a sampler for numeric features, e.g. method.sampler=smote",
                f"dataset '{ds.name}' has no categorical column; SMOTE-NC needs at least one",
            )
        if len(ds.categorical) == ds.X.shape[1]:
            raise ConfigError(
                "method.sampler",
                sampler,
                "a sampler for categorical data, e.g. method.sampler=random_over",
                f"every column of dataset '{ds.name}' is categorical; SMOTE-NC needs at least "
                "one numeric column",
            )


@functools.cache
def preset_pairing(name: str) -> tuple[str, str] | None:
    """(sampler, model) of the preset ``conf/method/<name>.yaml``; None if there is none."""
    from omegaconf import OmegaConf

    path = _METHOD_CONF / f"{name}.yaml"
    if not path.is_file():
        return None
    c = OmegaConf.load(path)
    return str(c.get("sampler", "none")), str(c.get("model"))


def pairing_note(m: dict) -> str | None:
    """``adasyn+logreg`` when the sampler or model was overridden away from the preset's, so
    that run names and report rows of different pairings never look the same."""
    preset = preset_pairing(str(m.get("name")))
    pair = (str(m.get("sampler", "none")), str(m.get("model")))
    if preset is None or preset == pair:
        return None
    return "+".join(pair)


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


def _resample_mixed(sampler_comp, cfg, ds, X_tr, y_tr, pre, seed):
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


def fit_method(
    cfg: dict,
    ds: Dataset,
    train: np.ndarray,
    seed: int,
    standardize: bool = False,
    validation: np.ndarray | None = None,
) -> FittedMethod:
    """Fit preprocessing and the sampler on the training rows only, then the model.

    ``validation`` rows are used for one thing only: with ``threshold=tuned`` the threshold is
    chosen on their scores and labels (:func:`imbsweep.threshold.tune_threshold`). Test rows are
    never passed in.
    """
    check_method_data(cfg, ds)
    X_tr, y_tr = ds.X.iloc[train], ds.y[train]
    counts_before = _counts(y_tr)
    if counts_before[1] == 0:
        raise SkipMethod("no minority row in the training split")
    t0 = time.perf_counter()
    pre = build_preprocessor(ds, standardize)
    sampler_comp = SAMPLERS[cfg["sampler"]]
    info: dict[str, Any] = {}
    if sampler_comp.needs_categorical:
        pre.fit(X_tr)
        Xa, y_fit, sinfo = _resample_mixed(sampler_comp, cfg, ds, X_tr, y_tr, pre, seed)
        info.update(sinfo)
    else:
        Xa = (
            X_tr.to_numpy(dtype=np.float32)
            if pre is None
            else np.asarray(pre.fit_transform(X_tr), dtype=np.float32)
        )
        sampler, sinfo = sampler_comp.build(cfg, seed, y_tr, ())
        info.update(sinfo)
        if sampler is not None:
            try:
                Xa, y_fit = sampler.fit_resample(Xa, y_tr)
            except RuntimeError as exc:
                # ADASYN: "Not any neigbours belong to the majority class" (nothing to weigh).
                raise SkipMethod(f"{cfg['sampler']}: {exc}") from exc
        else:
            y_fit = y_tr
    if len(np.unique(y_fit)) < 2:
        raise SkipMethod(f"{cfg['sampler']} left a single class in the training rows")
    model = MODELS[cfg["model"]].build(cfg, seed, y_fit)
    model.fit(Xa, y_fit)
    fit_seconds = time.perf_counter() - t0
    for attr, key in (("epochs_run_", "epochs_run"), ("passes_", "passes")):
        if getattr(model, attr, None) is not None:  # the net's budget as it ran
            info[key] = getattr(model, attr)
    fitted = FittedMethod(
        preprocessor=pre,
        model=model,
        threshold=0.5,
        counts_before=counts_before,
        counts_after=_counts(y_fit),
        fit_seconds=fit_seconds,
        info=info,
    )
    if cfg.get("threshold") == "tuned":
        metric = cfg.get("threshold_metric", "minority_f1")
        fitted.threshold, best = _tuned_threshold(fitted, ds, train, validation, metric)
        info["threshold_val_score"] = best
    else:
        fitted.threshold = float(cfg.get("threshold", 0.5))
    return fitted


def _tuned_threshold(fitted, ds, train, validation, metric) -> tuple[float, float]:
    """Score the validation rows and tune on them alone (labels and scores of those rows)."""
    if validation is None or len(validation) == 0:
        raise ConfigError(
            "split.validation_size",
            0,
            "a fraction > 0 with method.threshold=tuned",
            "the threshold is tuned on validation rows, never on the test set",
        )
    if np.intersect1d(train, validation).size:
        raise ValueError("validation rows overlap the training rows")
    yv = ds.y[validation]
    if yv.sum() == 0 or yv.sum() == len(yv):
        raise SkipMethod("the validation rows hold a single class: no threshold to tune")
    return tune_threshold(yv, fitted.score(ds.X.iloc[validation]), metric)


def _counts(y: np.ndarray) -> dict[int, int]:
    return {0: int((y == 0).sum()), 1: int((y == 1).sum())}
