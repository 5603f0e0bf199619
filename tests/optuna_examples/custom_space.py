"""Example app whose search space is extended per trial by ``configure`` (custom_search_space)."""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="custom_space_conf", config_name="config")
def sphere4(cfg: DictConfig) -> float:
    return sum(float(cfg[k]) ** 2 for k in ("w", "x", "y", "z"))


def configure(cfg: DictConfig, trial) -> None:
    """Suggest z near the trial's x, and w, a key the config lacks (hence ``+w``)."""
    x = trial.params["x"]
    gap = cfg.max_z_difference_from_x
    trial.suggest_float("z", x - gap, x + gap)
    trial.suggest_float("+w", 0.0, 1.0)


if __name__ == "__main__":
    sphere4()
