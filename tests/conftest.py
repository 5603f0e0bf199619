"""Shared fixtures: the real config composed once per call, and a throwaway sqlite MLflow store."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
BIN = Path(sys.executable).parent

# Small and fast, same code paths: 1,000 rows, few trees, one unit per seed (the k-fold
# protocol, the default on this data, has its own tests: test_kfold.py, test_intervals.py).
SMALL = ["dataset.n_samples=1000", "method.n_estimators=10", "split.protocol=holdout"]


def compose_cfg(overrides: list[str] | None = None) -> dict:
    """The real config, composed as the app does, as a plain dict (hydra node dropped)."""
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=overrides or [])
    cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    return OmegaConf.to_container(cfg, resolve=True)


@pytest.fixture
def store(tmp_path, monkeypatch) -> str:
    """A fresh sqlite tracking store; every MLflow call in the test goes there."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    import mlflow

    mlflow.set_tracking_uri(uri)
    return uri


def run_cli(
    args: list[str], cwd: Path, uri: str, timeout: int = 600, **env
) -> subprocess.CompletedProcess:
    """Run a console script of this environment with the store in ``uri``."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    e.update(MLFLOW_TRACKING_URI=uri, PATH=f"{BIN}:{os.environ.get('PATH', '')}", **env)
    return run_diagnosed(args, cwd=cwd, env=e, timeout=timeout)


def run_diagnosed(args: list[str], timeout: float, **kw) -> subprocess.CompletedProcess:
    """``subprocess.run`` (text, output captured) that explains a hang (:func:`communicate`)."""
    env = {**(kw.pop("env", None) or os.environ), "PYTHONFAULTHANDLER": "1"}
    p = subprocess.Popen(
        args,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **kw,
    )
    out, err = communicate(p, timeout)
    return subprocess.CompletedProcess(args, p.returncode, out, err)


def communicate(p: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """``p.communicate`` that explains a hang. ``p`` must lead its own session
    (``start_new_session=True``) with ``PYTHONFAULTHANDLER=1`` in its environment: on timeout
    every process of it (workers too) prints the stack of each of its threads (faulthandler on
    SIGABRT) before the group is killed, and the error carries them."""
    try:
        return p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGABRT)
        try:
            out, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            out, err = "", ""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        raise AssertionError(
            f"{' '.join(map(str, p.args))} did not finish in {timeout} s; its output, then the "
            f"stacks of its threads:\n{(out or '')[-3000:]}\n{(err or '')[-20000:]}"
        ) from None


@pytest.fixture(scope="session")
def small_sweep(tmp_path_factory):
    """One real sweep through the CLI on a fresh sqlite store: (uri, sweep dir).

    2 methods x 2 datasets x 3 seeds; shared by the tests that read what a person compares.
    """
    tmp = tmp_path_factory.mktemp("ui")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    sweep_dir = tmp / "sweep"
    args = [
        "imbsweep",
        "method=naive,brf",
        "dataset=synthetic,fraud",
        "seeds=3",
        "dataset.n_samples=1000",
        "method.n_estimators=10",
        "split.protocol=holdout",  # one seed run per seed: what the UI tests count
        "hydra/launcher=basic",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    r = run_cli(args, tmp, uri)
    assert r.returncode == 0, r.stderr[-3000:]
    return uri, sweep_dir
