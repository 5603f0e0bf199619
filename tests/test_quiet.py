"""What a net sweep prints: nothing from TensorFlow a user cannot act on, "units" throughout,
and at its end where its outputs are (report.html first, then the MLflow UI's URL)."""

from __future__ import annotations

import re

import pytest
from conftest import run_cli

# Lines TensorFlow's C++ side writes to stderr when its log level is not set in that process.
NOISE = ("absl::InitializeLog", "oneDNN", "cpu_feature_guard", "rebuild TensorFlow")


@pytest.mark.slow
def test_a_net_sweep_prints_no_tensorflow_noise_and_names_its_outputs(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = [
        "imbsweep",
        "method=weighted_ann",
        "seeds=2",
        "dataset.n_samples=600",
        "split.protocol=holdout",
        "report.plot=false",
        "hydra.launcher.n_workers=2",  # worker processes import TensorFlow themselves
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]
    p = run_cli(args, tmp_path, uri)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-3000:]
    noisy = [line for line in out.splitlines() if any(n in line for n in NOISE)]
    assert noisy == [], noisy
    assert re.search(r"\[2/2 units\]", out) and " jobs]" not in out
    assert "report: " + str(tmp_path / "sweep" / "report.html") in out
    assert re.search(r"http://127\.0\.0\.1:5000/#/experiments/\d+/runs\?viewStateShareKey=", out)
    # Synthetic data of another size is not the practical's: its claims are not mentioned.
    assert "Claims not applied" not in out
