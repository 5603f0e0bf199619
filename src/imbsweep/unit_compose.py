"""Hydra configs for a sweep's jobs and units, composing each choice of config groups once.

Composing a config costs ~0.17 s, most of it building the defaults list. A sweep composes each
job while planning and each unit (job x seed) in a worker: 468 jobs and 1,404 units in the
cross-dataset benchmark, minutes of work. But only the config-group overrides (``method=brf``)
change what is composed; value overrides (``dataset.name=yeast3``, ``unit.seed=3``) are set on
the result afterwards, by Hydra too. So the composition for each set of group overrides is
kept, and a config is a copy of it with the value overrides applied the way Hydra applies them,
and the same ``hydra.overrides`` and ``override_dirname``. tests/test_engine.py checks the result
equals Hydra's own composition. Not under ``hydra_plugins``: Hydra's plugin scanner imports
those modules a second time, and this cache must be one per process.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

_BASES: dict[tuple, DictConfig] = {}  # group overrides -> composed config (~150 KB each)
_BASES_MAX = 64


def load_sweep_config(loader: Any, master: DictConfig, overrides: Sequence[str]) -> DictConfig:
    """What ``loader.load_sweep_config(master, overrides)`` returns, composed once per groups."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.types import RunMode

    lines = [*OmegaConf.to_container(master.hydra.overrides.hydra), *overrides]
    parsed = OverridesParser.create().parse_overrides(lines)
    if any(o.key_or_group.startswith("hydra.searchpath") for o in parsed):
        return loader.load_sweep_config(master, list(overrides))  # changes what groups exist
    repo = loader.repository
    groups, values = [], []
    for o in parsed:  # Hydra's own rule (defaults_list.Overrides)
        is_group = repo.group_exists(o.key_or_group) and not isinstance(o.value(), dict)
        (groups if is_group else values).append(o)
    name = master.hydra.job.config_name
    key = (name, tuple(o.input_line for o in groups), os.getcwd())
    base = _BASES.get(key)
    if base is None:
        base = loader.load_configuration(
            config_name=name, overrides=[o.input_line for o in groups], run_mode=RunMode.RUN
        )
        if len(_BASES) >= _BASES_MAX:
            _BASES.pop(next(iter(_BASES)))
        _BASES[key] = base
    cfg = copy.deepcopy(base)
    ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
    task = [o for o in parsed if not o.is_hydra_override()]
    with open_dict(cfg.hydra):
        cfg.hydra.overrides.hydra = [o.input_line for o in parsed if o.is_hydra_override()]
        cfg.hydra.overrides.task = [o.input_line for o in task]
        od = cfg.hydra.job.config.override_dirname
        cfg.hydra.job.override_dirname = get_overrides_dirname(
            overrides=task, kv_sep=od.kv_sep, item_sep=od.item_sep, exclude_keys=od.exclude_keys
        )
    OmegaConf.copy_cache(from_config=master, to_config=cfg)
    return cfg
