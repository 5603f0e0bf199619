"""Remedies: a sampler (applied to the training rows only) paired with a model and a threshold.

A method config is flat (``method.k_neighbors``, ``method.epochs``, ...) so that any key can be
overridden or tuned by name. Where things are:

- ``samplers/<name>.yaml``, ``models/<name>.yaml``: one file per sampler and model, built with
  Hydra's ``instantiate`` (:mod:`.components` loads them; the keys each reads are logged);
- :mod:`.data_aware`: values that depend on the training rows (SMOTE's k shrunk on tiny
  minorities, ratio checks, the practical's class weights);
- :mod:`.constraints`: the allowed values of the ``method.*`` keys, declared once;
- :mod:`.pairing`: pairings refused or allowed, the keys a method logs and names in labels;
- :mod:`.preprocessing`: one-hot and scaling, and SMOTE-NC between them;
- :mod:`.fit`: fitting a method on the training rows and its threshold;
- :mod:`.packaging`: a fitted method as an MLflow model;
- :mod:`.gan_sampler`, :mod:`.noise_sampler`: our own samplers (the net is
  :mod:`imbsweep.keras_model`);
- :mod:`.sv_sampler`: smote-variants' oversamplers (an optional extra).
"""

from imbsweep.errors import SkipMethod
from imbsweep.methods.components import MODELS, SAMPLERS, Component
from imbsweep.methods.data_aware import practical_class_weight
from imbsweep.methods.fit import FittedMethod, fit_method
from imbsweep.methods.pairing import (
    check_method,
    check_method_data,
    check_params,
    method_keys,
    method_values,
    pairing_note,
    preset_pairing,
)
from imbsweep.methods.preprocessing import build_preprocessor, resample_mixed

__all__ = [
    "MODELS",
    "SAMPLERS",
    "Component",
    "FittedMethod",
    "SkipMethod",
    "build_preprocessor",
    "check_method",
    "check_method_data",
    "check_params",
    "fit_method",
    "method_keys",
    "method_values",
    "pairing_note",
    "practical_class_weight",
    "preset_pairing",
    "resample_mixed",
]
