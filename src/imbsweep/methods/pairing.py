"""Which sampler/model pairings run, which keys a method logs, and its label's pairing note.

Any sampler can be paired with any model, except the pairings :func:`check_method` (config
only) and :func:`check_method_data` (config + dataset) refuse.

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
from typing import Any

import numpy as np

from imbsweep.datasets.base import Dataset
from imbsweep.errors import ConfigError, SkipMethod
from imbsweep.methods.components import MODELS, SAMPLERS
from imbsweep.methods.constraints import check_values
from imbsweep.paths import CONF_DIR

log = logging.getLogger("imbsweep.methods")


def method_keys(cfg: dict) -> tuple[str, ...]:
    """The config keys this method actually reads (its loggable parameters)."""
    keys = ["name", "sampler", "model", "threshold"]
    if cfg.get("threshold") == "tuned":
        keys += ["threshold_metric", "threshold_cv"]
    for comp in (SAMPLERS.get(cfg.get("sampler")), MODELS.get(cfg.get("model"))):
        if comp is not None:
            keys += [k for k in comp.keys if k not in keys]
        for extra in _when(comp.keys_when, cfg) if comp is not None else ():
            keys += [k for k in extra if k not in keys]
    return tuple(keys)


def method_values(cfg: dict) -> dict[str, Any]:
    """The values of :func:`method_keys`, as logged: a smote-variants oversampler's parameters
    with its defaults filled in (``oversampler_params.L``), so a run says what it ran with."""
    out = {k: cfg[k] for k in method_keys(cfg) if k in cfg}
    if "oversampler_params" in out:
        from imbsweep.methods import sv_sampler

        given = out.pop("oversampler_params")
        full = sv_sampler.effective_params(cfg["oversampler"], given)
        out.update({f"oversampler_params.{k}": v for k, v in full.items()})
    return out


def _when(conditional: dict[str, tuple[str, ...]], cfg: dict) -> list[tuple[str, ...]]:
    """The key lists of ``conditional`` (``"loss=focal": keys``) whose condition ``cfg`` meets."""
    return [
        ks
        for cond, ks in conditional.items()
        if str(cfg.get(cond.split("=")[0])) == cond.split("=")[1]
    ]


def label_keys(m: dict) -> list[str]:
    """The keys a run label names: the sampler's, the weights', then the model's."""
    s, model = SAMPLERS.get(m.get("sampler")), MODELS.get(m.get("model"))
    keys = list(s.label) if s is not None else []
    if m.get("class_weight") == "balanced":
        keys.append("weight_scale")
    if model is not None:
        keys += list(model.label)
        for extra in _when(model.label_when, m):
            keys += list(extra)
    return keys


def _models_reading(key: str) -> list[str]:
    return sorted(n for n, c in MODELS.items() if key in c.keys)


def check_method(cfg: dict) -> None:
    """Reject a sampler/model pairing that makes no sense, before anything runs.

    Only the config is needed here; :func:`check_method_data` adds the checks that need the
    dataset (SMOTE-NC needs categorical and numeric columns). Each value is checked first
    against its declared constraint (:mod:`imbsweep.methods.constraints`).
    """
    check_values(cfg)
    sampler, model = cfg["sampler"], cfg["model"]
    if sampler not in SAMPLERS:
        raise ConfigError("method.sampler", sampler, f"one of {sorted(SAMPLERS)}")
    if model not in MODELS:
        raise ConfigError("method.model", model, f"one of {sorted(MODELS)}")
    s, m = SAMPLERS[sampler], MODELS[model]
    if sampler == "smote_variants":
        from imbsweep.methods import sv_sampler  # the optional package: only when asked for

        sv_sampler.check_config(cfg)
    if sampler != "none" and m.resamples_internally:
        raise ConfigError(
            "method.sampler",
            sampler,
            "none",
            f"model '{model}' resamples internally; a second sampler in front of it "
            "would resample twice. Set method.sampler=none or choose another model",
        )
    cw = cfg["class_weight"]
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
    loss = cfg["loss"]
    if loss != "bce" and "loss" not in m.keys:
        raise ConfigError(
            "method.loss",
            loss,
            "bce",
            f"only {_models_reading('loss')} train with a choice of loss, not '{model}'. "
            "Set method.model=mlp or method.loss=bce",
        )
    if cfg["threshold"] == "tuned" and not m.probabilistic:
        raise ConfigError(
            "method.threshold",
            "tuned",
            "a fixed threshold such as 0.5",
            f"model '{model}' gives every row the same score: there is no threshold to tune. "
            "Set method.threshold=0.5 or choose another model",
        )
    strategy = cfg["sampling_strategy"]
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


def check_params(cfg: dict) -> None:
    """The libraries' own parameter checks on the chosen sampler and model, at start.

    imbalanced-learn and scikit-learn declare their constraints (``_parameter_constraints``) and
    check them when fitting; this builds the sampler and model from the config (nothing is
    fitted, so nothing is computed) and runs those checks now, naming the ``method.*`` key. Run
    after :func:`imbsweep.methods.constraints.check_values`, which covers the keys checked
    whatever the method.
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

    path = CONF_DIR / "method" / f"{name}.yaml"
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
