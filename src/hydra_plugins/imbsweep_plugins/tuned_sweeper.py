"""``hydra/sweeper=imbsweep_tuned``: the grid of ``sweeps=benchmark_tuned``, each dataset x method
at its defaults and tuned by nested Optuna studies (:mod:`imbsweep.benchmark_tuned`).

The grid's grammar is the basic sweeper's (``a,b`` = sweep, ``key=value`` = fixed). The module
stays light: Hydra imports every plugin module whenever any Hydra app starts.
"""

# No `from __future__ import annotations`: see sweeper.py (Hydra's plugin scanner).
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("imbsweep")


@dataclass
class ImbsweepTunedSweeperConf:
    _target_: str = "hydra_plugins.imbsweep_plugins.tuned_sweeper.ImbsweepTunedSweeper"
    params: Optional[dict[str, str]] = field(default=None)  # noqa: UP045
    # One Optuna storage for every study: sqlite here, a PostgreSQL URL when shared.
    storage: Optional[str] = None  # noqa: UP045
    sampler_seed: int = 0  # TPE's seed, offset by the trials a study already has
    heartbeat_interval: int = 30  # seconds; other machines' stale trials: after 2 x this


ConfigStore.instance().store(
    group="hydra/sweeper", name="imbsweep_tuned", node=ImbsweepTunedSweeperConf, provider="imbsweep"
)


class ImbsweepTunedSweeper(Sweeper):
    def __init__(
        self,
        params: Optional[dict[str, Any]] = None,  # noqa: UP045
        storage: Optional[str] = None,  # noqa: UP045
        sampler_seed: int = 0,
        heartbeat_interval: int = 30,
    ):
        super().__init__()
        self.params = dict(params or {})
        self.storage = storage
        self.sampler_seed = sampler_seed
        self.heartbeat_interval = heartbeat_interval
        self.config: Optional[DictConfig] = None  # noqa: UP045
        self.hydra_context: Optional[HydraContext] = None  # noqa: UP045
        self.launcher: Any = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        from hydra.core.plugins import Plugins

        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def _compose(self, overrides: list) -> dict:
        from imbsweep import unit_compose

        cfg = unit_compose.load_sweep_config(
            self.hydra_context.config_loader, self.config, overrides
        )
        job = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
        return OmegaConf.to_container(job, resolve=True)

    def sweep(self, arguments: list) -> None:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser

        from hydra_plugins.imbsweep_plugins.job_stream import open_stream
        from imbsweep import driver
        from imbsweep.benchmark_tuned import BenchmarkTuned
        from imbsweep.errors import InputError

        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        given = [f"{k}={v}" for k, v in self.params.items()] + list(arguments)
        grid = BasicSweeper.split_arguments(parser.parse_overrides(given), None)[0]
        sweep_dir = Path(self.config.hydra.sweep.dir).resolve()
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        if not self.storage:
            raise InputError("hydra.sweeper.storage: an Optuna storage URL is needed")
        primary = OmegaConf.to_container(
            OmegaConf.masked_copy(self.config, [k for k in self.config if k != "hydra"]),
            resolve=True,
        )
        try:
            prepare = getattr(self.launcher, "prepare", None)
            if prepare is not None:  # the workers start while the studies are opened
                prepare(1 + len(grid) * driver.seed_count(self.config))
            warm = getattr(self.launcher, "warm", None)
            bench = BenchmarkTuned(
                primary,
                sweep_dir,
                self._compose,
                lambda: open_stream(self.launcher),
                str(self.storage),
                self.sampler_seed,
                self.heartbeat_interval,
                warm=None if warm is None else lambda jobs: warm(driver.warm_ups(jobs)),
            )
            code = bench.run(grid, arguments)
            if code:
                raise SystemExit(code)
        finally:
            close = getattr(self.launcher, "close", None)
            if close is not None:
                close()
