"""Every config composes; bad values fail at start with a message naming the key."""

from __future__ import annotations

import pytest
from conftest import CONF, compose_cfg
from hydra.errors import ConfigCompositionException, HydraException
from omegaconf.errors import ConfigKeyError

from imbsweep.config import check_config, method_label, resolve_seeds
from imbsweep.errors import ConfigError

METHODS = sorted(p.stem for p in (CONF / "method").glob("*.yaml"))
DATASETS = sorted(p.stem for p in (CONF / "dataset").glob("*.yaml"))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_every_config_composes(method, dataset, tmp_path):
    extra = []
    if dataset == "file":  # the one dataset that needs the user's input
        csv = tmp_path / "d.csv"
        csv.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{int(i % 10 == 0)}\n" for i in range(50)))
        extra = [f"dataset.path={csv}", "dataset.target=y"]
    cfg = compose_cfg([f"method={method}", f"dataset={dataset}", *extra])
    assert cfg["method"]["name"] == method
    assert cfg["dataset"]["kind"]
    check_config(cfg)


def test_defaults_are_the_practical():
    cfg = compose_cfg()
    ds, sp = cfg["dataset"], cfg["split"]
    assert (ds["n_samples"], ds["n_features"], ds["weights"], ds["random_state"]) == (
        10000,
        20,
        [0.95, 0.05],
        42,
    )
    assert (sp["test_size"], sp["random_state"], sp["vary_with_seed"]) == (0.2, 42, False)
    assert cfg["seeds"] == 10
    smote = compose_cfg(["method=smote_ann"])["method"]
    assert (smote["k_neighbors"], smote["hidden_units"], smote["epochs"], smote["batch_size"]) == (
        5,
        16,
        5,
        32,
    )
    brf = compose_cfg(["method=brf"])["method"]
    assert (
        brf["n_estimators"],
        brf["sampling_strategy"],
        brf["replacement"],
        brf["bootstrap"],
    ) == (100, "all", True, False)
    w = compose_cfg(["method=weighted_ann"])["method"]
    assert (w["class_weight"], w["weight_scale"]) == ("balanced", 1.0)


@pytest.mark.parametrize(
    ("override", "key", "allowed"),
    [
        ("method.k_neighbors=0", "method.k_neighbors", "integer >= 1"),
        ("method.epochs=0", "method.epochs", "integer >= 1"),
        ("method.weight_scale=0", "method.weight_scale", "> 0"),
        ("method.weight_scale=-2.5", "method.weight_scale", "> 0"),
        ("seeds=0", "seeds", "count >= 1"),
        ("seeds=[]", "seeds", "list"),
        ("seeds=[1,1]", "seeds", "without repeats"),
        ("method.sampler=bogus", "method.sampler", "one of"),
        ("method.class_weight=heavy", "method.class_weight", "one of"),
        ("method.threshold=1.5", "method.threshold", "(0, 1)"),
        ("split.test_size=0", "split.test_size", "(0, 1)"),
        ("objective.metric=auc", "objective.metric", "minority_f1"),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(override, key, allowed):
    cfg = compose_cfg(["method=smote_ann", override])
    with pytest.raises(ConfigError, match=f"^{key}=") as err:
        check_config(cfg)
    assert allowed in str(err.value)


def test_sampler_on_a_self_resampling_model_is_refused():
    cfg = compose_cfg(["method=brf", "method.sampler=smote"])
    with pytest.raises(ConfigError, match="resamples internally"):
        check_config(cfg)


@pytest.mark.parametrize("override", ["method=nope", "dataset=nope"])
def test_unknown_group_option_lists_the_choices(override):
    with pytest.raises(HydraException, match="Available options") as err:
        compose_cfg([override])
    group = override.split("=")[0]
    assert ("brf" if group == "method" else "synthetic") in str(err.value)


def test_typo_in_a_key_fails_at_compose_time():
    with pytest.raises((ConfigCompositionException, ConfigKeyError)):
        compose_cfg(["method.k_neighbours=3"])


def test_seeds_count_or_list():
    assert resolve_seeds(3) == [0, 1, 2]
    assert resolve_seeds([5, 7]) == [5, 7]


def test_run_labels_are_readable():
    assert method_label(compose_cfg(["method=smote_ann"])["method"]) == "smote_ann k=5"
    assert method_label(compose_cfg(["method=brf"])["method"]) == "brf trees=100"
    assert method_label(compose_cfg(["method=weighted_ann"])["method"]) == "weighted_ann w=1"
