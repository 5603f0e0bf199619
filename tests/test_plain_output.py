"""MLflow's coloured warnings and log lines carry no escape codes into files and pipes."""

from __future__ import annotations

import io
import logging
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli
from mlflow.utils.warnings_utils import color_warning

from imbsweep import plain_output


def test_warnings_lose_their_colour_codes_off_a_terminal(monkeypatch):
    # As Python has it (an earlier test in this process may have installed ours already).
    original = getattr(warnings.formatwarning, "__wrapped__", warnings.formatwarning)
    monkeypatch.setattr(warnings, "formatwarning", original)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        color_warning("take care", stacklevel=1, color="yellow_bold")
    (w,) = caught

    def shown() -> str:
        return warnings.formatwarning(w.message, w.category, w.filename, w.lineno)

    monkeypatch.setattr("sys.stderr", io.StringIO())  # not a terminal
    assert "\x1b[" in shown()  # what MLflow does
    plain_output.install()
    plain_output.install()  # idempotent
    assert "take care" in shown() and "\x1b" not in shown()


def test_mlflow_log_lines_lose_their_colour_off_a_terminal():
    import mlflow  # noqa: F401  (configures MLflow's handlers)

    logger = logging.getLogger("mlflow")
    handler = logger.handlers[0]
    stream = io.StringIO()
    old = handler.setStream(stream)
    try:
        for f in [f for f in handler.filters if isinstance(f, plain_output._NoColour)]:
            handler.removeFilter(f)
        logging.getLogger("mlflow.pyfunc").warning("before", extra={"color": "red"})
        assert "\x1b[" in stream.getvalue()  # what MLflow does
        plain_output.install()
        logging.getLogger("mlflow.pyfunc").warning("careful", extra={"color": "red"})
    finally:
        handler.setStream(old)
    last = stream.getvalue().splitlines()[-1]
    assert "careful" in last and "\x1b" not in last


@pytest.mark.slow
def test_a_sweep_on_a_csv_with_a_categorical_column_prints_no_noise(tmp_path):
    """The nets become pyfunc models with their encoder; nothing about it reaches the user."""
    rng = np.random.default_rng(0)
    n = 600
    pd.DataFrame(
        {
            "amount": rng.normal(size=n),
            "kind": rng.choice(["a", "b", "c"], n),
            "hour": rng.integers(0, 24, n),
            "label": np.where(rng.random(n) < 0.1, "yes", "no"),
        }
    ).to_csv(tmp_path / "t.csv", index=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["imbsweep", "method=smote_ann,brf", "seeds=1", "method.epochs=1", "report.plot=false"]
    args += ["dataset=file", "dataset.path=t.csv", "dataset.target=label"]
    p = run_cli([*args, f"hydra.sweep.dir={tmp_path / 's'}"], tmp_path, uri)
    assert p.returncode == 0, p.stderr[-3000:]
    out = p.stdout + p.stderr
    assert "| smote_ann k=5 | 1 |" in out
    for noise in ("CloudPickle", "Downloading artifacts", "Warning", "WARNING", "\x1b["):
        assert noise not in out, out[out.find(noise) - 300 : out.find(noise) + 300]
