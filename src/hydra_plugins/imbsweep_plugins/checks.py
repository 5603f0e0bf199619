"""imbsweep's value checks on every job of a sweep, before the first job runs."""

from collections.abc import Sequence
from typing import Any

from omegaconf import OmegaConf


def check_jobs(sweeper: Any, batch: Sequence[Sequence[str]]) -> None:
    """Compose each job's config (as Hydra does) and run ``imbsweep.config.check_config`` on it.

    Configs of other apps (no ``method``/``dataset``/``seeds`` keys) are only composed.
    """
    from imbsweep.config import check_config

    for overrides in batch:
        cfg = sweeper.hydra_context.config_loader.load_sweep_config(sweeper.config, list(overrides))
        if not {"method", "dataset", "seeds"} <= set(cfg.keys()):
            continue
        job_cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
        try:
            check_config(OmegaConf.to_container(job_cfg, resolve=True))
        except ValueError as exc:
            raise ValueError(f"{exc}\n  in sweep job: {' '.join(overrides)}") from None
