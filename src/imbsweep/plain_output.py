"""No raw ANSI colour codes in output that is not a terminal (logs, pipes, CI); no progress bars.

MLflow colours some warnings by putting escape codes into the warning text (``color_warning``)
and some log lines with its own formatter, whatever the output is; in a log file or a CI page
they show as ``[1;33m...`` noise. A terminal still gets the colours.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _NoColour(logging.Filter):
    """Drops the ``color`` MLflow's formatter reads, unless the handler writes to a terminal."""

    def __init__(self, handler: logging.Handler):
        super().__init__()
        self.handler = handler

    def filter(self, record: logging.LogRecord) -> bool:
        if not _tty(getattr(self.handler, "stream", None)) and hasattr(record, "color"):
            record.color = None
        return True


def install() -> None:
    """Strip colour codes from warnings and MLflow's log lines when they do not go to a terminal.

    Also turns off MLflow's artifact progress bars (logging a pyfunc model with artifacts draws
    two per seed run), unless ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR`` is set.

    Idempotent; call after MLflow is imported (its log handlers exist from then on).
    """
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    fmt = warnings.formatwarning
    if not getattr(fmt, "_imbsweep_plain", False):

        def formatwarning(message, category, filename, lineno, line=None):
            text = fmt(message, category, filename, lineno, line)
            return text if _tty(sys.stderr) else strip_ansi(text)

        formatwarning._imbsweep_plain = True  # type: ignore[attr-defined]
        formatwarning.__wrapped__ = fmt  # type: ignore[attr-defined]
        warnings.formatwarning = formatwarning
    for handler in logging.getLogger("mlflow").handlers:
        if not any(isinstance(f, _NoColour) for f in handler.filters):
            handler.addFilter(_NoColour(handler))
