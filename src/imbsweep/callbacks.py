"""Hydra callback for sweep-level work: open the sweep, and at the end build its ranges table."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from imbsweep import sweep, tracking

log = logging.getLogger("imbsweep")


def _driven(config: DictConfig) -> bool:
    # imbsweep's own sweeper owns its sweep run (imbsweep.driver); this callback serves the
    # sweepers that run whole jobs (the Optuna sweeper).
    target = str(config.hydra.sweeper.get("_target_", ""))
    return target.endswith("imbsweep_plugins.sweeper.ImbsweepSweeper")


class SweepCallback(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if _driven(config):
            return
        tcfg = OmegaConf.to_container(config.tracking, resolve=True)
        # The tracker is only built to adopt `mlflow run`'s run; nothing else is written here.
        tracker = tracking.Tracker(**tcfg) if "MLFLOW_RUN_ID" in os.environ else None
        sweep.start(Path(config.hydra.sweep.dir).resolve(), tracker)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if _driven(config):
            return
        sweep_dir = Path(config.hydra.sweep.dir).resolve()
        run_file = sweep_dir / sweep.RUN_ID_FILE
        tcfg = OmegaConf.to_container(config.tracking, resolve=True)
        if not tcfg["enabled"] or not run_file.exists():
            failed = sweep.failures(sweep_dir)
        else:
            tracker = tracking.Tracker(**tcfg)
            sweep_id = run_file.read_text().strip()
            try:
                failed = sweep.finish(
                    tracker, sweep_id, sweep_dir, config.report.claims, config.report.plot
                )
            except Exception:
                # Hydra would only warn: close the run as FAILED and exit non-zero instead.
                log.exception("building the sweep's table failed")
                tracker.end_run(sweep_id, "FAILED")
                raise SystemExit(1) from None
        if failed:
            lines = "\n".join(
                f"  - {f['label']} ({' '.join(f['overrides'])}): {f['error']}" for f in failed
            )
            log.error(
                "%d job(s) of the sweep failed; the table above covers the jobs that finished. "
                "Failed jobs (details in each run's error.txt in MLflow):\n%s",
                len(failed),
                lines,
            )
            # Hydra turns a callback's exceptions into warnings; the exit code must say it failed.
            raise SystemExit(1)
