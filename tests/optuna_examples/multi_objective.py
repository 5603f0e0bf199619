"""Example app with two objectives (Binh and Korn): both minimised, in conflict."""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="multi_objective_conf", config_name="config")
def binh_korn(cfg: DictConfig) -> tuple[float, float]:
    x, y = float(cfg.x), float(cfg.y)
    return 4 * x**2 + 4 * y**2, (x - 5) ** 2 + (y - 5) ** 2


if __name__ == "__main__":
    binh_korn()
