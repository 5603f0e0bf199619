"""Hydra sweeper driving an Optuna (5.x) study with ask/tell: ``hydra/sweeper=optuna``.

A successor of Hydra's official ``hydra-optuna-sweeper`` (whose release pins ``optuna<3``): the
same config keys and defaults (:mod:`.config`), the same search-space grammar and distributions
(:mod:`.search_space`), every Optuna sampler as ``hydra/sweeper/sampler=...``, multi-objective
studies with the Pareto front in ``optimization_results.yaml``, ``custom_search_space``, and
``max_failure_rate`` per batch. Beyond it:

* ``n_trials`` is the number of COMPLETE trials the study should reach: re-running with the
  same ``storage`` and ``study_name`` resumes, and only the missing trials run; the sampler's
  seed is offset by the trials already there, so a resume does not replay the first draws;
* trials carry heartbeats; RUNNING trials of a dead driver are failed when the study is next
  opened (:mod:`.heartbeat`);
* every setting, the search space and one composed config per corner of it are checked before
  any study is created or opened;
* the app may plug in hooks (``hydra.sweeper.hooks._target_``), e.g. to tag its jobs with a
  stage and re-run the best settings at the end. The protocol is in :mod:`.hooks`; without
  hooks the sweeper knows nothing of the app.

Hydra imports every module under ``hydra_plugins`` (but not ``_``-prefixed ones) when any Hydra
app starts: the modules here are light, and Optuna is imported only by ``_impl``, when the
sweeper is built.
"""

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

# Registers hydra/sweeper=optuna and hydra/sweeper/sampler=... in Hydra's ConfigStore.
from hydra_plugins.imbsweep_plugins.optuna_sweeper import config as _config  # noqa: F401

_LAZY = {
    "OptunaSweeperError": "errors",
    "SearchSpaceError": "errors",
    "parse_search_space": "search_space",
    "GRAMMAR_HELP": "search_space",
    "SweeperHooks": "hooks",
    "RESULTS_FILE": "config",
    "DRIVER_ATTR": "config",
    "OVERRIDES_ATTR": "config",
    "ERROR_ATTR": "config",
}


def __getattr__(name: str) -> Any:
    # Looked up when asked for: Hydra's plugin scan re-executes the submodules, and a copy
    # taken here before the scan would be another class than the one the sweeper raises.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(name)


class OptunaSweeper(Sweeper):
    """The sweeper Hydra instantiates; the work is in ``_impl.OptunaSweeperImpl``.

    Keyword arguments are the keys of :class:`.config.OptunaSweeperConf`.
    """

    def __init__(self, **kwargs: Any) -> None:
        from hydra_plugins.imbsweep_plugins.optuna_sweeper._impl import OptunaSweeperImpl

        self.sweeper = OptunaSweeperImpl(**kwargs)

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.sweeper.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        return self.sweeper.sweep(arguments)
