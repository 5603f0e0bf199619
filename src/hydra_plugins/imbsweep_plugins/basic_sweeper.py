"""Hydra's basic sweeper, plus imbsweep's value checks on every job before the first one runs.

The basic sweeper already composes every job up front (unknown method or dataset fail at once);
this adds the checks of ``imbsweep.config.check_config`` (k_neighbors < 1, epochs < 1, ...), so a
bad point in a sweep fails the whole sweep at start and nothing is written to MLflow.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore

from hydra_plugins.imbsweep_plugins.checks import check_jobs


@dataclass
class ImbsweepBasicSweeperConf:
    _target_: str = "hydra_plugins.imbsweep_plugins.basic_sweeper.ImbsweepBasicSweeper"
    # Optional[...], not `X | None`: no `from __future__` in plugin modules (Hydra's scanner).
    max_batch_size: Optional[int] = None  # noqa: UP045
    params: Optional[dict[str, str]] = field(default=None)  # noqa: UP045


ConfigStore.instance().store(
    group="hydra/sweeper", name="imbsweep_basic", node=ImbsweepBasicSweeperConf, provider="imbsweep"
)


class ImbsweepBasicSweeper(BasicSweeper):
    def __init__(self, max_batch_size: Optional[int], params: Optional[dict[str, Any]] = None):  # noqa: UP045
        super().__init__(max_batch_size=max_batch_size, params=params)

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        check_jobs(self, batch)
