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
* every trial is a job of the sweep driver whose units (seeds, or folds of repeats) run on the
  launcher like a grid sweep's (:class:`UnitTrials`): one check per job, one aggregation (the
  job run's, from MLflow), and a trial is asked whenever a worker would otherwise idle, so a slow
  trial holds back no other. Trials a killed driver left unfinished are asked again with the
  same params, so their finished units are reused; so are the final jobs' units.
"""

from __future__ import annotations

import logging
import signal
import threading
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
        self.runner: UnitTrials | None = None  # the study's trials, once they run
        self._sigterm: Any = None  # the SIGTERM handler before the study's

    def check_space(self, names: Sequence[str]) -> None:
        if not names:
            raise _error(
                "nothing to tune: no search space (a method preset declares one as "
                "`search_space:`, e.g. conf/method/brf.yaml; naive has none), and no "
                "'key=interval(...)' on the command line"
            )
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
        if threading.current_thread() is threading.main_thread():
            # SIGTERM stops the study like Ctrl-C (on_abort), as it stops a grid sweep.
            from imbsweep.driver import raise_interrupt

            self._sigterm = signal.signal(signal.SIGTERM, raise_interrupt)

    def trial_runner(self, sweeper: Any) -> Any:
        """Trials as units of the sweep driver (None for other apps: a trial is a job)."""
        if self.driver is None:
            return None
        from hydra_plugins.imbsweep_plugins.job_stream import open_stream

        # Kept for the final jobs: one stream, one set of workers, from first trial to table.
        self.runner = UnitTrials(sweeper, self.driver.pool(open_stream(sweeper.launcher)))
        return self.runner

    def stale_trials(self, sweeper: Any, study: Any, numbers: Sequence[int]) -> None:
        """Ask a killed driver's unfinished trials again: their finished units are reused."""
        if self.driver is None:
            return
        for number in numbers:
            trial = study.trials[number]
            if trial.params:
                # Not skip_if_exists: it counts the failed trial itself as the same params.
                study.enqueue_trial(trial.params, user_attrs={"retry_of": number})
                log.info("trial %s of a stopped driver asked again: %s", number, trial.params)

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
        from imbsweep import credentials

        # Like tracking.uri: Hydra writes the sweeper's settings to every job's .hydra/ folder.
        if credentials.has_secret(url := getattr(sweeper, "storage_url", None)):
            raise _error(
                f"hydra.sweeper.storage={credentials.redact(str(url))}: a password in the "
                "study's storage URL is written to the sweep's .hydra/ files and seen by "
                "everyone on the machine; leave it out and keep it in ~/.pgpass (PGPASSFILE) "
                "or PGPASSWORD"
            )
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

        planned = driver.plan(jobs, compose)  # the one check of each final job
        if self.runner is not None:
            self.driver.run_pool(planned, self.runner.pool)
        else:
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
        self._restore_sigterm()
        self._close_runner()
        if self.driver is not None and self.driver.close():
            raise SystemExit(1)

    def _close_runner(self) -> None:
        if self.runner is not None:
            self.runner.pool.close()
            self.runner = None

    def on_abort(self, sweeper: Any, exc: BaseException) -> None:
        """Close the study's sweep run FAILED with the error, or KILLED on Ctrl-C / SIGTERM,
        so nothing stays RUNNING."""
        self._restore_sigterm()
        self._close_runner()
        if self.driver is None or not self.driver.sweep_id:
            return
        if isinstance(exc, KeyboardInterrupt):
            self.driver.interrupted()
        else:
            self.driver.close(error=f"{type(exc).__name__}: {exc}")

    def _restore_sigterm(self) -> None:
        if self._sigterm is not None:
            signal.signal(signal.SIGTERM, self._sigterm)
            self._sigterm = None


class UnitTrials:
    """A study's trials as jobs of the sweep driver, their units on the launcher's stream.

    ``wants_trial``: room for one more when no more units wait than workers can start, so a
    worker finishing a unit always finds another one (of this trial or the next).
    """

    def __init__(self, sweeper: Any, pool: Any) -> None:
        self.sweeper = sweeper
        self.pool = pool
        self._numbers: dict[int, int] = {}  # id(job) -> trial number
        self._failed: list[tuple[int, Any]] = []

    def wants_trial(self) -> bool:
        if not getattr(self.pool.stream, "streams", True):  # a batch launcher: n_jobs trials
            return len(self._numbers) < self.sweeper.n_jobs
        return self.pool.units_in_flight <= self.pool.workers

    def _compose(self, overrides: list[str]) -> dict:
        from imbsweep import unit_compose

        sw = self.sweeper
        cfg = unit_compose.load_sweep_config(sw.hydra_context.config_loader, sw.config, overrides)
        return _plain(cfg)

    def submit(self, trial: Any, overrides: list[str]) -> None:
        from hydra.core.utils import JobReturn, JobStatus

        from imbsweep import driver
        from imbsweep.errors import InputError

        # The driver hands each unit its sweep run; the trial's own are dropped.
        overrides = [o for o in overrides if not o.startswith("unit.")]
        try:
            (job,) = driver.plan([overrides], self._compose)  # the one check of this job
        except InputError as exc:
            ret = JobReturn(overrides=overrides, status=JobStatus.FAILED, _return_value=exc)
            self._failed.append((trial.number, ret))
            return
        job.tags = {"optuna_trial": str(trial.number)}
        job.report_failures = False
        self._numbers[id(job)] = trial.number
        self.pool.add(job)

    def wait(self) -> list[tuple[int, Any]]:
        from hydra.core.utils import JobReturn, JobStatus

        from imbsweep.runner import objectives

        if self._failed:
            out, self._failed = self._failed, []
            return out
        out = []
        for job in self.pool.wait():
            number = self._numbers.pop(id(job))
            if job.errors:
                error = RuntimeError(f"{len(job.errors)} unit(s) failed, first: {job.errors[0]}")
                out.append(
                    (number, JobReturn(job.overrides, status=JobStatus.FAILED, _return_value=error))
                )
                continue
            value, logged = objectives(job.cfg, job.metrics)
            tracker = self.pool.driver.tracker
            if tracker is not None:  # what the study optimises, on the trial's job run
                tracker.log_metrics(job.run_id, logged)
            ret = JobReturn(job.overrides, status=JobStatus.COMPLETED, _return_value=value)
            out.append((number, ret))
        return out

    def close(self) -> None:
        """Nothing: the hooks keep the pool for the final jobs and close it at the end."""


def _plain(cfg: Any) -> dict:
    """A composed config without its ``hydra`` node, as a plain dict."""
    job = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    return OmegaConf.to_container(job, resolve=True)
