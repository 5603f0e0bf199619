"""imbsweep's value checks on every job of a sweep, before the first job runs."""

from collections.abc import Sequence
from typing import Any

from omegaconf import OmegaConf


def check_jobs(sweeper: Any, batch: Sequence[Sequence[str]]) -> None:
    """Compose each job's config (as Hydra does), check it and its data as a sweep's plan does
    (``imbsweep.config.check_config``, the dataset loaded, the method's pairing with it).

    The data is loaded once per process (``load_dataset`` keeps it for the jobs run here).
    Configs of other apps (no ``method``/``dataset``/``seeds`` keys) are only composed.
    """
    from imbsweep.config import check_config
    from imbsweep.datasets import load_dataset
    from imbsweep.errors import SweepInputError
    from imbsweep.methods import check_method_data

    for overrides in batch:
        cfg = sweeper.hydra_context.config_loader.load_sweep_config(sweeper.config, list(overrides))
        if not {"method", "dataset", "seeds"} <= set(cfg.keys()):
            continue
        job_cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
        try:
            plain = OmegaConf.to_container(job_cfg, resolve=True)
            check_config(plain)
            check_method_data(plain["method"], load_dataset(plain["dataset"]))
        except ValueError as exc:
            raise SweepInputError(f"{exc}\n  in sweep job: {' '.join(overrides)}") from None
