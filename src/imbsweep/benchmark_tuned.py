"""``imbsweep sweeps=benchmark_tuned``: every dataset x method at its defaults and tuned, nested.

The outer protocol is the sweep's repeated stratified k-fold (``seeds`` repeats x
``split.folds``). For each dataset x method and each outer unit (repeat, fold) an Optuna study
of ``tuning.trials`` trials searches the method preset's ``search_space``; a trial is a job of
the sweep driver (``stage=trial``, ``split.outer_fold``) whose units are ``split.inner_folds``
stratified folds of that outer fold's training rows only (:func:`imbsweep.data.split_dataset`),
so no outer test row is seen by any trial. The defaults (``stage=default``) and the tuned
settings (``stage=tuned``: one job per dataset x method whose outer unit *(s, f)* runs the best
trial of study *(s, f)*, labelled ``<method>@tuned``) run on the same outer folds, the rows of
the sweep's table.

Everything runs on one pool of the launcher's job stream (:class:`imbsweep.driver.UnitPool`):
the defaults' units from the start, and a trial of whichever study has used the least of its
budget whenever no more units wait than there are workers. All studies live in one Optuna
storage. Resume: the sweep run is found by the command's units and the storage; finished
units are reused by identity (job key, seed, fold), so a trial a killed driver left RUNNING is
failed and its params asked again, reusing its finished units.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import socket
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imbsweep import driver
from imbsweep.config import method_space
from imbsweep.errors import InputError

log = logging.getLogger("imbsweep")

# Trial user attrs: what the driver that asked it was, and that a trial counts to the budget.
DRIVER_ATTR = "imbsweep_driver"
ERROR_ATTR = "error"
COUNTED_ATTR = "counted"
TUNED_SUFFIX = "@tuned"


@dataclass
class Study:
    """One Optuna study: a dataset x method (its default job) x one outer unit."""

    default: driver.Job
    unit: driver.Unit
    space: Any  # optuna_sweeper.search_space.SearchSpace
    optuna: Any  # optuna.Study
    budget: int
    counted: int = 0  # COMPLETE trials, and trials whose units failed
    running: int = 0  # asked, not told yet

    @property
    def name(self) -> str:
        return self.optuna.study_name

    @property
    def open(self) -> bool:
        return self.counted + self.running < self.budget

    @property
    def done(self) -> bool:
        return self.counted >= self.budget


@dataclass
class _Trials:
    """A trial job in the pool and every trial waiting on it (same study key, same params)."""

    job: driver.Job
    trials: list[tuple[Study, Any]] = field(default_factory=list)


def study_name(job: driver.Job, space: Any, unit: driver.Unit) -> str:
    """Stable across runs of the same command: the default job's identity, what is searched,
    what is optimised and the inner folds, then the outer unit."""
    seed, fold = unit
    what = json.dumps(
        [
            job.key,
            {n: p.describe() for n, p in space.params.items()},
            job.cfg["objective"],
            job.cfg["split"].get("inner_folds"),
        ],
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha256(what.encode()).hexdigest()[:10]
    return f"benchmark_tuned:{job.dataset}:{job.cfg['method']['name']}:{digest}:r{seed}f{fold}"


def method_search_space(cfg: dict) -> Any:
    """The preset's ``search_space`` as the Optuna sweeper's parsed space (keys ``method.*``)."""
    from hydra_plugins.imbsweep_plugins.optuna_sweeper.search_space import parse_search_space

    return parse_search_space(method_space(cfg["method"].get("search_space") or {}), [])


class BenchmarkTuned:
    """Runs the benchmark; see the module docstring.

    ``compose``: a job's resolved config from its overrides; ``stream``: the launcher's job
    stream, opened once the plan is checked; ``storage``: an Optuna storage URL.
    """

    def __init__(
        self,
        primary: dict,
        sweep_dir: Path,
        compose: Callable[[list[str]], dict],
        open_stream: Callable[[], Any],
        storage: str,
        sampler_seed: int = 0,
        heartbeat_interval: int = 30,
        warm: Callable[[list[driver.Job]], None] | None = None,
    ) -> None:
        self.primary = primary
        self.sweep_dir = sweep_dir
        self.compose = compose
        self.open_stream = open_stream
        self.storage_url = storage
        self.sampler_seed = sampler_seed
        self.heartbeat_interval = heartbeat_interval
        self.warm = warm
        self.driver_id = f"{socket.gethostname()}:{os.getpid()}"
        self.studies: list[Study] = []
        self._flying: dict[str, _Trials] = {}  # trial job key -> the job and its trials
        self._tuned: list[driver.Job] = []
        self._tuned_of: set[int] = set()  # the default jobs whose tuned job has started

    # ------------------------------------------------------------------ plan
    def run(self, grid: Sequence[Sequence[str]], arguments: Sequence[str] = ()) -> int:
        """Plan, open the sweep run and the studies, run everything; 0, or 1 on failures."""
        t0 = time.perf_counter()
        defaults = driver.plan([[*ov, "stage=default"] for ov in grid], self.compose)
        self._base = {id(job): list(ov) for job, ov in zip(defaults, grid, strict=True)}
        spaces = [method_search_space(job.cfg) for job in defaults]
        for job in defaults:
            if job.folds < 2 or not job.cfg["split"].get("inner_folds"):
                raise InputError(
                    "sweeps=benchmark_tuned needs split.protocol=kfold with split.inner_folds "
                    ">= 2 (nested k-fold)"
                )
        name = driver.sweep_name(defaults, arguments).replace(" | ", " | tuned | ", 1)
        drv = self.drv = driver.SweepDriver(
            self.primary, self.sweep_dir, name, {"benchmark": "tuned"}
        )
        key = hashlib.sha256(
            f"benchmark_tuned:{self.storage_url}:{driver.sweep_key(defaults)}".encode()
        ).hexdigest()[:20]
        if drv.open_run(key):
            log.info("resuming the benchmark's sweep run %s", drv.sweep_id)
        self._open_studies(defaults, spaces)
        n_trials = sum(s.budget for s in self.studies)
        n_units = sum(len(j.units) for j in defaults)
        log.info(
            "benchmark_tuned: %d dataset x method, %d studies x their trials (%d trials), "
            "%d default units + as many tuned; planned in %.1f s",
            len(defaults),
            len(self.studies),
            n_trials,
            n_units,
            time.perf_counter() - t0,
        )
        if self.warm is not None:
            self.warm(defaults)
        return self._run(defaults)

    def _open_studies(self, defaults: list[driver.Job], spaces: list[Any]) -> None:
        import optuna

        from hydra_plugins.imbsweep_plugins.optuna_sweeper.heartbeat import Heartbeat

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own line per trial instead
        url = self.storage_url
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///") :]).expanduser().parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(url, heartbeat_interval=self.heartbeat_interval)
        self.storage = storage
        self.heartbeat = Heartbeat(storage, self.heartbeat_interval)
        for job, space in zip(defaults, spaces, strict=True):
            if not space.params:
                log.warning("%s has no search_space: its defaults only, no tuned row", job.label)
                continue
            budget = int(job.cfg["tuning"]["trials"])
            if budget < 1:
                raise InputError(f"tuning.trials={budget}: each study needs at least 1 trial")
            for unit in job.units:
                name = study_name(job, space, unit)
                existing = _n_trials(storage, name)
                # Each study its own draws (one seed for all would start them all alike), and
                # offset by its trials: a resumed study must not replay its first draws.
                own = int(hashlib.sha256(name.encode()).hexdigest()[:6], 16)
                sampler = optuna.samplers.TPESampler(seed=self.sampler_seed + own + existing)
                study = optuna.create_study(
                    storage=storage,
                    sampler=sampler,
                    study_name=name,
                    direction="maximize",
                    load_if_exists=True,
                )
                st = Study(job, unit, space, study, budget)
                self._recover(st)
                st.counted = sum(1 for t in study.get_trials(deepcopy=False) if _counts(t))
                self.studies.append(st)

    def _recover(self, st: Study) -> None:
        """Fail the trials a dead driver left RUNNING and ask their params again (their
        finished units are then reused)."""
        from optuna.trial import TrialState

        from hydra_plugins.imbsweep_plugins.optuna_sweeper.heartbeat import fail_stale_trials

        study = st.optuna
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        stale = []
        for t in running:
            host, _, pid = str(t.user_attrs.get(DRIVER_ATTR, "")).partition(":")
            if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
                self.storage.set_trial_user_attr(t._trial_id, ERROR_ATTR, "its driver stopped")
                self.storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
                stale.append(t.number)
        grace = 2 * self.heartbeat_interval
        stale += fail_stale_trials(study, self.storage, grace)  # drivers on other machines
        for number in stale:
            trial = study.trials[number]
            if trial.params:  # none: killed before sampling, nothing to ask again
                study.enqueue_trial(trial.params, user_attrs={"retry_of": number})
                log.info("%s: trial %s of a stopped driver asked again", st.name, number)

    # ------------------------------------------------------------------ run
    def _run(self, defaults: list[driver.Job]) -> int:
        drv = self.drv
        pool = self.pool = drv.pool(self.open_stream())
        beat = driver._Heartbeat(drv.tracker, drv.sweep_id) if drv.tracker else None
        previous = signal.signal(signal.SIGTERM, driver.raise_interrupt)
        outstanding = {id(j) for j in defaults}
        try:
            for job in defaults:
                pool.add(job)
            self._tune_ready(outstanding)  # studies finished in an earlier run
            while True:
                while pool.units_in_flight <= pool.workers and (st := self._next_study()):
                    self._ask(st)
                if not outstanding and not self._flying and not self._next_study():
                    break
                for job in pool.wait():
                    if id(job) in outstanding:
                        outstanding.discard(id(job))
                    else:
                        self._tell(job)
                        self._tune_ready(outstanding)
        except KeyboardInterrupt:
            if drv.tracker:
                n = drv._close_open_runs("KILLED", "interrupted (Ctrl-C or SIGTERM)")
                drv.tracker.end_run(drv.sweep_id, "KILLED")
                log.error(
                    "interrupted: %d running units marked KILLED; run the same command again "
                    "to resume (finished trials and units are kept)",
                    n,
                )
            raise
        finally:
            signal.signal(signal.SIGTERM, previous)
            self.heartbeat.close()
            if beat:
                beat.close()
            pool.close()
        self._write_studies()
        return drv._finish([*defaults, *self._tuned], close=True)

    def _next_study(self) -> Study | None:
        """The open study that has used the least of its budget (all move on together)."""
        open_ = [s for s in self.studies if s.open]
        return min(open_, key=lambda s: s.counted + s.running) if open_ else None

    def _ask(self, st: Study) -> None:
        from hydra_plugins.imbsweep_plugins.optuna_sweeper.hooks import dedupe_overrides

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Heartbeat of storage")
            trial = st.optuna.ask()
        # Ours before its params are sampled (TPE takes a while): a kill in between leaves a
        # trial a resumed driver recognises as its dead predecessor's.
        trial.set_user_attr(DRIVER_ATTR, self.driver_id)
        self.heartbeat.add(trial._trial_id)
        for name, dist in st.space.distributions().items():
            trial._suggest(name, dist)  # what study.ask(distributions) does, after the attr
        st.running += 1
        seed, fold = st.unit
        base = self._base[id(st.default)]
        ov = dedupe_overrides(
            [
                *base,
                *_settings(st, trial.params),
                "stage=trial",
                f"split.outer_fold={fold}",
                f"seeds=[{seed}]",
            ]
        )
        try:
            (job,) = driver.plan([ov], self.compose)
        except InputError as exc:
            self._told(st, trial, None, f"{type(exc).__name__}: {exc}")
            return
        # Seeds are not part of a job's identity: the outer repeat is, for a trial.
        job.key = _rekey(job.key, f"outer {seed}/{fold}")
        if (same := self._flying.get(job.key)) is not None:  # the same settings already run
            same.trials.append((st, trial))
            return
        job.tags = {"optuna_study": st.name, "optuna_trial": str(trial.number)}
        job.report_failures = False
        self._flying[job.key] = _Trials(job, [(st, trial)])
        self.pool.add(job)

    def _tell(self, job: driver.Job) -> None:
        from imbsweep.runner import objectives

        waiting = self._flying.pop(job.key)
        value, error = None, None
        if job.errors:
            error = f"{len(job.errors)} unit(s) failed, first: {job.errors[0]}"
        else:
            value, logged = objectives(job.cfg, job.metrics)
            if self.drv.tracker is not None:
                self.drv.tracker.log_metrics(job.run_id, logged)
        for st, trial in waiting.trials:
            self._told(st, trial, value, error)

    def _told(self, st: Study, trial: Any, value: float | None, error: str | None) -> None:
        from optuna.trial import TrialState

        trial.set_user_attr(COUNTED_ATTR, True)
        if error is None:
            st.optuna.tell(trial, value)
        else:
            trial.set_user_attr(ERROR_ATTR, error[:5000])
            st.optuna.tell(trial, state=TrialState.FAIL)
            log.warning("%s: trial %s failed: %s", st.name, trial.number, error)
        self.heartbeat.discard(trial._trial_id)
        st.running -= 1
        st.counted += 1
        log.info(
            "%s: trial %s %s %s | %d/%d",
            st.name,
            trial.number,
            trial.params,
            "FAILED" if error else f"value {value:.4g}",
            st.counted,
            st.budget,
        )

    def _tune_ready(self, outstanding: set[int]) -> None:
        """Start the tuned job of each dataset x method whose studies have all ended."""
        by_job: dict[int, list[Study]] = {}
        for st in self.studies:
            by_job.setdefault(id(st.default), []).append(st)
        for key, studies in by_job.items():
            if key in self._tuned_of or not all(s.done and not s.running for s in studies):
                continue
            self._tuned_of.add(key)
            job = self._tuned_job(studies)
            if job is None:
                continue
            self._tuned.append(job)
            outstanding.add(id(job))
            self.pool.add(job)

    def _tuned_job(self, studies: list[Study]) -> driver.Job | None:
        """Each outer unit with its study's best settings: one job, one label, one table row."""
        default = studies[0].default
        extra: dict[driver.Unit, list[str]] = {}
        for st in studies:
            try:
                best = st.optuna.best_trial
            except ValueError:
                self.drv.failures.append(
                    driver.Failure(default.label, default.overrides, f"{st.name}: no trial ended")
                )
                return None
            extra[st.unit] = _settings(st, best.params)
        label = f"{default.cfg['method']['name']}{TUNED_SUFFIX}"
        base = self._base[id(default)]
        (job,) = driver.plan([[*base, "stage=tuned", f"tuning.label={label}"]], self.compose)
        job.unit_extra = extra
        # Its identity includes every unit's settings: other best trials, other units.
        job.key = _rekey(job.key, json.dumps({f"{s}/{f}": v for (s, f), v in extra.items()}))
        job.tags = {"tuned_params": json.dumps({f"{s}/{f}": v for (s, f), v in extra.items()})}
        return job

    def _write_studies(self) -> None:
        """studies.csv: each study's budget, trials and best settings (on the sweep run too)."""
        import pandas as pd

        rows = []
        for st in self.studies:
            trials = st.optuna.get_trials(deepcopy=False)
            complete = [t for t in trials if t.state.name == "COMPLETE"]
            best = max(complete, key=lambda t: t.value) if complete else None
            rows.append(
                {
                    "study": st.name,
                    "dataset": st.default.dataset,
                    "method": st.default.cfg["method"]["name"],
                    "seed": st.unit[0],
                    "fold": st.unit[1],
                    "budget": st.budget,
                    "trials_counted": st.counted,
                    "trials_complete": len(complete),
                    "best_value": None if best is None else best.value,
                    "best_params": None if best is None else json.dumps(best.params),
                }
            )
        path = self.sweep_dir / "studies.csv"
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(path, index=False)
        if self.drv.tracker and self.drv.sweep_id:
            self.drv.tracker.client.log_artifact(self.drv.sweep_id, str(path))
        log.info("studies: %s", path)


def _counts(trial: Any) -> bool:
    """A trial counts to its study's budget once it ended on its own (not a stopped driver's)."""
    return trial.state.name == "COMPLETE" or (
        trial.state.name == "FAIL" and bool(trial.user_attrs.get(COUNTED_ATTR))
    )


def _settings(st: Study, params: dict) -> list[str]:
    """Overrides of sampled settings. A tuned threshold is chosen on out-of-fold scores of the
    training rows (nested trials have no validation rows): ``method.threshold_cv`` folds."""
    out = st.space.render(params)
    m = st.default.cfg["method"]
    if params.get("method.threshold") == "tuned" and int(m.get("threshold_cv") or 0) < 2:
        out.append(f"method.threshold_cv={st.default.cfg['split']['inner_folds']}")
    return out


def _rekey(key: str, more: str) -> str:
    return hashlib.sha256(f"{key}\n{more}".encode()).hexdigest()[:20]


def _n_trials(storage: Any, name: str) -> int:
    try:
        return len(storage.get_all_trials(storage.get_study_id_from_name(name), deepcopy=False))
    except KeyError:
        return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
