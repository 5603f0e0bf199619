"""Every method preset declares its search space (``search_space:`` in conf/method/*.yaml): it
parses in the Optuna sweeper's grammar, names keys the preset has, and every corner of it and a
random point compose into a config that passes imbsweep's checks and fits."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import optuna
import pytest
from conftest import compose_cfg
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins

Plugins.instance()  # the sweeper's classes as the plugin scan leaves them (see test_optuna_sweeper)

from hydra_plugins.imbsweep_plugins.optuna_sweeper import parse_search_space  # noqa: E402
from imbsweep.config import check_config, method_space  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PRESETS = sorted(p.stem for p in (ROOT / "conf" / "method").glob("*.yaml"))


def space_of(name: str):
    cfg = compose_cfg(["sweeps=tune", f"method={name}"])
    return cfg, parse_search_space(
        method_space(cfg["method"]["search_space"]), [], OverridesParser.create()
    )


def points(space) -> list[dict]:
    """Low corner, high corner and one random point of the space."""
    params = space.params.items()
    low = {n: p.choices[0] if p.kind == "categorical" else p.low for n, p in params}
    high = {n: p.choices[-1] if p.kind == "categorical" else p.high for n, p in params}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    rand = study.ask(space.distributions()).params
    return [low, high, rand]


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_space_parses_and_composes(name: str) -> None:
    cfg, space = space_of(name)
    if name == "naive":  # the majority class: nothing to tune, and sweeps=tune says so
        assert not space.params
        return
    assert space.params, f"{name}: no search_space"
    for key in space.params:
        node = cfg
        for part in key.split("."):
            assert part in node, f"{name}: search_space names {key}, which the preset lacks"
            node = node[part]
    for point in points(space):
        tuned = with_values(cfg, space.render(point))
        check_config(tuned)
        assert tuned["method"]["search_space"] == cfg["method"]["search_space"]


def with_values(cfg: dict, overrides: list[str]) -> dict:
    """``cfg`` with value overrides applied as Hydra applies them (composing each point anew
    would cost ~1 s; tests/test_engine.py checks the two agree)."""
    from omegaconf import OmegaConf

    node = OmegaConf.create(cfg)
    for o in OverridesParser.create().parse_overrides(overrides):
        OmegaConf.update(node, o.key_or_group, o.value(), merge=False)
    return OmegaConf.to_container(node, resolve=True)


def needs(cfg: dict) -> str | None:
    m = cfg["method"]
    if m["sampler"] == "smote_variants" and importlib.util.find_spec("smote_variants") is None:
        return "smote_variants (make smote-variants)"
    for pkg in ("xgboost", "lightgbm"):
        if m["model"] == pkg and importlib.util.find_spec(pkg) is None:
            return pkg
    return None


@pytest.mark.slow
@pytest.mark.parametrize("name", [p for p in PRESETS if p != "naive"])
def test_a_random_point_of_every_space_fits(name: str, tmp_path: Path) -> None:
    from imbsweep.data import load_dataset
    from imbsweep.methods import SkipMethod
    from imbsweep.runner import run_seed

    cfg, space = space_of(name)
    if missing := needs(cfg):
        pytest.skip(f"needs {missing}")
    point = points(space)[2]
    # Small, but with minority rows enough for every sampler (k-means SMOTE, SMOBD decline ~16).
    over = ["dataset.n_samples=600", "dataset.weights=[0.8,0.2]", "split.protocol=holdout"]
    over += ["split.validation_size=0.2"]
    base = compose_cfg(["sweeps=tune", f"method={name}", *over, "method.epochs=2"])
    tuned = with_values(base, space.render(point))
    check_config(tuned)
    ds = load_dataset(tuned["dataset"])
    try:
        metrics, _ = run_seed(tuned, ds, 0, None, None, {})
    except SkipMethod:
        # Declining this data is the method's, not the space's, if its defaults decline too
        # (SMOBD's own checks here).
        with pytest.raises(SkipMethod):
            run_seed(base, ds, 0, None, None, {})
        pytest.skip(f"{name} declines this data at its defaults too")
    assert 0.0 <= metrics["minority_f1"] <= 1.0


def test_help_and_readme_list_every_space() -> None:
    from imbsweep.config import search_space_lines

    lines = search_space_lines()
    assert len(lines) == len(PRESETS)
    helptext = (ROOT / "conf" / "hydra" / "help" / "imbsweep.yaml").read_text()
    readme = (ROOT / "docs" / "tuning.md").read_text()
    for line in lines:
        assert line in helptext, f"imbsweep --help lacks: {line}"
        name, space = re.split(r"\s+", line.strip(), maxsplit=1)
        assert f"| `{name}` | {space} |" in readme, f"docs/tuning.md lacks the row of {name}"
