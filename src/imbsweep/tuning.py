"""imbsweep's hooks into the generic Optuna sweeper (``hydra/sweeper=optuna``).

sweeps/tune_*.yaml switch them on with ``hydra.sweeper.hooks._target_=imbsweep.tuning.TuningHooks``
(the protocol: ``hydra_plugins.imbsweep_plugins.optuna_sweeper.hooks``). They add what only
imbsweep needs:

* every job gets ``stage=trial|best|default`` (``stage_key``), which the app and its MLflow runs
  use to tell study trials from the final table;
* ``seeds`` cannot be tuned (that would pick lucky seeds, not better settings);
* imbsweep's value checks (``check_config``) run on every job before the study starts, and the
  number of ``objective.metric`` values must match the sweeper's directions;
* after the study, the best settings (or, for a multi-objective study, each Pareto-optimal
  setting) and the defaults run once more over ``final_overrides`` (e.g. the final seeds):
  that batch is the sweep's table;
* the hooks own the study's MLflow sweep run (:class:`imbsweep.driver.SweepDriver`): opened when
  the study starts (a stopped study's run is resumed with it), handed to every job, and closed
  with the table at the end, or FAILED with the error if the study stops.
* the final jobs run as units (one seed each) through the sweep driver, so running the same
  command again after a crash reuses the final units that finished.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from hydra_plugins.imbsweep_plugins.optuna_sweeper.hooks import SweeperHooks
from hydra_plugins.imbsweep_plugins.optuna_sweeper.hooks import dedupe_overrides as _dedupe

log = logging.getLogger(__name__)


def _error(message: str) -> Exception:
    # looked up at call time: Hydra's plugin scan re-creates the plugin's classes
    from hydra_plugins.imbsweep_plugins.optuna_sweeper.errors import OptunaSweeperError

    return OptunaSweeperError(message)


class TuningHooks(SweeperHooks):
    """imbsweep's sweeper hooks.

    Parameters
    ----------
    stage_key : str or None
        Config key set to ``trial``/``best``/``default`` on the jobs; None sets nothing.
    finalize : bool
        Run the final batch (best or Pareto-optimal settings, and the defaults).
    final_overrides : list of str
        Extra overrides of every final job, e.g. ``["seeds=10"]``.
    """

    def __init__(
        self,
        stage_key: str | None = "stage",
        finalize: bool = True,
        final_overrides: Sequence[str] = (),
    ) -> None:
        self.stage_key = stage_key
        self.finalize_enabled = bool(finalize)
        self.final_overrides = list(final_overrides or [])
        self.driver: Any = None  # imbsweep.driver.SweepDriver, once the study is open

    def check_space(self, names: Sequence[str]) -> None:
        if any(n.lstrip("+") == "seeds" for n in names):
            raise _error(
                "seeds: not a tunable parameter; every trial uses the same seed list. Give a "
                "fixed value, e.g. seeds=5"
            )

    def study_start(self, sweeper: Any, study: Any) -> None:
        """Open the study's sweep run; a stopped run of the same stored study is resumed."""
        import hashlib

        from imbsweep.driver import SweepDriver

        primary = _plain(sweeper.config)
        if "tracking" not in primary:  # not imbsweep's own config: nothing to record
            return
        sweep_dir = Path(str(sweeper.config.hydra.sweep.dir)).resolve()
        method = (primary.get("method") or {}).get("name", "")
        name = f"study {study.study_name} | {method} | {primary.get('dataset', {}).get('name', '')}"
        self.driver = SweepDriver(primary, sweep_dir, name, {"optuna_study": study.study_name})
        storage = getattr(sweeper, "storage_url", None)
        # An in-memory study cannot be resumed, nor can its sweep run.
        key = None
        if storage:
            text = f"optuna:{storage}:{study.study_name}"
            key = hashlib.sha256(text.encode()).hexdigest()[:20]
        if self.driver.open_run(key):
            log.info("resuming the study's sweep run %s", self.driver.sweep_id)

    def job_overrides(self, stage: str) -> list[str]:
        out = [f"{self.stage_key}={stage}"] if self.stage_key else []
        drv = self.driver
        if drv is not None and drv.sweep_id:
            out += [
                f"unit.sweep_id={drv.sweep_id}",
                f"unit.tracking_uri={drv.tracker.uri}",
                f"unit.experiment_id={drv.tracker.experiment_id}",
            ]
        return out

    def validate_batch(self, sweeper: Any, batch: Sequence[Sequence[str]]) -> None:
        from hydra_plugins.imbsweep_plugins.checks import check_jobs

        try:
            check_jobs(sweeper, batch)
        except Exception as exc:
            if self.stage_key and f"'{self.stage_key}'" in str(exc):
                raise type(exc)(
                    f"{exc}\nimbsweep.tuning.TuningHooks sets '{self.stage_key}=trial|best|"
                    f"default' on every job: the app config needs a '{self.stage_key}' key, or "
                    "set hydra.sweeper.hooks.stage_key=null."
                ) from exc
            raise
        if batch:
            self._check_objectives(sweeper, batch[0])

    def _check_objectives(self, sweeper: Any, overrides: Sequence[str]) -> None:
        """One value per direction: a mismatch would fail every trial, so fail at start."""
        cfg = sweeper.hydra_context.config_loader.load_sweep_config(sweeper.config, list(overrides))
        metric = OmegaConf.select(cfg, "objective.metric")
        if metric is None:
            return
        n = len(metric) if OmegaConf.is_list(metric) else 1
        if n != len(sweeper.directions):
            raise _error(
                f"objective.metric={OmegaConf.to_container(metric) if n > 1 else metric} gives "
                f"{n} value(s) but hydra.sweeper.direction={sweeper.directions} asks for "
                f"{len(sweeper.directions)}: give one metric per direction"
            )

    def finalize(
        self,
        sweeper: Any,
        study: Any,
        solutions: Sequence[tuple[str, list[str]]],
        default: list[str],
    ) -> Mapping[str, Any] | None:
        """Run the best (or each Pareto-optimal) setting and the defaults as one last batch.

        Every solution runs with ``stage=best`` (imbsweep's table lists the ``best`` and
        ``default`` rows, each labelled by its method settings), the defaults with
        ``stage=default``; none of them is told to the study.
        """
        if not self.finalize_enabled:
            return None
        if not solutions:
            log.warning("finalize skipped: the study has no COMPLETE trial")
            return None
        from imbsweep import driver

        if self.driver is None:  # not imbsweep's own config: the final jobs as plain jobs
            return self._finalize_jobs(sweeper, solutions, default)
        labels, jobs = self._final_jobs(solutions, default)
        # Units do not take the sweep run from overrides: the driver hands it to each.
        jobs = [[o for o in job if not o.startswith("unit.")] for job in jobs]
        for label, job in zip(labels, jobs, strict=True):
            log.info("finalize: %s %s", label, job)

        def compose(overrides: list[str]) -> dict:
            cfg = sweeper.hydra_context.config_loader.load_sweep_config(sweeper.config, overrides)
            return _plain(cfg)

        planned = driver.plan(jobs, compose)
        self.driver.run(planned, sweeper.launch, close=False)
        final: dict[str, Any] = {}
        for label, job in zip(labels, planned, strict=True):
            final[label] = {
                "overrides": job.overrides,
                "status": "FAILED" if job.errors else "FINISHED",
                "seeds": len(job.done),
                "error": job.errors[0] if job.errors else None,
            }
        return final

    def _final_jobs(
        self, solutions: Sequence[tuple[str, list[str]]], default: list[str]
    ) -> tuple[list[str], list[list[str]]]:
        """Labels and overrides of the final batch: each solution (stage best), the defaults."""
        labels = [label for label, _ in solutions] + ["default"]
        jobs = [
            _dedupe([*ov, *self.final_overrides, *self.job_overrides("best")])
            for _, ov in solutions
        ]
        jobs.append(_dedupe([*default, *self.final_overrides, *self.job_overrides("default")]))
        return labels, jobs

    def _finalize_jobs(
        self, sweeper: Any, solutions: Sequence[tuple[str, list[str]]], default: list[str]
    ) -> dict[str, Any]:
        """The final batch as whole jobs, for apps that are not imbsweep."""
        from hydra.core.utils import JobStatus

        labels, jobs = self._final_jobs(solutions, default)
        final: dict[str, Any] = {}
        for label, result in zip(labels, sweeper.launch(jobs), strict=True):
            ok = result.status == JobStatus.COMPLETED
            value = result._return_value
            final[label] = {
                "overrides": list(result.overrides or []),
                "status": result.status.name,
                "return_value": value if ok else None,
                "error": None if ok else f"{type(value).__name__}: {value}",
            }
        return final

    def sweep_end(self, sweeper: Any) -> None:
        """The table (final rows, else the trials), optimization_results.yaml, the run closed."""
        if self.driver is not None and self.driver.close():
            raise SystemExit(1)

    def on_abort(self, sweeper: Any, exc: BaseException) -> None:
        """Close the study's sweep run FAILED, with the error, so nothing stays RUNNING."""
        if self.driver is not None and self.driver.sweep_id:
            self.driver.close(error=f"{type(exc).__name__}: {exc}")


def _plain(cfg: Any) -> dict:
    """A composed config without its ``hydra`` node, as a plain dict."""
    job = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    return OmegaConf.to_container(job, resolve=True)
