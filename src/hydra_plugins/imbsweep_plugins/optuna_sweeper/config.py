"""Config schema: the sweeper (``hydra/sweeper=optuna``), its samplers (``hydra/sweeper/sampler``).

The keys and their defaults are those of Hydra's official ``hydra-optuna-sweeper`` (main branch),
so its users' configs and command lines carry over; the keys after ``custom_search_space`` are
ours. Sampler groups: tpe (default), random, cmaes, nsgaii, nsgaiii, qmc, grid, gp, bruteforce;
``motpe`` exists only to say it was removed from Optuna.
"""

# No `from __future__ import annotations`, and Optional[...] rather than `X | None`: Hydra's
# plugin scanner executes this module before it is in sys.modules, and OmegaConf 2.3 needs
# Optional for structured configs.
from dataclasses import dataclass, field
from typing import Any, Dict, List, NoReturn, Optional  # noqa: UP035

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

RESULTS_FILE = "optimization_results.yaml"
# Trial user attrs: the driver ("host:pid") whose heartbeats a RUNNING trial carries, the
# overrides the job got, and why a trial failed.
DRIVER_ATTR = "imbsweep_driver"
OVERRIDES_ATTR = "hydra_overrides"
ERROR_ATTR = "error"


def raise_motpe_removed(*args: Any, **kwargs: Any) -> NoReturn:
    """Target of ``hydra/sweeper/sampler=motpe``: the sampler is gone from Optuna."""
    raise ValueError(
        "The 'motpe' sampler was removed in Optuna 4.0. Use 'hydra/sweeper/sampler=tpe' "
        "instead: TPESampler handles multi-objective studies."
    )


@dataclass
class SamplerConf:
    _target_: str = MISSING


@dataclass
class TPESamplerConf(SamplerConf):
    """optuna.samplers.TPESampler; null values take Optuna's own default."""

    _target_: str = "optuna.samplers.TPESampler"
    seed: Optional[int] = None  # noqa: UP045
    consider_prior: Optional[bool] = None  # noqa: UP045
    prior_weight: Optional[float] = None  # noqa: UP045
    consider_magic_clip: Optional[bool] = None  # noqa: UP045
    consider_endpoints: Optional[bool] = None  # noqa: UP045
    n_startup_trials: int = 10
    n_ei_candidates: int = 24
    multivariate: bool = False
    group: bool = False
    warn_independent_sampling: Optional[bool] = None  # noqa: UP045
    # Optuna 5's default: a batch of n_jobs trials is asked before any is told, and the liar
    # keeps them apart.
    constant_liar: bool = True


@dataclass
class RandomSamplerConf(SamplerConf):
    _target_: str = "optuna.samplers.RandomSampler"
    seed: Optional[int] = None  # noqa: UP045


@dataclass
class CmaEsSamplerConf(SamplerConf):
    """optuna.samplers.CmaEsSampler (needs the ``cmaes`` package, pinned in this project)."""

    _target_: str = "optuna.samplers.CmaEsSampler"
    seed: Optional[int] = None  # noqa: UP045
    x0: Optional[Dict[str, Any]] = None  # noqa: UP006, UP045
    sigma0: Optional[float] = None  # noqa: UP045
    n_startup_trials: int = 1
    independent_sampler: Optional[Any] = None  # noqa: UP045
    warn_independent_sampling: bool = True
    consider_pruned_trials: bool = False
    restart_strategy: Optional[Any] = None  # noqa: UP045
    popsize: Optional[int] = None  # noqa: UP045
    # -1: unused since Optuna 4.4 (the official plugin's 2 now only triggers a warning)
    inc_popsize: int = -1
    use_separable_cma: bool = False
    with_margin: bool = False
    lr_adapt: bool = False
    source_trials: Optional[Any] = None  # noqa: UP045


@dataclass
class NSGAIISamplerConf(SamplerConf):
    _target_: str = "optuna.samplers.NSGAIISampler"
    seed: Optional[int] = None  # noqa: UP045
    population_size: int = 50
    mutation_prob: Optional[float] = None  # noqa: UP045
    crossover_prob: float = 0.9
    swapping_prob: float = 0.5
    constraints_func: Optional[Any] = None  # noqa: UP045


@dataclass
class NSGAIIISamplerConf(NSGAIISamplerConf):
    _target_: str = "optuna.samplers.NSGAIIISampler"
    dividing_parameter: int = 3


@dataclass
class QMCSamplerConf(SamplerConf):
    """optuna.samplers.QMCSampler (needs scipy, which scikit-learn brings)."""

    _target_: str = "optuna.samplers.QMCSampler"
    seed: Optional[int] = None  # noqa: UP045
    qmc_type: str = "sobol"
    scramble: bool = False
    independent_sampler: Optional[Any] = None  # noqa: UP045
    warn_asynchronous_seeding: bool = True
    warn_independent_sampling: bool = True


@dataclass
class GridSamplerConf(SamplerConf):
    """optuna.samplers.GridSampler: the grid is built from ``params`` at run time."""

    _target_: str = "optuna.samplers.GridSampler"
    _partial_: bool = True
    seed: Optional[int] = None  # noqa: UP045


@dataclass
class GPSamplerConf(SamplerConf):
    """optuna.samplers.GPSampler (needs torch, which this project does not install)."""

    _target_: str = "optuna.samplers.GPSampler"
    seed: Optional[int] = None  # noqa: UP045
    independent_sampler: Optional[Any] = None  # noqa: UP045
    n_startup_trials: int = 10
    deterministic_objective: bool = False
    constraints_func: Optional[Any] = None  # noqa: UP045
    warn_independent_sampling: bool = True


@dataclass
class BruteForceSamplerConf(SamplerConf):
    _target_: str = "optuna.samplers.BruteForceSampler"
    seed: Optional[int] = None  # noqa: UP045
    avoid_premature_stop: bool = False


@dataclass
class MOTPESamplerConf(SamplerConf):
    _target_: str = "hydra_plugins.imbsweep_plugins.optuna_sweeper.config.raise_motpe_removed"


@dataclass
class OptunaSweeperConf:
    """``hydra/sweeper=optuna``; docs/tuning.md documents every key."""

    _target_: str = "hydra_plugins.imbsweep_plugins.optuna_sweeper.OptunaSweeper"
    # Sampler and hooks reach the sweeper un-instantiated: the sampler's seed is offset on
    # resume, and the grid needs the search space first.
    _recursive_: bool = False
    defaults: List[Any] = field(default_factory=lambda: ["_self_", {"sampler": "tpe"}])  # noqa: UP006

    # Any, not SamplerConf: overriding sampler._target_ must not be held to TPE's keys.
    sampler: Any = None
    # minimize | maximize, or a list of them for a multi-objective study
    direction: Any = "minimize"
    # SQLAlchemy URL; null: an in-memory study (as in the official plugin: no resume)
    storage: Optional[Any] = None  # noqa: UP045
    # null: Optuna generates a new name (so a stored study is never resumed)
    study_name: Optional[str] = None  # noqa: UP045
    # The study's target of COMPLETE trials: a re-run with the same storage and study resumes.
    n_trials: int = 20
    # Trials per batch handed to the launcher at once.
    n_jobs: int = 2
    # Highest tolerated share of failed trials in one batch.
    max_failure_rate: float = 0.0
    # {} rather than null: Hydra cannot merge a command-line dict into a null typed dict.
    params: Optional[Dict[str, str]] = field(default_factory=dict)  # noqa: UP006, UP045
    # Dotpath of a function f(config, trial) that may suggest more parameters per trial.
    custom_search_space: Optional[str] = None  # noqa: UP045

    # ---- beyond the official plugin
    # true: delete an existing study of this name in the storage first.
    fresh: bool = False
    # Seconds between heartbeats of running trials; a RUNNING trial whose last heartbeat (or
    # start, if it never had one) is older than grace_period is failed as stale.
    heartbeat_interval: int = 30
    grace_period: Optional[int] = None  # noqa: UP045  null: 2 * heartbeat_interval
    # The app's hooks (a `_target_` node), see the package docstring; null: none.
    hooks: Optional[Any] = None  # noqa: UP045


_SAMPLERS = {
    "tpe": TPESamplerConf,
    "random": RandomSamplerConf,
    "cmaes": CmaEsSamplerConf,
    "nsgaii": NSGAIISamplerConf,
    "nsgaiii": NSGAIIISamplerConf,
    "qmc": QMCSamplerConf,
    "grid": GridSamplerConf,
    "gp": GPSamplerConf,
    "bruteforce": BruteForceSamplerConf,
    "motpe": MOTPESamplerConf,
}

_cs = ConfigStore.instance()
_cs.store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider="imbsweep")
for _name, _node in _SAMPLERS.items():
    _cs.store(group="hydra/sweeper/sampler", name=_name, node=_node, provider="imbsweep")
