"""`make dashboard`: optuna-dashboard serves the studies of an optuna.db, as tuning writes it."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.request

import optuna
import pytest
from conftest import BIN, ROOT

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_makefile_dashboard_target_reads_the_tuning_storage():
    make = (ROOT / "Makefile").read_text()
    cmd = re.search(r"^dashboard:.*\n\t(.+)$", make, re.M).group(1)
    # The storage the tune_* sweeps write (sweeps/tune_brf.yaml), at the project root.
    assert "optuna-dashboard sqlite:///$(CURDIR)/optuna.db" in cmd
    assert (
        "storage: sqlite:///${project_root:}/optuna.db"
        in (ROOT / "sweeps/tune_brf.yaml").read_text()
    )


def test_dashboard_lists_a_study_and_its_trials(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="tune_brf", storage=storage, direction="maximize")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    port = _free_port()
    p = subprocess.Popen(
        [str(BIN / "optuna-dashboard"), storage, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline, studies = time.time() + 60, None
        while time.time() < deadline and studies is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2) as r:
                    studies = json.load(r)["study_summaries"]
            except OSError:
                time.sleep(0.5)
        assert studies is not None, "optuna-dashboard did not answer within 60 s"
        (s,) = studies
        assert s["study_name"] == "tune_brf"
        url = f"http://127.0.0.1:{port}/api/studies/{s['study_id']}?after=0"
        with urllib.request.urlopen(url, timeout=5) as r:
            assert len(json.load(r)["trials"]) == 3
    finally:
        p.terminate()
        p.wait(timeout=10)
