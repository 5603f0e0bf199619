"""Errors of the Optuna sweeper: Hydra prints their message alone, without a traceback."""

from hydra.errors import CompactHydraException


class OptunaSweeperError(CompactHydraException):
    """A setting or outcome that stops the sweep."""


class SearchSpaceError(OptunaSweeperError, ValueError):
    """A search-space entry that cannot be turned into an Optuna distribution."""
