"""The sweep driver: plan a sweep's units, resume a matching sweep, launch, close, report.

The unit of work is one seed of one config (split.protocol=holdout), or one fold of one seed's
repeat (split.protocol=kfold). Its identity is what determines its result: the resolved config
without bookkeeping keys, hashed with the data's digest (``job_key``), the seed and the fold.
The driver owns the sweep run: it checks every config and loads every dataset before
anything is written, finds the sweep run of an earlier, interrupted run of the same command
(same units) and reuses its finished seed runs, creates the job runs, hands the units to the
Hydra launcher (longest first, so cores stay busy to the end), and builds the table from what
the launcher returns and what MLflow holds. Nothing is coordinated through files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imbsweep import tracking, unit_guard
from imbsweep.config import method_label, resolve_seeds
from imbsweep.errors import SweepInputError

log = logging.getLogger("imbsweep")

# Keys that do not change a run's numbers: left out of its identity.
NOT_IN_IDENTITY = ("tracking", "report", "tuning", "objective", "unit", "seeds", "stage", "resume")
# split keys of nested k-fold (benchmark_tuned), in a job's identity only when nested.
_NESTED_KEYS = ("inner_folds", "outer_fold")
# A unit of a job: (seed, fold); fold is None under the holdout protocol (one unit per seed).
Unit = tuple[int, "int | None"]
# A driver on another machine counts as dead when its heartbeat is older than this.
HEARTBEAT_SECONDS = 60
STALE_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS


@dataclass
class Job:
    """One config of the sweep (a dataset x method settings), run over its seeds (and folds)."""

    overrides: list[str]
    cfg: dict
    label: str
    dataset: str
    key: str
    seeds: list[int]
    # Estimated seconds per unit: the launch order (longest first) and the time-left estimate's
    # weights, so only the ratios between jobs matter.
    cost: float
    folds: int = 0  # split.protocol=kfold: folds per seed; 0: one unit per seed
    run_id: str | None = None
    done: dict[Unit, str] = field(default_factory=dict)  # unit -> its finished run id
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    # Per seed (k-fold: per pooled repeat), once aggregated: what a trial's objective reads.
    metrics: list[dict[str, float]] = field(default_factory=list)
    unit_metrics: list[dict[str, Any]] = field(default_factory=list)  # as units returned them
    tags: dict[str, str] = field(default_factory=dict)  # extra tags of its job run
    # False for a study's trial: a failed unit fails the trial (the study records it), not the
    # sweep's exit code.
    report_failures: bool = True
    # Overrides of single units, after the job's (benchmark_tuned's tuned job: each outer
    # fold's own best settings); part of ``key`` when set.
    unit_extra: dict[Unit, list[str]] = field(default_factory=dict)

    @property
    def stage(self) -> str:
        return str(self.cfg.get("stage", "run"))

    @property
    def units(self) -> list[Unit]:
        if not self.folds:
            return [(s, None) for s in self.seeds]
        return [(s, f) for s in self.seeds for f in range(self.folds)]

    def unit_overrides(self, sweep_id: str | None, unit: Unit, store: dict) -> list[str]:
        seed, fold = unit
        ctx = {
            "unit.seed": seed,
            "unit.fold": fold,
            "unit.job_key": self.key,
            "unit.sweep_id": sweep_id,
            "unit.job_run_id": self.run_id,
            **{f"unit.{k}": v for k, v in store.items()},
        }
        extra = self.unit_extra.get(unit, [])
        ctx_ov = [f"{k}={'null' if v is None else v}" for k, v in ctx.items()]
        return [*self.overrides, *extra, *ctx_ov]


def job_key(cfg: dict, data_digest: str) -> str:
    relevant = {k: v for k, v in cfg.items() if k not in NOT_IN_IDENTITY}
    split = relevant.get("split")
    if isinstance(split, dict) and not split.get("inner_folds"):
        # Not nested: the keys nested k-fold added leave earlier sweeps' identities unchanged.
        relevant["split"] = {k: v for k, v in split.items() if k not in _NESTED_KEYS}
    method = relevant.get("method")
    if isinstance(method, dict) and "search_space" in method:  # what a study may search, not run
        relevant["method"] = {k: v for k, v in method.items() if k != "search_space"}
    text = json.dumps(relevant, sort_keys=True, default=str) + data_digest
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def estimate_cost(cfg: dict, n_rows: int) -> float:
    """Rough seconds per seed, to start long units first (a net on oversampled rows ≫ a forest)."""
    m = cfg["method"]
    rows = n_rows * (1 - float(cfg["split"]["test_size"]))
    if m.get("sampler") not in (None, "none") and "under" not in str(m.get("sampler")):
        rows *= 1.9  # oversampling roughly doubles the training rows
    model = m.get("model")
    if model == "mlp":
        return 2.0 + rows * int(m.get("epochs", 5)) * 4e-5
    if model in ("brf", "random_forest", "easy_ensemble", "hist_gb"):
        return 0.4 + rows * int(m.get("n_estimators", 100)) * 2e-6
    if model == "majority":
        return 0.05
    return 0.2 + rows * 2e-5


# A unit's cost beyond its fit, in this process: the MLflow runs, metrics and model files
# (measured ~0.5 s for a naive unit on glass1, with tracking on a local sqlite store).
UNIT_OVERHEAD_SECONDS = 0.5


def estimate_seconds(jobs: list[Job]) -> float:
    """The jobs' units, estimated serial seconds (a launcher's in-process-or-cluster choice)."""
    return sum((j.cost + UNIT_OVERHEAD_SECONDS) * len(j.units) for j in jobs)


def needs_tf(cfg: dict) -> bool:
    """Whether a job fits a Keras net (TensorFlow is imported only then)."""
    m = cfg["method"]
    return m.get("model") == "mlp" or m.get("sampler") == "gan"


def seed_count(cfg: Any) -> int:
    """Seeds per job in the primary config (1 if they are swept or invalid: checked later)."""
    try:
        seeds = cfg.get("seeds", 1)
        return len(resolve_seeds(seeds if isinstance(seeds, int) else list(seeds)))
    except Exception:
        return 1


def warm_ups(jobs: list[Job]) -> list[Callable[[], Any]]:
    """What a worker can do before its first unit: set up TensorFlow if any unit fits a net."""
    if any(needs_tf(j.cfg) for j in jobs):
        from imbsweep.keras_model import deterministic_tf

        return [deterministic_tf]
    return []


def plan(job_overrides: Sequence[Sequence[str]], compose: Callable[[list[str]], dict]) -> list[Job]:
    """Compose, check and load the data of every job; fail once, clearly, before any work.

    ``compose`` returns a job's resolved config as a plain dict (without ``hydra``). Each
    dataset is loaded once here (and kept for in-process units); an error in it is reported
    once with the jobs it affects, not once per job.
    """
    from imbsweep.config import check_config
    from imbsweep.data import load_dataset
    from imbsweep.methods import check_method_data

    jobs: list[Job] = []
    errors: dict[str, list[str]] = {}
    for ov in job_overrides:
        where = " ".join(ov)
        try:
            cfg = compose(list(ov))
            check_config(cfg)
            ds = load_dataset(cfg["dataset"])
            check_method_data(cfg["method"], ds)
            folds = unit_folds(cfg, ds)
        except ValueError as exc:  # ConfigError and the loaders' data errors
            errors.setdefault(str(exc), []).append(where)
            continue
        jobs.append(
            Job(
                overrides=list(ov),
                cfg=cfg,
                label=run_label(cfg),
                dataset=ds.name,
                key=job_key(cfg, ds.digest()),
                seeds=resolve_seeds(cfg["seeds"]),
                cost=estimate_cost(cfg, len(ds.y)),
                folds=folds,
            )
        )
    if errors:
        parts = []
        for msg, wheres in errors.items():
            shown = wheres[:3] + ([f"... and {len(wheres) - 3} more"] if len(wheres) > 3 else [])
            parts.append(msg + "\n  in sweep job(s): " + "\n                   ".join(shown))
        raise SweepInputError("\n\n".join(parts))
    return jobs


def unit_folds(cfg: dict, ds: Any, warn: bool = True) -> int:
    """Folds per seed of a job (0: one unit per seed, the holdout protocol); ``warn``: say
    when a tiny minority shrinks the folds (once, when the sweep is planned)."""
    from imbsweep.data import fold_count, trial_fold_count

    sp = cfg["split"]
    if sp["protocol"] != "kfold":
        return 0
    if cfg.get("stage") == "trial" and sp.get("outer_fold") is not None:
        return trial_fold_count(ds, sp, resolve_seeds(cfg["seeds"])[0])
    return fold_count(ds, sp, warn=warn)


def run_label(cfg: dict) -> str:
    """``tuning.label`` when set (a job whose units differ in settings), else the method's."""
    return (cfg.get("tuning") or {}).get("label") or method_label(cfg["method"])


def unit_key(job: Job, unit: Unit) -> str:
    seed, fold = unit
    return f"{job.key}/{job.stage}/{seed}" + ("" if fold is None else f"/{fold}")


def sweep_key(jobs: Sequence[Job]) -> str:
    units = sorted(unit_key(j, u) for j in jobs for u in j.units)
    return hashlib.sha256("\n".join(units).encode()).hexdigest()[:20]


def sweep_name(jobs: Sequence[Job], arguments: Sequence[str] = ()) -> str:
    """What was swept, on what data, with how many seeds: sweeps told apart in the MLflow UI."""

    def some(values: list[str], noun: str) -> str:
        values = list(dict.fromkeys(values))
        return ",".join(values) if len(values) <= 4 else f"{len(values)} {noun}"

    methods = some([j.cfg["method"]["name"] for j in jobs], "methods")
    data = some([j.dataset for j in jobs], "datasets")
    seeds = {(len(j.seeds), j.folds) for j in jobs}
    n_seeds = "seeds vary"
    if len(seeds) == 1:
        n, folds = seeds.pop()
        n_seeds = f"{n} x {folds}-fold" if folds else f"{n} seeds"
    return f"{methods} | {data} | {n_seeds} | {time.strftime('%m-%d %H:%M')}"


# ---------------------------------------------------------------------------- liveness


TAG_HEARTBEAT = "imbsweep.heartbeat"


def driver_tags() -> dict[str, str]:
    """Who drives the sweep run (host, pid, its start time) and when it last said so."""
    from imbsweep import project_run

    return {**project_run.owner_tags(), TAG_HEARTBEAT: str(int(time.time()))}


def driver_alive(tags: dict[str, str]) -> bool:
    """Is the process that drives this sweep run still running?

    On this host: its pid, checked against the process start time (pids are reused). On another
    host: a heartbeat tag younger than :data:`STALE_AFTER_SECONDS`.
    """
    from imbsweep import project_run

    if tags.get(project_run.TAG_HOST) == socket.gethostname() and tags.get(project_run.TAG_PID):
        return project_run._owner_alive(tags)
    beat = int(tags.get(TAG_HEARTBEAT, "0") or 0)
    return time.time() - beat < STALE_AFTER_SECONDS


class _Heartbeat:
    """Refreshes the sweep run's heartbeat tag, for drivers on other machines."""

    def __init__(self, tracker: tracking.Tracker, run_id: str):
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(tracker, run_id), name="imbsweep-heartbeat", daemon=True
        )
        self._thread.start()

    def _run(self, tracker: tracking.Tracker, run_id: str) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                tracker.set_tags(run_id, {TAG_HEARTBEAT: str(int(time.time()))})
            except Exception as exc:  # a missed beat is not worth failing the sweep
                log.debug("heartbeat failed: %s", exc)

    def close(self) -> None:
        self._stop.set()


# ---------------------------------------------------------------------------- the driver


@dataclass
class Failure:
    label: str
    overrides: list[str]
    error: str


class SweepDriver:
    """Runs a planned sweep through a launch function (a Hydra launcher's ``launch``)."""

    def __init__(self, primary: dict, sweep_dir: Path, name: str, tags: dict | None = None):
        self.primary = primary
        self.sweep_dir = sweep_dir
        self.name = name
        self.tags = tags or {}
        self.tracker: tracking.Tracker | None = None
        self.sweep_id: str | None = None
        self.failures: list[Failure] = []
        self._rows: Any = None  # seed rows read when the job runs were aggregated
        self._predictions: dict | None = None  # their test predictions (fixed splits)

    # ------------------------------------------------------------------ sweep run
    def open(self, jobs: list[Job]) -> None:
        """Find the sweep run to resume (or create one), close what a dead driver left open."""
        if self.open_run(sweep_key(jobs)):
            self._adopt_finished(jobs)

    def open_run(self, key: str | None) -> bool:
        """Open the sweep run: resume the stopped one with ``key`` or create it.

        Returns True when an earlier sweep run was resumed. ``key`` None: never resume.
        """
        tcfg = self.primary["tracking"]
        if not tcfg["enabled"]:
            return False
        from imbsweep import project_run as pr

        t = self.tracker = tracking.Tracker(**tcfg)
        project_run = pr.take()
        try:  # runs of processes that died (a killed sweep, a failed `mlflow run` start)
            pr.close_stale_runs(
                t.client, [t.experiment_id, pr.DEFAULT_EXPERIMENT_ID], tracking.PROJECT_ROOT
            )
        except Exception as exc:  # housekeeping must not stop a sweep
            log.warning("could not close stale runs: %s", exc)
        adopt = project_run is not None and pr.adoptable(t.client, project_run, t.experiment_id)
        base_tags = {
            tracking.TAG_LEVEL: "sweep",
            "sweep_key": key or "",
            "sweep_dir": str(self.sweep_dir),
            **self.tags,
            **driver_tags(),
        }
        with tracking.store_lock(t.uri):
            resumed = None
            if key and not adopt and self.primary.get("resume", True):
                resumed = self._find_resumable(key)
            if resumed is not None:
                self.sweep_id = resumed
                t.client.update_run(resumed, status="RUNNING")
                t.set_tags(resumed, {**driver_tags(), "resumed": "true"})
            elif adopt:
                # `mlflow run` opened this run in imbsweep's experiment: it becomes the sweep run.
                from imbsweep.sweep import adopt_run

                self.sweep_id = project_run
                adopt_run(t, project_run, self.name, self.sweep_dir)
                t.set_tags(project_run, base_tags)
            else:
                self.sweep_id = t.create_run(self.name, base_tags)
            t.set_tags(self.sweep_id, {tracking.TAG_SWEEP: self.sweep_id})
        if project_run is not None and not adopt:
            # In another experiment (e.g. Default): it points to the sweep run instead.
            pr.link(t.client, project_run, self.sweep_id, t.experiment_id)
        if resumed is not None:
            n = self._close_open_runs(
                "KILLED", f"its driver stopped; closed by the resuming driver (pid {os.getpid()})"
            )
            if n:
                log.info("%d run(s) left RUNNING by the stopped driver marked KILLED", n)
        return resumed is not None

    def _find_resumable(self, key: str) -> str | None:
        t = self.tracker
        runs = t.client.search_runs(
            [t.experiment_id],
            f"tags.sweep_key = '{key}' and tags.{tracking.TAG_LEVEL} = 'sweep'",
            order_by=["attributes.start_time DESC"],
            max_results=10,
        )
        for r in runs:
            if r.info.status == "RUNNING" and driver_alive(r.data.tags):
                log.warning(
                    "sweep run %s with the same units is running now (pid %s on %s): "
                    "starting a separate sweep",
                    r.info.run_id,
                    r.data.tags.get("imbsweep.pid"),
                    r.data.tags.get("imbsweep.host"),
                )
                continue
            return r.info.run_id
        return None

    def _adopt_finished(self, jobs: list[Job], quiet: bool = False) -> None:
        """Reuse the finished units and the job runs this sweep run already has."""
        t = self.tracker
        filt = f"tags.{tracking.TAG_SWEEP} = '{self.sweep_id}'"
        if len(jobs) == 1:  # one job added to a running pool: only its runs
            filt += f" and tags.{tracking.TAG_JOB_KEY} = '{jobs[0].key}'"
        runs = t.client.search_runs([t.experiment_id], filt, max_results=50000)
        by_key = {(j.key, j.stage): j for j in jobs}
        for r in runs:
            tags = r.data.tags
            level = tags.get(tracking.TAG_LEVEL)
            job = by_key.get((tags.get(tracking.TAG_JOB_KEY), tags.get(tracking.TAG_STAGE, "run")))
            if job is None:
                continue
            if level == "job":
                job.run_id = r.info.run_id
            elif level == "seed" and r.info.status == "FINISHED":
                fold = tags.get(tracking.TAG_FOLD)
                unit = (int(tags.get(tracking.TAG_SEED, -1)), None if fold is None else int(fold))
                if unit in job.units and unit not in job.done:
                    job.done[unit] = r.info.run_id
                    job.skipped += "skipped" in tags
        n_done = sum(len(j.done) for j in jobs)
        n_all = sum(len(j.units) for j in jobs)
        if quiet:
            if n_done:
                log.info("%s: %d of %d units reused", jobs[0].label, n_done, n_all)
            return
        log.info(
            "resuming sweep run %s: %d of %d units already finished", self.sweep_id, n_done, n_all
        )

    # ------------------------------------------------------------------ runs
    def _open_job_runs(self, jobs: list[Job]) -> threading.Thread:
        """Create the job runs the units need as parents; their params follow on a thread.

        Creating a run is all a unit needs; the params (~10 ms a job) overlap the first units.
        """
        from imbsweep.data import load_dataset
        from imbsweep.naming import job_run_names, job_run_params, swept_params
        from imbsweep.runner import job_params, job_tags

        t = self.tracker
        new: list[tuple[Job, dict]] = []
        names = job_run_names([(j.label, j.dataset, j.overrides) for j in jobs])
        for job, name in zip(jobs, names, strict=True):
            if job.run_id is not None:
                if len(job.done) < len(job.units):
                    t.client.update_run(job.run_id, status="RUNNING")
                continue
            ds = load_dataset(job.cfg["dataset"])
            tags = job_tags(job.cfg, ds, " ".join(job.overrides), self.sweep_id)
            tags.update({tracking.TAG_LEVEL: "job", tracking.TAG_JOB_KEY: job.key, **job.tags})
            job.run_id = t.create_run(name, tags, self.sweep_id)
            new.append((job, job_run_params(job_params(job.cfg), job.overrides)))
        # What differs between the jobs as params (the compare view opens on it); all as a file.
        new = list(zip([j for j, _ in new], swept_params([p for _, p in new]), strict=True))

        def log_params() -> None:
            for job, params in new:
                t.log_params(job.run_id, params)
                t.log_files(job.run_id, {"config.json": json.dumps(job.cfg, indent=1, default=str)})

        thread = threading.Thread(target=log_params, name="imbsweep-job-params", daemon=True)
        thread.start()
        return thread

    def _close_open_runs(self, status: str, reason: str) -> int:
        """Mark this sweep's runs that are still RUNNING (a worker died, or Ctrl-C)."""
        t = self.tracker
        runs = t.client.search_runs(
            [t.experiment_id],
            f"tags.{tracking.TAG_SWEEP} = '{self.sweep_id}' and attributes.status = 'RUNNING'",
            max_results=50000,
        )
        n = 0
        for r in runs:
            if r.info.run_id == self.sweep_id:
                continue
            if r.data.tags.get(tracking.TAG_LEVEL) == "seed":
                n += 1
            t.set_tags(r.info.run_id, {"killed_reason": reason})
            t.end_run(r.info.run_id, status)
        return n

    # ------------------------------------------------------------------ run
    def run(
        self,
        jobs: list[Job],
        launch: Callable[[list[list[str]], list[float]], Sequence[Any]],
        close: bool = True,
        warm: Callable[[list[Job]], None] | None = None,
    ) -> int:
        """Run every unit not yet finished, then aggregate, report and close. Returns 0 or 1.

        With the sweep run already open (:meth:`open_run`, e.g. a tuning study's), the units
        this sweep run already finished are reused; ``close=False`` leaves the report and the
        sweep run to :meth:`close`. ``warm`` gets the jobs with units left to run, before any
        is launched (e.g. set TensorFlow up on the workers only if one of those fits a net).
        ``launch`` gets the units' overrides and their estimated costs (:func:`estimate_cost`),
        longest first.
        """
        if self.sweep_id is None:
            self.open(jobs)
        elif self.tracker:
            self._adopt_finished(jobs)
        todo = [(job, u) for job in jobs for u in job.units if u not in job.done]
        todo.sort(key=lambda u: -u[0].cost)  # longest first: no core idles at the end
        if warm is not None and todo:
            # Known only now: a resumed sweep may have no net left to fit.
            warm(list({id(job): job for job, _ in todo}.values()))
        n_all = sum(len(j.units) for j in jobs)
        beat = _Heartbeat(self.tracker, self.sweep_id) if self.tracker else None
        previous = signal.signal(signal.SIGTERM, raise_interrupt)
        params_thread = None
        try:
            if self.tracker:
                params_thread = self._open_job_runs(jobs)
            if todo:
                log.info(
                    "sweep %s: %d units (%d jobs x seeds%s)%s",
                    self.sweep_id or "(tracking off)",
                    len(todo),
                    len(jobs),
                    " x folds" if any(j.folds for j in jobs) else "",
                    f", {n_all - len(todo)} reused from the resumed sweep"
                    if len(todo) < n_all
                    else "",
                )
                store = {}
                if self.tracker:
                    store = {
                        "tracking_uri": self.tracker.uri,
                        "experiment_id": self.tracker.experiment_id,
                    }
                returns = launch(
                    [job.unit_overrides(self.sweep_id, u, store) for job, u in todo],
                    [job.cost for job, _ in todo],  # weighs the launcher's time left
                )
                self._collect(todo, returns)
            else:
                log.info("all %d units of this sweep had finished: nothing to run", n_all)
        except KeyboardInterrupt:
            self.interrupted()
            raise
        finally:
            signal.signal(signal.SIGTERM, previous)
            if beat:
                beat.close()
            if params_thread:
                params_thread.join()
        return self._finish(jobs, close)

    def _collect(self, todo: list[tuple[Job, Unit]], returns: Sequence[Any]) -> None:
        for (job, unit), ret in zip(todo, returns, strict=True):
            self._collect_one(job, unit, ret)

    def _collect_one(self, job: Job, unit: Unit, ret: Any) -> None:
        from hydra.core.utils import JobStatus

        if ret.status == JobStatus.COMPLETED:
            out = ret.return_value or {}
            if out.get("status") == "skipped":
                job.skipped += 1
            elif out.get("metrics"):
                job.unit_metrics.append({**out["metrics"], "seed": unit[0], "fold": unit[1]})
            job.done[unit] = out.get("run_id") or ""
        else:
            error = _error_text(ret._return_value)
            job.errors.append(error)
            seed, fold = unit
            where = [f"seed={seed}"] + ([] if fold is None else [f"fold={fold}"])
            if job.report_failures:
                self.failures.append(Failure(job.label, job.overrides + where, error))

    def _finish(self, jobs: list[Job], close: bool = True) -> int:
        if self.tracker:
            # A unit whose worker died was retried elsewhere or failed above; its first run
            # must not stay RUNNING.
            n = self._close_open_runs("FAILED", "its worker stopped before the unit ended")
            if n:
                log.warning("%d seed run(s) left open by stopped workers marked FAILED", n)
            # [issue 21] One FINISHED run per unit, whatever raced (unit_guard).
            kept = {r for j in jobs for r in j.done.values()}
            unit_guard.close_duplicates(self.tracker, self.sweep_id, kept)
            self._aggregate(jobs)
        return self.close() if close else int(bool(self.failures))

    def interrupted(self) -> None:
        """Ctrl-C or SIGTERM: the open runs end KILLED, so the next run resumes at once."""
        if not (self.tracker and self.sweep_id):
            return
        n = self._close_open_runs("KILLED", "interrupted (Ctrl-C or SIGTERM)")
        self.tracker.set_tags(self.sweep_id, {"killed_reason": "interrupted"})
        self.tracker.end_run(self.sweep_id, "KILLED")
        log.error(
            "interrupted: %d running units marked KILLED; run the same command again "
            "to resume (finished units are kept)",
            n,
        )

    def close(self, error: str | None = None) -> int:
        """Build the table, log it on the sweep run and end the run. Returns 0, or 1 on failures.

        ``error``: the sweep stopped on it (the run ends FAILED with an ``error`` tag).
        """
        from imbsweep import sweep

        if error:
            self.failures.append(Failure("(sweep)", [], error))
        if self.tracker and self.sweep_id:
            if error:
                self.tracker.set_tags(self.sweep_id, {"error": error[:5000]})
                self._close_open_runs("FAILED", f"the sweep stopped: {error[:500]}")
            sweep.finish(
                self.tracker,
                self.sweep_id,
                self.sweep_dir,
                self.primary["report"]["claims"],
                self.primary["report"]["plot"],
                failed=[f.__dict__ for f in self.failures],
                rows=None if error else self._rows,
                predictions=None if error else self._predictions,
                metric=self.primary["report"].get("metric", "minority_f1"),
            )
        if self.failures:
            report_failures(self.failures)
            return 1
        return 0

    def _aggregate(self, jobs: list[Job], whole_sweep: bool = True) -> None:
        """Job runs: mean/std/min/max of every metric over their finished seeds (k-fold repeats
        pooled) and the interval that matches the protocol; then close.

        ``whole_sweep``: read every unit of the sweep (they become the table's rows); else only
        the units of the one job in ``jobs`` (a study's trial, as it ends).
        """
        from imbsweep.pooling import repeat_rows
        from imbsweep.report import load_predictions, seed_rows
        from imbsweep.runner import aggregate, unit_intervals

        exps = [self.tracker.experiment_id]
        if whole_sweep:
            rows = seed_rows(self.sweep_id, exps)
            self._rows = rows  # the table's rows too: closing job runs changes no seed run
            self._predictions = predictions = load_predictions(rows)
        else:
            (job,) = jobs
            rows = seed_rows(self.sweep_id, exps, job_id=job.run_id)
            predictions = load_predictions(rows)
        reps = repeat_rows(rows)
        for job in jobs:
            units = rows[rows["job_id"] == job.run_id] if not rows.empty else rows
            mine = reps[reps["job_id"] == job.run_id] if not reps.empty else reps
            metric_cols = [
                c for c in mine.columns if c not in _ROW_KEYS and mine[c].dtype.kind in "fiu"
            ]
            per_seed = [
                {k: v for k, v in r.items() if v == v}  # NaN: the metric was not logged
                for r in mine[metric_cols].to_dict("records")
            ]
            job.metrics = per_seed
            agg = aggregate(per_seed, unit_intervals(units, predictions, repeats=mine))
            agg.update({"n_seeds": len(per_seed), "n_skipped": job.skipped})
            agg.update(unit_guard.limit_counts(job.errors))  # [issue 21] units over a limit
            self.tracker.log_metrics(job.run_id, agg)
            if job.errors:
                self.tracker.set_tags(job.run_id, {"error": job.errors[0][:5000]})
            status = "FAILED" if len(job.done) < len(job.units) else "FINISHED"
            self.tracker.end_run(job.run_id, status)

    def job_done(self, job: Job) -> None:
        """A job whose units have all ended: its run aggregated and closed, ``job.metrics``
        set (from MLflow, or from what the units returned when tracking is off)."""
        if self.tracker:
            self._aggregate([job], whole_sweep=False)
            return
        from imbsweep.pooling import repeat_rows
        from imbsweep.runner import UNIT_KEYS, unit_frame

        rows = unit_frame(job.unit_metrics, job.cfg["split"])
        job.metrics = [
            {k: v for k, v in r.items() if k not in UNIT_KEYS and v == v}
            for r in (repeat_rows(rows).to_dict("records") if not rows.empty else [])
        ]

    def run_pool(self, jobs: list[Job], pool: UnitPool) -> int:
        """Run ``jobs`` on a pool that may have run others (a study's trials), then aggregate
        them with the sweep's table rows; the sweep run stays open. Returns 0 or 1."""
        left = {id(job) for job in jobs}
        for job in jobs:
            pool.add(job)
        while left:
            for job in pool.wait():
                left.discard(id(job))
        return self._finish(jobs, close=False)

    def pool(self, stream: Any) -> UnitPool:
        """Jobs added while others run, their units on ``stream`` (a launcher's job stream)."""
        return UnitPool(self, stream)


class UnitPool:
    """The units of jobs added one at a time, run as workers free up; jobs handed back whole.

    What an Optuna study needs (a trial is a job, its units the seeds or folds): a job's
    finished units from an earlier run of the sweep are reused, its job run is opened, its other
    units go to the stream at once, and :meth:`wait` returns each job when its last unit ends,
    aggregated (:meth:`SweepDriver.job_done`).
    """

    def __init__(self, driver: SweepDriver, stream: Any) -> None:
        self.driver = driver
        self.stream = stream
        self._left: dict[int, set[Unit]] = {}
        self._jobs: dict[int, Job] = {}
        self._ready: list[Job] = []
        self._idx = 0
        self._store: dict[str, Any] = {}
        if driver.tracker:
            self._store = {
                "tracking_uri": driver.tracker.uri,
                "experiment_id": driver.tracker.experiment_id,
            }

    @property
    def workers(self) -> int:
        return int(getattr(self.stream, "workers", 1))

    @property
    def units_in_flight(self) -> int:
        return len(self.stream)

    def add(self, job: Job) -> None:
        d = self.driver
        if d.tracker:
            d._adopt_finished([job], quiet=True)
            d._open_job_runs([job]).join()
        todo = [u for u in job.units if u not in job.done]
        if not todo:
            d.job_done(job)
            self._ready.append(job)
            return
        self._jobs[id(job)] = job
        self._left[id(job)] = set(todo)
        for unit in todo:
            self._idx += 1
            overrides = job.unit_overrides(d.sweep_id, unit, self._store)
            self.stream.submit((id(job), unit), self._idx, overrides)

    def wait(self) -> list[Job]:
        """Block until a unit ends; return the jobs that are now complete (maybe none)."""
        if self._ready:
            ready, self._ready = self._ready, []
            return ready
        complete = []
        for (key, unit), ret in self.stream.wait():
            job = self._jobs[key]
            self.driver._collect_one(job, unit, ret)
            left = self._left[key]
            left.discard(unit)
            if not left:
                del self._left[key], self._jobs[key]
                self.driver.job_done(job)
                complete.append(job)
        return complete

    def close(self) -> None:
        self.stream.close()


_ROW_KEYS = {
    "run_id",
    "label",
    "method",
    "dataset",
    "stage",
    "seed",
    "fold",
    "n_folds",
    "job_id",
    "overrides",
}


def raise_interrupt(signum: int, frame: Any) -> None:
    """A SIGTERM handler: stop like Ctrl-C, so open runs are closed as KILLED."""
    raise KeyboardInterrupt(f"signal {signum}")


def _error_text(exc: Any) -> str:
    text = f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def report_failures(failures: list[Failure]) -> None:
    """One line per distinct error, with how many units it hit and where."""
    by_error: dict[str, list[Failure]] = {}
    for f in failures:
        by_error.setdefault(f.error, []).append(f)
    lines = []
    for err, fs in by_error.items():
        where = "; ".join(sorted({f"{f.label} ({' '.join(f.overrides)})" for f in fs})[:3])
        more = f" and {len(fs) - 3} more" if len(fs) > 3 else ""
        lines.append(f"  - {len(fs)} unit(s): {err}\n    e.g. {where}{more}")
    if limited := unit_guard.limit_summary(failures):  # [issue 21]
        lines.append(f"  units stopped by a limit, per method: {limited}")
    log.error(
        "%d unit(s) of the sweep failed; the table covers the units that finished "
        "(each failed seed run has an `error` tag and error.txt in MLflow):\n%s",
        len(failures),
        "\n".join(lines),
    )
