"""Entry point: ``imbsweep [overrides]``. Composes the config; the sweeper and launcher run it.

``train`` is Hydra's task function. Under imbsweep's sweeper (the default) each call is one unit,
one seed of one config; under the Optuna sweeper each call is one trial, a config over its seeds.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from imbsweep import tracking
from imbsweep.errors import InputError, exit_bad_input

log = logging.getLogger("imbsweep")


def train(cfg: DictConfig) -> float | list[float]:
    """Run one job and return the objective(s) a sweeper optimises (NaN if the job failed)."""
    # Imported here, not at the top: `imbsweep --help` need not load scikit-learn and MLflow.
    from imbsweep.runner import objectives, prepare, run_job, run_unit

    c = OmegaConf.to_container(cfg, resolve=True)
    hc = HydraConfig.get()
    if c.get("unit", {}).get("seed") is not None:
        # One seed of one job, launched by the sweep driver (hydra/sweeper=imbsweep).
        ovr = " ".join(o for o in hc.overrides.task if not o.startswith(("unit.", "stage=")))
        return run_unit(c, ovr)
    # One job over its seeds: an Optuna trial, or a final job of a study (under the sweep run
    # its hooks opened, in unit.sweep_id). Errors propagate: the sweeper records them.
    unit = c.get("unit") or {}
    ds = prepare(c)  # checks and data first: bad input never opens a run
    settings = dict(c["tracking"])
    if unit.get("tracking_uri"):
        settings.update(uri=unit["tracking_uri"], experiment_id=unit.get("experiment_id"))
    tracker = tracking.Tracker(**settings)
    ovr = " ".join(o for o in hc.overrides.task if not o.startswith(("stage=", "unit.")))
    result = run_job(c, tracker, unit.get("sweep_id"), ds, ovr)
    value, logged = objectives(c, result.metrics)
    # What the sweeper optimises, on the job run: trial runs show their objective in the UI.
    tracker.log_metrics(result.run_id, logged)
    if c.get("stage") == "trial":
        tracker.set_tags(result.run_id, {"optuna_trial": hc.job.num})
    return value


# Absolute: a relative path inside a package would be read as a package resource.
@hydra.main(
    version_base="1.3", config_path=str(tracking.PROJECT_ROOT / "conf"), config_name="config"
)
def _hydra_main(cfg: DictConfig) -> float:
    return train(cfg)


def expand_overrides(argv: list[str]) -> list[str]:
    """Split ``--overrides "a=1 b=2"`` into separate Hydra overrides.

    `mlflow run` quotes each MLproject parameter as one shell word, so several overrides arrive
    as one argument; shell-style splitting keeps quoted values (``'x=a b'``) intact.
    """
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--overrides":
            out += shlex.split(next(it, ""))
        elif arg.startswith("--overrides="):
            out += shlex.split(arg.split("=", 1)[1])
        else:
            out.append(arg)
    return out


def main() -> None:
    # TensorFlow's C++ start-up lines are noise for users; real errors still surface.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.argv = [sys.argv[0], *expand_overrides(sys.argv[1:])]
    user_wants_traces = os.environ.get("HYDRA_FULL_ERROR") == "1"
    # Hydra prints an error raised by a sweeper (e.g. bad data found while planning) with ~20
    # lines of its own frames. With this set it re-raises instead: bad input is printed below as
    # its message alone, and anything else (a bug) keeps its full traceback.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        _hydra_main()
    except (InputError, CompactHydraException) as exc:
        if user_wants_traces:
            raise
        message = str(exc)
        if isinstance(exc.__cause__, InputError):  # e.g. raised building the launcher
            message = str(exc.__cause__)
        elif isinstance(exc.__cause__, OmegaConfBaseException):  # as Hydra shows it
            message += "\n" + str(exc.__cause__)
        exit_bad_input("imbsweep", message)


if __name__ == "__main__":
    main()
