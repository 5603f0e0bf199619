"""`imbsweep --help` and Hydra's standard flags.

The search path holds ``conf/`` and the ``sweeps/`` group only: a project root full of YAML
(``.venv``, ``mlartifacts``, ``multirun``) must not show up as config groups, nor be crawled.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from imbsweep.methods import MODELS, SAMPLERS

HELP_YAML = ROOT / "conf" / "hydra" / "help" / "imbsweep.yaml"


def _imbsweep(root: Path, *args: str) -> subprocess.CompletedProcess:
    """``imbsweep ARGS`` from the copy of the project at ``root`` (its own src/, conf/, sweeps/)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PYTHONPATH"] = str(root / "src")
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    return subprocess.run(
        [sys.executable, "-m", "imbsweep.app", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def fake_project(root: Path, n_dirs: int = 300) -> Path:
    """The project's code and config, plus the YAML-filled folders a used checkout has."""
    for name in ("src", "conf", "sweeps"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    junk = [
        ".venv/lib/python3.11/site-packages/hydra/test_utils/configs/group{}",
        "mlartifacts/1/models/m-{}/artifacts",
        "multirun/2026-11-23/10-00-{}/.hydra",
        "tests/optuna_app/conf/fakegroup{}",
    ]
    for i in range(n_dirs):
        for pattern in junk:
            d = root / pattern.format(i)
            d.mkdir(parents=True, exist_ok=True)
            (d / "config.yaml").write_text("a: 1\n")
    return root


def test_help_lists_the_real_groups_and_nothing_from_the_project_folders(tmp_path):
    root = fake_project(tmp_path)
    p = _imbsweep(root, "--help")
    assert p.returncode == 0, p.stderr[-3000:]
    out = p.stdout
    block = out.split("== Config groups (group=option) ==")[1].strip().split("\n\n")[0]
    groups = dict(line.split(": ", 1) for line in block.splitlines())
    assert set(groups) == {"dataset", "method", "sweeps"}
    assert groups["dataset"] == "file, fraud, keel, synthetic"
    assert groups["sweeps"].split(", ") == sorted(p.stem for p in (ROOT / "sweeps").glob("*.yaml"))
    assert "smote_ann" in groups["method"].split(", ")
    for fake in ("test_utils", "m-0", ".hydra", "fakegroup", "mlartifacts", "multirun/"):
        assert fake not in out
    assert "method=brf seeds=30" in out and "--cfg job" in out


def test_help_names_every_sampler_and_model_the_code_has():
    footer = yaml.safe_load(HELP_YAML.read_text())["footer"]

    def listed(key: str) -> set[str]:
        block = re.search(rf"{re.escape(key)}\s+(.*?)(?:\n  \S|\Z)", footer, re.S).group(1)
        return set(re.findall(r"[a-z_]+", block))

    assert listed("method.sampler") == set(SAMPLERS)
    assert listed("method.model") == set(MODELS)


@pytest.mark.slow
def test_standard_hydra_flags(tmp_path):
    root = fake_project(tmp_path, n_dirs=1)
    p = _imbsweep(root, "--hydra-help")
    assert p.returncode == 0 and "hydra/launcher: basic, dask, joblib" in p.stdout
    assert "hydra/sweeper: basic, imbsweep, imbsweep_basic, imbsweep_tuned, optuna" in p.stdout

    p = _imbsweep(root, "--cfg", "job", "method=brf", "seeds=3")
    assert p.returncode == 0, p.stderr[-2000:]
    cfg = yaml.safe_load(p.stdout)
    assert cfg["method"]["name"] == "brf" and cfg["seeds"] == 3 and "hydra" not in cfg

    p = _imbsweep(root, "--info", "searchpath")
    assert p.returncode == 0, p.stderr[-2000:]
    assert "imbsweep-sweeps://" in p.stdout and str(root / "conf") in p.stdout

    # A sweeps file composes like any group option; a bad option fails fast, listing the options.
    p = _imbsweep(root, "--cfg", "job", "sweeps=tune_brf")
    assert p.returncode == 0 and yaml.safe_load(p.stdout)["method"]["name"] == "brf"
    p = _imbsweep(root, "sweeps=nope", "tracking.enabled=false")
    assert p.returncode != 0 and "Could not find 'sweeps/nope'" in p.stderr
    assert "tune_brf" in p.stderr  # Hydra lists the available options
