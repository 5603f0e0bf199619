"""Hydra test app for the Optuna sweeper: returns ``|x - 1|^p + |y + 2|^p``."""

from __future__ import annotations

import json
import os
import time

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """Return ``|x - 1|^p + |y + 2|^p`` (p from ``shape``), failing or returning nan on request."""
    start = time.time()
    num = HydraConfig.get().job.num
    pause = cfg.first_sleep if cfg.first_sleep and num == 0 else cfg.sleep
    if pause:
        time.sleep(pause)
    x, y = float(cfg.x), float(cfg.y)
    if cfg.record:
        entry = {"stage": cfg.stage, "x": x, "y": y, "pid": os.getpid(), "num": num}
        entry.update(start=start, end=time.time())
        with open(cfg.record, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
    if cfg.fail_above is not None and x > cfg.fail_above:
        raise ValueError(f"x={x} is above fail_above={cfg.fail_above}")
    if cfg.nan_above is not None and x > cfg.nan_above:
        return float("nan")
    power = cfg.shape.power
    return abs(x - 1.0) ** power + abs(y + 2.0) ** power


if __name__ == "__main__":
    main()
