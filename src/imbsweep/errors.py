"""The one error type users see for bad input: it names the key, the value and what is allowed."""

from __future__ import annotations


class ConfigError(ValueError):
    """Bad configuration or input data, detected before any run is opened."""

    def __init__(self, key: str, value: object, allowed: str, detail: str | None = None):
        self.key, self.value, self.allowed = key, value, allowed
        msg = f"{key}={value!r} is not valid: expected {allowed}."
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


class SweepInputError(ValueError):
    """Bad input found while planning a sweep (each distinct problem once, with its jobs)."""


class SkipMethod(Exception):
    """The method cannot apply to this data (e.g. too few minority rows); recorded, not fatal."""
