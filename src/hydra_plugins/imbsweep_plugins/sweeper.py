"""``hydra/sweeper=imbsweep``: Hydra's grid sweep, run one seed of one config at a time.

The grammar and the grid are Hydra's basic sweeper's (``a,b`` = sweep, ``key=value`` = fixed).
What it adds: each config is checked and its data loaded before anything runs
(:func:`imbsweep.driver.plan`), and the grid's jobs x seeds become the units the launcher runs,
under the sweep run that :class:`imbsweep.driver.SweepDriver` owns (resume, job runs, table).
The module stays light: Hydra imports every plugin module whenever any Hydra app starts.
"""

# No `from __future__ import annotations`: Hydra's plugin scanner runs this module before it
# is in sys.modules, and dataclasses then fail on string annotations.
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("imbsweep")


@dataclass
class ImbsweepSweeperConf:
    _target_: str = "hydra_plugins.imbsweep_plugins.sweeper.ImbsweepSweeper"
    # Optional[...], not `X | None`: see the note on imports above.
    params: Optional[dict[str, str]] = field(default=None)  # noqa: UP045


_cs = ConfigStore.instance()
_cs.store(group="hydra/sweeper", name="imbsweep", node=ImbsweepSweeperConf, provider="imbsweep")
# The name earlier releases used in sweeps/*.yaml.
_cs.store(
    group="hydra/sweeper", name="imbsweep_basic", node=ImbsweepSweeperConf, provider="imbsweep"
)


class ImbsweepSweeper(Sweeper):
    def __init__(self, params: Optional[dict[str, Any]] = None):  # noqa: UP045
        super().__init__()
        self.params = dict(params or {})
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

        # Composed once per choice of config groups (e.g. once per method, not per dataset).
        cfg = unit_compose.load_sweep_config(
            self.hydra_context.config_loader, self.config, overrides
        )
        job = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
        return OmegaConf.to_container(job, resolve=True)

    def sweep(self, arguments: list) -> None:
        from hydra_plugins.imbsweep_plugins.dask_launcher import launch_units
        from imbsweep import driver

        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        given = [f"{k}={v}" for k, v in self.params.items()] + list(arguments)
        grid = BasicSweeper.split_arguments(parser.parse_overrides(given), None)[0]
        sweep_dir = Path(self.config.hydra.sweep.dir).resolve()
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")

        try:
            prepare = getattr(self.launcher, "prepare", None)
            n_known = len(grid) * driver.seed_count(self.config)
            wants = getattr(self.launcher, "wants_estimate", None)
            early = prepare is not None and not (wants is not None and wants(n_known))
            if early:  # e.g. start the workers while the jobs are planned
                prepare(n_known)
            t0 = time.perf_counter()
            jobs = driver.plan(grid, self._compose)
            log.info(
                "checked %d job(s) and their data in %.1f s", len(jobs), time.perf_counter() - t0
            )
            if prepare is not None and not early:
                # Planned first (~1 s): the launcher may find the work too small for workers.
                units = sum(len(j.units) for j in jobs)
                prepare(units, seconds=driver.estimate_seconds(jobs))
            primary = OmegaConf.to_container(
                OmegaConf.masked_copy(self.config, [k for k in self.config if k != "hydra"]),
                resolve=True,
            )
            name = driver.sweep_name(jobs, arguments)
            drv = driver.SweepDriver(primary, sweep_dir, name)
            warm = getattr(self.launcher, "warm", None)  # e.g. TensorFlow set up before any unit
            code = drv.run(
                jobs,
                lambda batch, costs: launch_units(self.launcher, batch, costs),
                warm=None if warm is None else lambda todo: warm(driver.warm_ups(todo)),
            )
            if code:
                raise SystemExit(code)
        finally:
            # Also on bad input found while planning: a cluster still starting is shut down
            # quietly, not torn down under its start-up thread at exit.
            close = getattr(self.launcher, "close", None)
            if close is not None:
                close()
