"""``hydra/launcher=dask``: run a sweep's jobs on Dask distributed workers.

With no ``address`` it starts a local cluster, one single-threaded worker process per usable
core, that lives as long as the sweep; its workers stay warm between jobs (imports, loaded data).
With ``address=tcp://host:8786`` it sends the jobs to a running cluster (``dask scheduler`` and
``dask worker`` processes on any machines that can import the app and read its config files).
A single job, or ``n_workers=1``, runs in this process: nothing is started for it. So does a
small sweep when ``n_workers`` is left to the launcher: a caller that knows the work's estimated
seconds passes them to :meth:`DaskLauncher.prepare`, and work that would finish sooner in this
process than the cluster takes to start runs here.

Jobs are submitted in the order given, highest priority first, so a caller that sorts the
longest jobs first keeps every worker busy to the end. One progress line reports jobs done,
failures, elapsed time and an estimate of what remains. Dask is imported only when used.
"""

# No `from __future__ import annotations`: Hydra's plugin scanner runs this module before it
# is in sys.modules, and dataclasses then fail on string annotations.
import atexit
import contextlib
import inspect
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

log = logging.getLogger(__name__)


@dataclass
class DaskLauncherConf:
    _target_: str = "hydra_plugins.imbsweep_plugins.dask_launcher.DaskLauncher"
    # A running scheduler, e.g. tcp://10.0.0.5:8786; null starts a local cluster.
    address: Optional[str] = None  # noqa: UP045
    # Local cluster: worker processes (null: every core this process may use).
    n_workers: Optional[int] = None  # noqa: UP045
    # Modules a local worker imports when it starts, while the driver is still planning
    # (null: the module of the app's task function).
    preload: Optional[list[str]] = None  # noqa: UP045
    # Seconds between progress lines (one is always printed at the end).
    progress_every: float = 10.0
    # Local cluster: pin worker i to core i. Off by default: no gain on a quiet machine (36.3 s
    # pinned vs 35.9 s, main job), and a pinned worker cannot leave a core another process
    # loads (tuning brf on 2 workers under load: 4.5 trials/min pinned, 7.5 not).
    pin: bool = False
    # Per unit: wall time (seconds, or "10min") and memory it may add to its worker process
    # ("4GB"); null: no limit. Over either, the unit is stopped and recorded as failed
    # (imbsweep.unit_guard). Needs single-threaded workers; forces a cluster for one job too.
    unit_timeout: Optional[Any] = None  # noqa: UP045
    unit_memory: Optional[Any] = None  # noqa: UP045
    # An external scheduler on tls://: the CA and this client's certificate and key (PEM files,
    # `python -m imbsweep.tls DIR` makes them); null: Dask's own config (distributed.comm.tls.*,
    # e.g. DASK_DISTRIBUTED__COMM__TLS__CA_FILE). A local cluster always uses TLS with throwaway
    # certificates: other users of the machine cannot connect to it.
    tls_ca_file: Optional[str] = None  # noqa: UP045
    tls_cert: Optional[str] = None  # noqa: UP045
    tls_key: Optional[str] = None  # noqa: UP045


ConfigStore.instance().store(
    group="hydra/launcher", name="dask", node=DaskLauncherConf, provider="imbsweep"
)


# Measured on 2 cores: a local cluster costs ~5.5 s before its first unit (start, TLS, worker
# imports): `method=naive dataset=keel dataset.name=glass1 seeds=3` took 14.6 s on it and 9.1 s
# in this process. Work of fewer estimated seconds than this per worker saved runs here.
START_SECONDS = 6.0
# Sweeps of at most this many units known before planning (jobs x seeds) ask for an estimate.
SMALL_SWEEP_UNITS = 16


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _fmt(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """``[12/40 units] 0 failed, 35 s elapsed, about 1 min 20 s left`` every few seconds.

    The estimate is the rate since the first unit finished, once 2 x ``workers`` more have: the
    first unit's time holds the workers' start and imports (10-20 s here), and spreading it over
    every unit made a 53 s sweep say "about 12 min left". With ``costs`` (each unit's estimated
    cost, in launch order) the rate is per unit of cost, not per unit: the driver starts the
    longest units first, so counting units put the first estimate of the practical at ~3x the
    time left (tests/test_progress.py).
    """

    def __init__(
        self,
        total: int,
        every: float,
        workers: int = 1,
        costs: Optional[Sequence[float]] = None,  # noqa: UP045
    ):
        self.total, self.every, self.workers = total, every, max(1, workers)
        self.done = self.failed = 0
        self.t0 = self._last = time.perf_counter()
        self._first: Optional[float] = None  # noqa: UP045
        usable = costs is not None and len(costs) == total and all(c > 0 for c in costs)
        self.costs = [float(c) for c in costs] if usable else None
        # Cost finished after the first unit, and cost not finished yet.
        self._cost_since = 0.0
        self._cost_left = sum(self.costs) if self.costs else 0.0

    def update(self, ret: JobReturn, i: Optional[int] = None) -> None:  # noqa: UP045
        """``ret`` of the unit launched ``i``-th (its cost weighs the estimate)."""
        self.done += 1
        self.failed += ret.status != JobStatus.COMPLETED
        now = time.perf_counter()
        if self.costs is not None:
            if i is None:
                self.costs = None  # which unit ended is unknown: count units instead
            else:
                self._cost_left -= self.costs[i]
                if self._first is not None:
                    self._cost_since += self.costs[i]
        if self._first is None:
            self._first = now
        if now - self._last < self.every and self.done < self.total:
            return
        self._last = now
        log.info(
            "[%d/%d units] %d failed, %s elapsed%s",
            self.done,
            self.total,
            self.failed,
            _fmt(now - self.t0),
            self._left(now),
        )

    def _left(self, now: float) -> str:
        if self.done >= self.total:
            return ""
        since = self.done - 1  # units finished after the first
        # Two rounds of every worker: a steady rate, past the workers' start.
        if since < 2 * self.workers or now <= self._first:
            return ""  # no steady rate yet
        if self.costs is not None:
            left = (now - self._first) / self._cost_since * max(self._cost_left, 0.0)
        else:
            left = (now - self._first) / since * (self.total - self.done)
        return f", about {_fmt(left)} left"


def launch_units(
    launcher: Launcher,
    job_overrides: Sequence[Sequence[str]],
    costs: Optional[Sequence[float]] = None,  # noqa: UP045
    initial_job_idx: int = 0,
) -> Sequence[JobReturn]:
    """Hydra's ``launch``; a launcher whose ``launch`` takes ``costs`` (this one: for the time
    left) also gets each job's estimated cost. Other launchers (basic, joblib) do not."""
    if costs is not None and "costs" in inspect.signature(launcher.launch).parameters:
        return launcher.launch(job_overrides, initial_job_idx=initial_job_idx, costs=costs)
    return launcher.launch(job_overrides, initial_job_idx=initial_job_idx)


def _run_one(
    idx: int,
    overrides: Sequence[str],
    hydra_context: HydraContext,
    config: DictConfig,
    task_function: TaskFunction,
    singleton_state: Any,
    attempt: Optional[str] = None,  # noqa: UP045
    limits: tuple = (None, None),
) -> JobReturn:
    """One Hydra job, in whatever process runs it (compose, then Hydra's run_job).

    ``attempt``: the task's key (the same when Dask runs it again); ``limits``: the unit's
    (seconds, bytes), enforced by :func:`imbsweep.unit_guard.unit`.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.singleton import Singleton
    from hydra.core.utils import run_job
    from omegaconf import open_dict

    from imbsweep import unit_compose, unit_guard

    Singleton.set_state(singleton_state)
    setup_globals()
    cfg = unit_compose.load_sweep_config(hydra_context.config_loader, config, overrides)
    with open_dict(cfg):
        cfg.hydra.job.id = f"{idx}"
        cfg.hydra.job.num = idx
    HydraConfig.instance().set_config(cfg)
    with unit_guard.unit(attempt, *limits):
        return run_job(
            hydra_context=hydra_context,
            task_function=task_function,
            config=cfg,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )


def _run_shared(
    idx: int, overrides: Sequence[str], shared: bytes, attempt: str, limits: tuple
) -> JobReturn:
    import cloudpickle

    # Each unit unpickles its own copy: Singleton.set_state adopts the dict it is given and
    # Hydra adds to it, while the worker may be pickling the same object to send it to another
    # worker ("dictionary changed size during iteration", after which the sweep hung).
    return _run_one(idx, overrides, *cloudpickle.loads(shared), attempt, limits)


def _keep(payload: bytes) -> bytes:
    return payload


def _submit_shared(client: Any, launcher: "DaskLauncher", state: Any, batch: str) -> Any:
    """What every unit needs (~100 KB) as a task of bytes (see :func:`_run_shared`).

    A task rather than scattered data: when the workers holding it die, Dask computes it again
    instead of cancelling every unit.
    """
    import cloudpickle

    payload = (launcher.hydra_context, launcher.config, launcher.task_function, state)
    return client.submit(_keep, cloudpickle.dumps(payload), key=f"shared-{batch}", pure=False)


class DaskLauncher(Launcher):
    def __init__(
        self,
        address: Optional[str] = None,  # noqa: UP045
        n_workers: Optional[int] = None,  # noqa: UP045
        preload: Optional[Sequence[str]] = None,  # noqa: UP045
        progress_every: float = 10.0,
        pin: bool = False,
        unit_timeout: Any = None,
        unit_memory: Any = None,
        tls_ca_file: Optional[str] = None,  # noqa: UP045
        tls_cert: Optional[str] = None,  # noqa: UP045
        tls_key: Optional[str] = None,  # noqa: UP045
    ) -> None:
        self.address = address
        self.tls = {
            "tls_ca_file": tls_ca_file,
            "tls_client_cert": tls_cert,
            "tls_client_key": tls_key,
        }
        check_tls(address, self.tls)
        self.unit_timeout = unit_timeout
        self.unit_memory = unit_memory
        self.pin = pin
        self.n_workers = n_workers
        self.preload = None if preload is None else list(preload)
        self.progress_every = progress_every
        self.config: Optional[DictConfig] = None  # noqa: UP045
        self.hydra_context: Optional[HydraContext] = None  # noqa: UP045
        self.task_function: Optional[TaskFunction] = None  # noqa: UP045
        self._client: Any = None
        self._starting: Optional[threading.Thread] = None  # noqa: UP045
        self._warming: Optional[threading.Thread] = None  # noqa: UP045
        self._warm_futures: list[Any] = []
        self._small = False  # prepare() found the work too small for a cluster

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    def wants_estimate(self, n_jobs: int) -> bool:
        """Whether :meth:`prepare` should wait for the work's estimated seconds (a small sweep
        whose launcher choice is ours), rather than start workers while the caller plans."""
        return self._auto() and n_jobs <= SMALL_SWEEP_UNITS

    def prepare(self, n_jobs: int, seconds: Optional[float] = None) -> None:  # noqa: UP045
        """Start the cluster on a background thread while the caller is still planning.

        Only when ``launch`` will need it (more than one job, more than one worker). With
        ``seconds``, the estimated serial run time of the jobs, and ``n_workers`` and
        ``address`` unset, work that a cluster would not finish sooner runs in this process.
        """
        workers = self.n_workers or usable_cores()
        if self._client is not None or self._in_process(n_jobs, workers):
            return
        if seconds is not None and self._auto() and seconds * (1 - 1 / workers) < START_SECONDS:
            self._small = True
            log.info(
                "%d unit(s), about %.0f s of work: running in this process (starting %d "
                "workers costs ~%.0f s; hydra.launcher.n_workers=%d starts them anyway)",
                n_jobs,
                seconds,
                workers,
                START_SECONDS,
                workers,
            )
            return
        self._starting = threading.Thread(
            target=self._connect, args=(workers,), name="dask-start", daemon=True
        )
        self._starting.start()

    def warm(self, fns: Sequence[Callable[[], Any]]) -> None:
        """Run each function once on every worker of a prepared cluster, before any job.

        E.g. import a heavy library the jobs need, so that it overlaps the caller's planning
        instead of delaying the first jobs. Nothing happens without :meth:`prepare`.
        """
        if self._starting is None or not fns:
            return

        def submit(started: threading.Thread) -> None:
            started.join()
            client = self._client
            if client is None:
                return
            for fn in fns:
                for addr in client.scheduler_info()["workers"]:
                    # In the worker's task thread, ahead of every job (priority).
                    fut = client.submit(
                        fn, workers=[addr], allow_other_workers=False, pure=False, priority=10**9
                    )
                    self._warm_futures.append(fut)  # a dropped future's task is cancelled

        self._warming = threading.Thread(
            target=submit, args=(self._starting,), name="dask-warm", daemon=True
        )
        self._warming.start()

    def launch(
        self,
        job_overrides: Sequence[Sequence[str]],
        initial_job_idx: int,
        costs: Optional[Sequence[float]] = None,  # noqa: UP045
    ) -> Sequence[JobReturn]:
        """Hydra's launch. ``costs``: each job's estimated cost, in the same order (e.g.
        :func:`imbsweep.driver.estimate_cost`): the progress line's time left is weighed by it."""
        from hydra.core.singleton import Singleton

        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        n = len(job_overrides)
        workers = self.n_workers or usable_cores()
        progress = Progress(n, self.progress_every, workers, costs)
        state = Singleton.get_state()
        if self._in_process(n, workers):
            log.info("Launching %d unit(s) in this process", n)
            out = []
            for i, ov in enumerate(job_overrides):
                ret = _run_one(
                    initial_job_idx + i,
                    ov,
                    self.hydra_context,
                    self.config,
                    self.task_function,
                    state,
                )
                progress.update(ret, i)
                out.append(ret)
            return out
        return self._launch_dask(job_overrides, initial_job_idx, workers, progress, state)

    def _in_process(self, n_jobs: int, workers: int) -> bool:
        # A limit is enforced by killing the unit's process: never this one.
        limited = self.unit_timeout is not None or self.unit_memory is not None
        return self.address is None and not limited and (n_jobs <= 1 or workers <= 1 or self._small)

    def _auto(self) -> bool:
        # Only a choice the user left to us: a set n_workers, an address or a limit is kept.
        limited = self.unit_timeout is not None or self.unit_memory is not None
        return self.n_workers is None and self.address is None and not limited

    def _limits(self) -> tuple[Optional[float], Optional[int]]:  # noqa: UP045
        from dask.utils import parse_bytes, parse_timedelta

        timeout = None if self.unit_timeout is None else parse_timedelta(self.unit_timeout, "s")
        memory = None if self.unit_memory is None else parse_bytes(self.unit_memory)
        return timeout, memory

    def _launch_dask(
        self,
        job_overrides: Sequence[Sequence[str]],
        initial_job_idx: int,
        workers: int,
        progress: Progress,
        state: Any,
    ) -> list[JobReturn]:
        from distributed import as_completed

        for started in (self._starting, self._warming):
            if started is not None:
                started.join()
        self._starting = self._warming = None
        client = self._connect(min(workers, len(job_overrides)))

        limits = self._limits()
        batch = uuid.uuid4().hex[:8]
        shared = _submit_shared(client, self, state, batch)
        n = len(job_overrides)
        futures = {}
        for i, ov in enumerate(job_overrides):
            idx = initial_job_idx + i
            log.debug("\t#%d : %s", idx, " ".join(filter_overrides(ov)))
            key = f"job-{batch}-{idx}"
            fut = client.submit(
                _run_shared,
                idx,
                list(ov),
                shared,
                key,
                limits,
                key=key,
                priority=n - i,
                pure=False,
            )
            futures[fut] = (i, ov)
        results: list[Optional[JobReturn]] = [None] * n  # noqa: UP045
        done = as_completed(list(futures))
        for fut in done:
            i, ov = futures.pop(fut)
            try:
                ret = fut.result()
            except Exception as exc:  # the job could not run or its result not come back
                ret = JobReturn(overrides=list(ov), status=JobStatus.FAILED, _return_value=exc)
            # Released as soon as gathered: a result still held by a worker that dies would be
            # computed again (a finished unit run twice).
            fut.release()
            del fut
            results[i] = ret
            progress.update(ret, i)
        self._warm_futures.clear()
        shared.release()
        return results  # type: ignore[return-value]

    def stream(self) -> Any:
        """Jobs one at a time, each started as soon as a worker is free
        (:mod:`hydra_plugins.imbsweep_plugins.job_stream`)."""
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        workers = self.n_workers or usable_cores()
        if self._in_process(2, workers):
            return _InProcessStream(self)
        for started in (self._starting, self._warming):
            if started is not None:
                started.join()
        self._starting = self._warming = None
        return _DaskStream(self, self._connect(workers), workers)

    def _connect(self, workers: int) -> Any:
        if self._client is not None:
            return self._client
        from distributed import Client, LocalCluster

        # Dask's own INFO lines (scheduler, nanny, comms) are noise in a sweep's console.
        logging.getLogger("distributed").setLevel(logging.WARNING)

        if self.address:
            log.info("Sending jobs to the Dask scheduler at %s", self.address)
            if not self.address.startswith("tls://"):
                log.warning(
                    "the scheduler at %s is not on TLS: whoever can reach it runs code as its "
                    "workers' user (README: Beyond one machine)",
                    self.address,
                )
            self._client = Client(self.address, security=external_security(self.tls))
        else:
            from distributed.security import Security

            log.info("Starting a local Dask cluster: %d worker process(es)", workers)
            cluster = LocalCluster(
                # TLS with throwaway certificates: another user of this machine who finds the
                # port cannot connect and run code as us (costs no measurable start time).
                protocol="tls://",
                security=Security.temporary(),
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # no fixed port to collide with another sweep
                scheduler_kwargs={"dashboard": False},
                preload=self._preload(),
                silence_logs=logging.ERROR,
            )
            client = Client(cluster)
            client.register_plugin(_exit_promptly_plugin(), name="exit-promptly")
            if self.pin and workers > 1 and workers <= usable_cores():
                cores = sorted(os.sched_getaffinity(0))
                for i, addr in enumerate(sorted(client.scheduler_info()["workers"])):
                    client.run(_pin_process, cores[i % len(cores)], workers=[addr])
            self._client = client
        atexit.register(self._close)
        return self._client

    def close(self) -> None:
        """Shut down what :meth:`prepare` or :meth:`launch` started, once it has started."""
        for started in (self._starting, self._warming):
            if started is not None:
                started.join()
        self._starting = self._warming = None
        self._close()

    def _preload(self) -> list[str] | None:
        if self.preload is not None:
            return self.preload or None
        module = getattr(self.task_function, "__module__", None)
        return [module] if module and module != "__main__" else None

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        cluster = getattr(client, "cluster", None)
        try:
            client.close()
            if cluster is not None and not self.address:
                cluster.close()
        except Exception as exc:  # shutting down: nothing left to protect
            log.debug("closing the Dask cluster: %s", exc)


def check_tls(address: Optional[str], tls: dict) -> None:  # noqa: UP045
    """One message for TLS settings that cannot work, before anything starts."""
    from imbsweep.errors import InputError

    # The launcher's key for each of Security's arguments, for the messages.
    names = {
        "tls_ca_file": "tls_ca_file",
        "tls_client_cert": "tls_cert",
        "tls_client_key": "tls_key",
    }
    given = {names[k]: v for k, v in tls.items() if v}
    if given and not address:
        raise InputError(
            "hydra.launcher.tls_* are for an external scheduler (hydra.launcher.address=tls://...);"
            " a local cluster makes its own certificates"
        )
    if given and not str(address).startswith("tls://"):
        raise InputError(
            f"hydra.launcher.address={address} with TLS files: the address must start with tls://"
        )
    if given and len(given) < 3:
        raise InputError(
            "hydra.launcher.tls_ca_file, tls_cert and tls_key go together (got only "
            f"{', '.join(sorted(given))}); `python -m imbsweep.tls DIR` writes all three"
        )
    for key, path in given.items():
        if not Path(path).is_file():
            raise InputError(f"hydra.launcher.{key}={path}: no such file")
    if str(address).startswith("tls://") and not given:
        import dask

        if not dask.config.get("distributed.comm.tls.ca-file", None):
            raise InputError(
                f"hydra.launcher.address={address} needs certificates: set "
                "hydra.launcher.tls_ca_file, tls_cert and tls_key (`python -m imbsweep.tls DIR` "
                "makes them) or Dask's distributed.comm.tls.* config"
            )


def external_security(tls: dict) -> Any:
    """distributed's ``Security`` for an external scheduler: the given files, else Dask's config."""
    from distributed.security import Security

    given = {k: v for k, v in tls.items() if v}
    return Security(**given, require_encryption=True) if given else Security()


class _InProcessStream:
    """One worker: each queued job runs in this process when waited on, oldest first."""

    workers = 1

    def __init__(self, launcher: "DaskLauncher") -> None:
        from hydra.core.singleton import Singleton

        self.launcher = launcher
        self._state = Singleton.get_state()
        self._queued: list[tuple[Any, int, list[str]]] = []

    def __len__(self) -> int:
        return len(self._queued)

    def submit(self, token: Any, idx: int, overrides: Sequence[str]) -> None:
        self._queued.append((token, idx, list(overrides)))

    def wait(self) -> list[tuple[Any, JobReturn]]:
        if not self._queued:
            return []
        token, idx, ov = self._queued.pop(0)
        la = self.launcher
        return [
            (token, _run_one(idx, ov, la.hydra_context, la.config, la.task_function, self._state))
        ]

    def close(self) -> None:
        self._queued.clear()


class _DaskStream:
    """Each job a Dask task as it is submitted, earlier ones first; results as they finish."""

    def __init__(self, launcher: "DaskLauncher", client: Any, workers: int) -> None:
        from distributed import as_completed
        from hydra.core.singleton import Singleton

        self.workers = workers
        self._client = client
        self._limits = launcher._limits()
        self._batch = uuid.uuid4().hex[:8]
        state = Singleton.get_state()
        self._shared = _submit_shared(client, launcher, state, self._batch)
        self._done = as_completed()
        self._futures: dict[Any, tuple[Any, list[str]]] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._futures)

    def submit(self, token: Any, idx: int, overrides: Sequence[str]) -> None:
        self._seq += 1
        key = f"job-{self._batch}-{idx}-{self._seq}"
        fut = self._client.submit(
            _run_shared,
            idx,
            list(overrides),
            self._shared,
            key,
            self._limits,
            key=key,
            priority=-self._seq,  # first submitted, first run
            pure=False,
        )
        self._futures[fut] = (token, list(overrides))
        self._done.add(fut)

    def wait(self) -> list[tuple[Any, JobReturn]]:
        if not self._futures:
            return []
        out = []
        first = next(self._done)
        for fut in [first, *self._done.next_batch(block=False)]:
            token, ov = self._futures.pop(fut)
            try:
                ret = fut.result()
            except Exception as exc:  # the job could not run or its result not come back
                ret = JobReturn(overrides=ov, status=JobStatus.FAILED, _return_value=exc)
            fut.release()  # gathered: a worker that dies now cannot make Dask run it again
            out.append((token, ret))
        return out

    def close(self) -> None:
        for fut in list(self._futures):
            fut.cancel()
        self._futures.clear()
        self._shared.release()


def _pin_process(core: int) -> None:
    """Keep every thread of this worker process (present and future) on one core."""
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):  # a thread that just ended
            os.sched_setaffinity(int(tid), {core})


def _exit_promptly_plugin() -> Any:
    """A worker plugin: local workers end at once when the cluster closes.

    A worker that imported TensorFlow keeps threads that hold its process open until the nanny
    kills it after 4 s; the sweep is over by then, so there is nothing to wait for. Only
    registered on the local cluster this launcher started, never on a shared one. Built here
    because Hydra imports this module at every start and Dask must stay unimported until used.
    """
    from distributed.diagnostics.plugin import WorkerPlugin

    class ExitPromptly(WorkerPlugin):
        def teardown(self, worker: Any) -> None:
            import sys

            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)

    return ExitPromptly()
