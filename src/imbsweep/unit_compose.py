"""A unit's Hydra config from its job's, composed once per job instead of once per seed.

Composing a config is ~0.1 s; a sweep's units are its jobs x seeds and a job's seeds differ only
in ``unit.*`` values. The sweeper composes each job while planning and keeps it here; a unit's
config is a copy with its own values applied the way Hydra applies command-line overrides, with
the same ``hydra.overrides.task`` and ``override_dirname`` (tests/test_engine.py checks the
result equals Hydra's own composition). Not in ``hydra_plugins``: Hydra's plugin scanner
imports those modules a second time, and this cache must be one per process.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

UNIT_PREFIX = "unit."  # the overrides that differ between the seeds of one job
_COMPOSED: dict[tuple, DictConfig] = {}  # ~150 KB each
_COMPOSED_MAX = 1024


def split_unit(overrides: Sequence[str]) -> tuple[list[str], list[str]]:
    """A unit's overrides as (its job's, its own ``unit.*`` ones)."""
    job = [o for o in overrides if not o.startswith(UNIT_PREFIX)]
    return job, [o for o in overrides if o.startswith(UNIT_PREFIX)]


def _key(master: DictConfig, job: Sequence[str]) -> tuple:
    import os

    hydra = master.hydra
    return (str(hydra.job.config_name), tuple(hydra.overrides.hydra), tuple(job), os.getcwd())


def remember(master: DictConfig, job: Sequence[str], cfg: DictConfig) -> None:
    """Keep ``cfg``, what ``load_sweep_config(master, job)`` gave, for the job's units."""
    if len(_COMPOSED) >= _COMPOSED_MAX:
        _COMPOSED.pop(next(iter(_COMPOSED)))
    _COMPOSED[_key(master, job)] = cfg


def composed(master: DictConfig, overrides: Sequence[str]) -> DictConfig | None:
    """The kept config of the job a unit (given by its overrides) belongs to, if any."""
    return _COMPOSED.get(_key(master, split_unit(overrides)[0]))


def compose_unit(
    hydra_context: Any, master: DictConfig, overrides: Sequence[str], job_cfg: Any = None
) -> DictConfig:
    """What ``load_sweep_config(master, overrides)`` gives, composing each job once.

    ``job_cfg``: the job's composed config when the caller sent it along (a Dask task);
    otherwise this process's kept copy, or a new composition that is then kept.
    """
    from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
    from hydra.core.override_parser.overrides_parser import OverridesParser

    job, own = split_unit(overrides)
    key = _key(master, job)
    if job_cfg is None:
        job_cfg = _COMPOSED.get(key)
    if job_cfg is None:
        job_cfg = hydra_context.config_loader.load_sweep_config(master, list(job))
    if key not in _COMPOSED:
        remember(master, job, job_cfg)
    cfg = copy.deepcopy(job_cfg)
    parser = OverridesParser.create()
    ConfigLoaderImpl._apply_overrides_to_config(parser.parse_overrides(own), cfg)
    with open_dict(cfg.hydra):
        cfg.hydra.overrides.task.extend(own)
        od = cfg.hydra.job.config.override_dirname
        cfg.hydra.job.override_dirname = get_overrides_dirname(
            overrides=parser.parse_overrides(list(cfg.hydra.overrides.task)),
            kv_sep=od.kv_sep,
            item_sep=od.item_sep,
            exclude_keys=od.exclude_keys,
        )
    OmegaConf.copy_cache(from_config=master, to_config=cfg)
    return cfg
