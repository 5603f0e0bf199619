"""Remedies: a sampler (applied to the training rows only) paired with a model and a threshold.

A method config is flat (``method.k_neighbors``, ``method.epochs``, ...) so that any key can be
overridden or tuned by name. Each sampler and model declares which keys it reads; only those are
logged as the method's parameters. Any sampler can be paired with any model, except the pairings
:func:`check_method` (config only) and :func:`check_method_data` (config + dataset) refuse.

Pairings refused at start (ConfigError naming the key, the value and the fix):

- any sampler in front of a model that resamples internally (``brf``, ``easy_ensemble``,
  ``balanced_bagging``, ``rusboost``);
- ``class_weight=balanced`` on a model without class weights (``majority`` and the models that
  resample internally);
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
- SMOTE, borderline SMOTE, ADASYN, SVM-SMOTE, KMeans-SMOTE (and the SMOTE combinations), and
  the ``noise`` and ``gan`` samplers on a dataset with categorical columns: they interpolate,
  jitter or generate the one-hot columns and make fractional indicator values; SMOTE-NC keeps
  categories whole.
- ``cluster_centroids``: the majority rows the model sees are k-means centroids, not real rows.
- ``cnn``, ``one_sided_selection``, ``ncr`` (cleaning) leave the data imbalanced: pair them with
  class weights or a tuned threshold. ``cnn`` is slow on large data (its 1-NN pass is a Python
  loop over rows: 219 s on the practical's 8,000 training rows).
- a fixed ``threshold`` on ``majority``: its scores are constant 0, so no threshold changes it.
- ``threshold=tuned`` after a sampler or with class weights: fine; it just has less to do.
- keys a component does not read are ignored and not logged, e.g. ``replacement`` for
  ``easy_ensemble`` (imblearn's default, no replacement), ``learning_rate``/``max_iter`` for
  ``hist_gb`` (sklearn's defaults; its iterations are ``n_estimators``), ``sampling_strategy`` for
  the cleaning samplers ``tomek``, ``enn``, ``cnn``, ``one_sided_selection``, ``ncr`` (they
  always clean the majority class); ``learning_rate`` for ``rusboost`` (AdaBoost's 1.0) and for
  the ``gan`` sampler (``gan_learning_rate``: the net's keys stay the classifier's).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
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
    ``packages``: distributions a logged model needs beyond scikit-learn and imbalanced-learn.
    ``sample_weighted``: its class weights are passed to ``fit`` as per-row ``sample_weight``.
    ``params``: (estimator parameter, method key) where the names differ, so that the
    libraries' own parameter checks (:func:`check_params`) can name the key.
    """

    name: str
    keys: tuple[str, ...]
    build: Callable[..., Any]
    resamples_internally: bool = False
    probabilistic: bool = True
    kind: str = ""
    needs_categorical: bool = False
    packages: tuple[str, ...] = ()
    sample_weighted: bool = False
    params: tuple[tuple[str, str], ...] = ()


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
    _need_minority(n_min, 1 + extra, key)
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


def _need_minority(n_min: int, need: int, what: str) -> None:
    if n_min < need:
        raise SkipMethod(f"{n_min} minority row(s) in training: at least {need} needed for {what}")


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


@_sampler("svm_smote", ("k_neighbors", "m_neighbors", "sampling_strategy"), kind="over")
def _svm_smote(cfg, seed, y, cat_idx=()):
    """SMOTE from the minority support vectors of an SVM (imblearn's SVC default), towards the
    boundary; ``m_neighbors`` decide which support vectors are in danger, as in borderline."""
    from imblearn.over_sampling import SVMSMOTE

    s = _ratio_ok(cfg, y, "over-sampling")
    k = _effective_k(cfg, _n_min(y))
    m = min(int(cfg["m_neighbors"]), len(y) - 1)
    sampler = SVMSMOTE(k_neighbors=k, m_neighbors=m, sampling_strategy=s, random_state=seed)
    return sampler, {"k_used": k, "m_used": m}


@_sampler(
    "kmeans_smote",
    ("k_neighbors", "sampling_strategy", "kmeans_clusters", "cluster_balance_threshold"),
    kind="over",
    params=(("n_clusters", "kmeans_clusters"),),
)
def _kmeans_smote(cfg, seed, y, cat_idx=()):
    """K-means on all training rows, then SMOTE inside the clusters where the minority share is
    at least ``cluster_balance_threshold`` (more rows for sparser clusters). When no cluster
    qualifies imblearn raises; the seed is then skipped with its advice as the reason."""
    from imblearn.over_sampling import KMeansSMOTE
    from sklearn.cluster import MiniBatchKMeans

    s = _ratio_ok(cfg, y, "over-sampling")
    k = _effective_k(cfg, _n_min(y))
    kmeans = MiniBatchKMeans(
        n_clusters=min(int(cfg["kmeans_clusters"]), len(y)), n_init=3, random_state=seed
    )
    sampler = KMeansSMOTE(
        k_neighbors=k,
        sampling_strategy=s,
        kmeans_estimator=kmeans,
        cluster_balance_threshold=cfg["cluster_balance_threshold"],
        random_state=seed,
        n_jobs=int(cfg.get("n_jobs", 1)),
    )
    return sampler, {"k_used": k}


@_sampler("noise", ("noise_scale", "sampling_strategy"), kind="over")
def _noise(cfg, seed, y, cat_idx=()):
    """Copies of minority rows with Gaussian jitter (see :mod:`imbsweep.noise_sampler`)."""
    from imbsweep.noise_sampler import GaussianNoiseOverSampler

    s = _ratio_ok(cfg, y, "over-sampling")
    return GaussianNoiseOverSampler(
        sampling_strategy=s, noise_scale=float(cfg["noise_scale"]), random_state=seed
    ), {}


GAN_KEYS = (
    "gan_latent_dim",
    "gan_hidden_units",
    "gan_epochs",
    "gan_learning_rate",
    "gan_batch_size",
)


@_sampler(
    "gan",
    (*GAN_KEYS, "sampling_strategy"),
    kind="over",
    params=tuple((k.removeprefix("gan_"), k) for k in GAN_KEYS),
)
def _gan(cfg, seed, y, cat_idx=()):
    """A small Keras GAN trained on the minority training rows (see :mod:`imbsweep.gan_sampler`).
    Like SMOTE it needs two minority rows (else the seed is skipped); its batch shrinks to the
    rows there are."""
    from imbsweep.gan_sampler import GANOverSampler

    s = _ratio_ok(cfg, y, "over-sampling")
    _need_minority(_n_min(y), 2, "a GAN (as SMOTE with k = 1)")
    sampler = GANOverSampler(
        sampling_strategy=s,
        latent_dim=int(cfg["gan_latent_dim"]),
        hidden_units=int(cfg["gan_hidden_units"]),
        epochs=int(cfg["gan_epochs"]),
        learning_rate=float(cfg["gan_learning_rate"]),
        batch_size=int(cfg["gan_batch_size"]),
        random_state=seed,
    )
    return sampler, {}


@_sampler("cluster_centroids", ("sampling_strategy",), kind="under")
def _cluster_centroids(cfg, seed, y, cat_idx=()):
    """Replaces the majority rows by k-means centroids (as many as the target ratio asks):
    the majority rows the model sees are synthetic."""
    from imblearn.under_sampling import ClusterCentroids
    from sklearn.cluster import KMeans

    s = _ratio_ok(cfg, y, "under-sampling")
    return ClusterCentroids(
        sampling_strategy=s, estimator=KMeans(n_init=1, random_state=seed), random_state=seed
    ), {}


@_sampler("cnn", (), kind="clean")
def _cnn(cfg, seed, y, cat_idx=()):
    """Condensed nearest neighbour (Hart 1968, 1-NN): keeps the majority rows a 1-NN rule on the
    rows kept so far gets wrong, so mostly rows near the boundary. Slow on large data."""
    from imblearn.under_sampling import CondensedNearestNeighbour

    return CondensedNearestNeighbour(random_state=seed, n_jobs=int(cfg.get("n_jobs", 1))), {}


@_sampler("one_sided_selection", (), kind="clean")
def _one_sided_selection(cfg, seed, y, cat_idx=()):
    """One-sided selection (Kubat & Matwin 1997): condensed 1-NN, then Tomek-link cleaning."""
    from imblearn.under_sampling import OneSidedSelection

    return OneSidedSelection(random_state=seed, n_jobs=int(cfg.get("n_jobs", 1))), {}


@_sampler("ncr", ("n_neighbors",), kind="clean")
def _ncr(cfg, seed, y, cat_idx=()):
    """Neighbourhood cleaning rule (Laurikkala 2001): edited nearest neighbours, plus the
    majority neighbours of minority rows that the neighbours would misclassify."""
    from imblearn.under_sampling import NeighbourhoodCleaningRule

    n = min(int(cfg["n_neighbors"]), len(y) - 1)
    return NeighbourhoodCleaningRule(n_neighbors=n, n_jobs=int(cfg.get("n_jobs", 1))), {
        "n_neighbors_used": n
    }


@_sampler("instance_hardness", ("sampling_strategy",), kind="under")
def _instance_hardness(cfg, seed, y, cat_idx=()):
    """Instance hardness threshold (Smith et al. 2014): drops the majority rows a
    cross-validated random forest (imblearn's default) finds hardest, towards the target ratio."""
    from imblearn.under_sampling import InstanceHardnessThreshold
    from sklearn.ensemble import RandomForestClassifier

    s = _ratio_ok(cfg, y, "under-sampling")
    forest = RandomForestClassifier(random_state=seed, n_jobs=int(cfg.get("n_jobs", 1)))
    cv = max(2, min(5, _n_min(y)))  # folds are stratified: no more than the minority rows
    return InstanceHardnessThreshold(
        estimator=forest,
        sampling_strategy=s,
        cv=cv,
        random_state=seed,
        n_jobs=int(cfg.get("n_jobs", 1)),
    ), {}


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
    "balanced_bagging",
    ("n_estimators", "sampling_strategy", "replacement"),
    resamples_internally=True,
)
def _balanced_bagging(cfg, seed, y_train):
    """imblearn's BalancedBagging: decision trees, each on a random under-sample balanced to
    ``sampling_strategy`` (drawn with ``replacement`` or not), then bootstrapped."""
    from imblearn.ensemble import BalancedBaggingClassifier

    return BalancedBaggingClassifier(
        n_estimators=int(cfg["n_estimators"]),
        sampling_strategy=_ratio_ok(cfg, y_train, "its under-sampling"),
        replacement=bool(cfg["replacement"]),
        random_state=seed,
        n_jobs=int(cfg.get("n_jobs", 1)),
    )


@_model("rusboost", ("n_estimators", "sampling_strategy", "replacement"), resamples_internally=True)
def _rusboost(cfg, seed, y_train):
    """imblearn's RUSBoost: AdaBoost (its learning rate 1.0, not ``method.learning_rate``, which
    is the net's) with a random under-sample before each boosting round."""
    from imblearn.ensemble import RUSBoostClassifier

    return RUSBoostClassifier(
        n_estimators=int(cfg["n_estimators"]),
        sampling_strategy=_ratio_ok(cfg, y_train, "its under-sampling"),
        replacement=bool(cfg["replacement"]),
        random_state=seed,
    )


def _pos_weight(cfg: dict, y_fit: np.ndarray) -> float:
    """The practical's weights as one ratio w_1 / w_0 = n_0 / n_1 x weight_scale (boosting
    libraries' ``scale_pos_weight``); 1 without ``class_weight=balanced``."""
    w = _class_weight(cfg, y_fit)
    return 1.0 if w is None else w[1] / w[0]


@_model("xgboost", ("n_estimators", "class_weight", "weight_scale"), packages=("xgboost-cpu",))
def _xgboost(cfg, seed, y_train):
    """XGBoost (hist trees, its defaults otherwise) with ``scale_pos_weight`` = w_1 / w_0."""
    from xgboost import XGBClassifier

    return XGBClassifier(
        n_estimators=int(cfg["n_estimators"]),
        scale_pos_weight=_pos_weight(cfg, y_train),
        tree_method="hist",
        random_state=seed,
        n_jobs=int(cfg.get("n_jobs", 1)),
        verbosity=0,
    )


@_model("lightgbm", ("n_estimators", "class_weight", "weight_scale"), packages=("lightgbm",))
def _lightgbm(cfg, seed, y_train):
    """LightGBM (its defaults) with the practical's class weights as ``class_weight`` (the same
    w_c as the other models; ``is_unbalance`` would fix weight_scale at 1)."""
    from lightgbm import LGBMClassifier

    return LGBMClassifier(
        n_estimators=int(cfg["n_estimators"]),
        class_weight=_class_weight(cfg, y_train),
        random_state=seed,
        n_jobs=int(cfg.get("n_jobs", 1)),
        deterministic=True,
        verbose=-1,
    )


SVM_FOLDS = 3


@_model(
    "svm",
    ("class_weight", "weight_scale", "svm_c", "svm_kernel"),
    sample_weighted=True,
    params=(("C", "svm_c"), ("kernel", "svm_kernel")),
)
def _svm(cfg, seed, y_train):
    """scikit-learn's SVC; probabilities by Platt scaling on SVM_FOLDS cross-validated folds
    (``CalibratedClassifierCV``, as ``SVC(probability=True)`` did: that flag is deprecated in
    scikit-learn 1.9). Fitting costs SVM_FOLDS + 1 SVMs.

    The class weights go in as per-row sample weights, which reach both the SVMs (the same as
    SVC's ``class_weight``) and the Platt fit: a calibration on unweighted rows would map the
    scores back to the imbalanced prior and undo the weights at threshold 0.5.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import SVC

    n_min = int(min(np.sum(y_train == 1), np.sum(y_train == 0)))
    _need_minority(n_min, 2, "the SVM's calibration folds")
    svc = SVC(C=float(cfg["svm_c"]), kernel=str(cfg["svm_kernel"]), random_state=seed)
    folds = StratifiedKFold(n_splits=min(SVM_FOLDS, n_min), shuffle=True, random_state=seed)
    return CalibratedClassifierCV(svc, method="sigmoid", cv=folds, ensemble=False)


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
    # Distributions the logged model needs beyond scikit-learn and imbalanced-learn.
    packages: tuple[str, ...] = ()

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


def check_params(cfg: dict) -> None:
    """The libraries' own parameter checks on the chosen sampler and model, at start.

    imbalanced-learn and scikit-learn declare their constraints (``_parameter_constraints``) and
    check them when fitting; this builds the sampler and model from the config (nothing is
    fitted, so nothing is computed) and runs those checks now, naming the ``method.*`` key. Run
    after the hand-written checks of ``config.check_method_values``, which cover the rest.
    """
    from sklearn.utils._param_validation import InvalidParameterError

    y = np.r_[np.zeros(1000, dtype=np.int64), np.ones(100, dtype=np.int64)]  # only its counts
    for comp in (SAMPLERS[cfg["sampler"]], MODELS[cfg["model"]]):
        try:
            with _quiet():
                built = (
                    comp.build(cfg, 0, y, ()) if comp.name in SAMPLERS else comp.build(cfg, 0, y)
                )
        except (SkipMethod, ValueError):  # data-dependent: decided when the job has its data
            continue
        est = built[0] if isinstance(built, tuple) else built
        try:
            _validate_params(est)
        except InvalidParameterError as exc:
            match = re.match(
                r"The '(\w+)' parameter of \w+ must be (.*)\. Got .* instead", str(exc)
            )
            if not match:
                raise
            key = dict(comp.params).get(match.group(1), match.group(1))
            if key not in comp.keys:
                raise
            raise ConfigError(f"method.{key}", cfg.get(key), match.group(2)) from None


def _validate_params(est: Any) -> None:
    """``_validate_params`` of ``est`` and of the estimators inside it (e.g. the SVC in its
    calibration wrapper, the k-means inside KMeans-SMOTE)."""
    if not hasattr(est, "get_params"):
        return  # ours without declared constraints (the Keras net): checked in config.py
    inner = list(est.get_params(deep=True).values())
    for e in (est, *inner):
        # Only estimators that declare constraints (XGBoost's and LightGBM's do not).
        if hasattr(e, "_parameter_constraints") and hasattr(e, "_validate_params"):
            e._validate_params()


@contextlib.contextmanager
def _quiet():
    """No k-shrinking warnings for the stand-in labels of :func:`check_params`."""
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


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
                # ADASYN: "Not any neigbours belong to the majority class" (nothing to weigh);
                # KMeans-SMOTE: "No clusters found with sufficient samples ...".
                raise SkipMethod(f"{cfg['sampler']}: {exc}") from exc
            # Figures the sampler measured while fitting (a GAN's losses, its fidelity).
            info.update(getattr(sampler, "info_", {}))
        else:
            y_fit = y_tr
    if len(np.unique(y_fit)) < 2:
        raise SkipMethod(f"{cfg['sampler']} left a single class in the training rows")
    model_comp = MODELS[cfg["model"]]
    model = model_comp.build(cfg, seed, y_fit)
    weights = _class_weight(cfg, y_fit) if model_comp.sample_weighted else None
    if weights is None:
        model.fit(Xa, y_fit)
    else:
        model.fit(Xa, y_fit, sample_weight=np.where(y_fit == 1, weights[1], weights[0]))
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
        packages=model_comp.packages,
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
