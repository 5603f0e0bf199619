"""The component files (methods/samplers/*.yaml, methods/models/*.yaml), the declared value
constraints and the null tracker: the architecture's promises, checked cheaply."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from imbsweep import tracking
from imbsweep.config import MethodConf
from imbsweep.errors import ConfigError, SkipMethod
from imbsweep.methods import MODELS, SAMPLERS, method_keys
from imbsweep.methods.components import _load
from imbsweep.methods.constraints import ALWAYS, check_values, constraints

FIELDS = {f.name for f in dataclasses.fields(MethodConf)}
Y = np.r_[np.zeros(90, dtype=np.int64), np.ones(10, dtype=np.int64)]


def cfg(**kw) -> dict:
    return {**dataclasses.asdict(MethodConf(name="t", model="logreg")), **kw}


def test_every_key_a_component_reads_is_a_method_key():
    for comp in (*SAMPLERS.values(), *MODELS.values()):
        read = {k for k, _, _ in comp.feeds}
        when = {k for ks in (*comp.keys_when.values(), *comp.label_when.values()) for k in ks}
        assert read | set(comp.label) | when <= FIELDS, comp.name


def test_adding_a_sampler_is_one_yaml_file(tmp_path):
    path = tmp_path / "shrunk_over.yaml"
    path.write_text(
        "kind: over\n"
        "label: [k_neighbors]\n"
        "info: {k_used: k_neighbors}\n"
        "estimator:\n"
        "  _target_: imblearn.over_sampling.SMOTE\n"
        "  k_neighbors: ${minority_k:k_neighbors}\n"
        "  sampling_strategy: ${ratio:over-sampling}\n"
        "  random_state: ${seed}\n"
    )
    comp = _load(path, sampler=True)
    assert comp.name == "shrunk_over" and comp.kind == "over"
    assert set(comp.keys) == {"k_neighbors", "sampling_strategy"}
    sampler, info = comp.build(cfg(k_neighbors=50), 3, Y)
    assert info == {"k_used": 9} and sampler.random_state == 3  # k shrunk to 10 - 1 rows
    with pytest.raises(SkipMethod, match="1 minority row"):
        comp.build(cfg(), 0, np.r_[Y[:90], 1])
    with pytest.raises(ValueError, match=r"^method.sampling_strategy=0.01 is below"):
        comp.build(cfg(sampling_strategy=0.01), 0, Y)


def test_models_get_the_practical_class_weights():
    w = MODELS["logreg"].build(cfg(class_weight="balanced", weight_scale=2.0), 0, Y).class_weight
    assert w == pytest.approx({0: 100 / 180, 1: 100 / 20 * 2.0})
    assert MODELS["logreg"].build(cfg(), 0, Y).class_weight is None
    assert MODELS["svm"].sample_weighted and "class_weight" in MODELS["svm"].keys


def test_every_always_checked_key_has_one_constraint():
    for key in ALWAYS:
        assert key in FIELDS and constraints(key)[0], key
    check_values(cfg())  # the schema's defaults are all valid
    with pytest.raises(ConfigError, match=r"^method.near_miss_version=4 .* \[1, 3\]"):
        check_values(cfg(near_miss_version=4))  # NearMiss's own declared constraint
    with pytest.raises(ConfigError, match=r"^method.epochs=True"):
        check_values(cfg(epochs=True))


def test_focal_keys_are_logged_only_with_focal_loss():
    assert "focal_alpha" not in method_keys(cfg(model="mlp"))
    assert "focal_alpha" in method_keys(cfg(model="mlp", loss="focal"))


def test_tracking_off_is_a_null_tracker():
    t = tracking.Tracker(enabled=False)
    assert isinstance(t, tracking.NullTracker) and not t.enabled and not t.log_models
    ran = []
    with t:
        assert t.create_run("r", {}) is None
        t.submit(lambda: ran.append(1), "some-run")
        t.log_metrics("some-run", {"m": 1.0})
    assert ran == []  # nothing is logged, not even on a thread
