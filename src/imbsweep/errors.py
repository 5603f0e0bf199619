"""The errors users see for bad input: each names the key, the value and what is allowed.

Entry points print an :class:`InputError` as its message alone, without a traceback, and exit
with :data:`EXIT_BAD_INPUT` (:func:`exit_bad_input`).
"""

from __future__ import annotations

import sys
from typing import NoReturn

# Status of a command stopped by bad input (argparse's for a bad argument, too).
EXIT_BAD_INPUT = 2


class InputError(ValueError):
    """Input the user can fix; its message says what is wrong and how to fix it."""


class ConfigError(InputError):
    """Bad configuration or input data, detected before any run is opened."""

    def __init__(self, key: str, value: object, allowed: str, detail: str | None = None):
        self.key, self.value, self.allowed = key, value, allowed
        msg = f"{key}={value!r} is not valid: expected {allowed}."
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


class SweepInputError(InputError):
    """Bad input found while planning a sweep (each distinct problem once, with its jobs)."""


class SkipMethod(Exception):
    """The method cannot apply to this data (e.g. too few minority rows); recorded, not fatal."""


def exit_bad_input(prog: str, message: object) -> NoReturn:
    """Print ``prog: message`` on stderr and exit with :data:`EXIT_BAD_INPUT`."""
    from imbsweep.credentials import redact_text

    # A message may quote the overrides, and so a password the user typed.
    sys.stderr.write(f"{prog}: {redact_text(str(message))}\n")
    sys.stderr.flush()
    raise SystemExit(EXIT_BAD_INPUT)
