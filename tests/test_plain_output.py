"""MLflow's coloured warnings and log lines carry no escape codes into files and pipes."""

from __future__ import annotations

import io
import logging
import warnings

from mlflow.utils.warnings_utils import color_warning

from imbsweep import plain_output


def test_warnings_lose_their_colour_codes_off_a_terminal(monkeypatch):
    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)
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
