"""A unit runs once per identity however often its launcher starts it, and within its limits.

Dask starts a task again when the worker that ran it, or held its result, dies (FACTS.md). So a
unit first looks in MLflow for its own identity in its sweep: a FINISHED run is its result (no
second run); a RUNNING one is the half-written run of an attempt whose worker died, closed KILLED
with the reason; a FAILED one stopped by a limit in this same launch fails the unit again at
once. Where the identity is read: :data:`IDENTITY_TAGS`.

Limits (``hydra.launcher.unit_timeout``, ``unit_memory``): a watchdog thread in the worker process
checks the unit's wall time and what it added to the process's resident memory. Over a limit, it
records the unit's run FAILED (tags ``unit_limit``, ``error``) and kills its own process: Python
cannot stop a thread that is inside C code (a fit, a sleep), a process can always be stopped.
The worker's nanny starts a fresh process, Dask hands the unit to a worker again and
:func:`begin` fails it with the recorded reason. So a limit needs one single-threaded unit per
worker process (the local cluster's default).

Lives in ``imbsweep``, not ``hydra_plugins``: Hydra's scanner imports plugin modules twice, and
the state here must be one per process.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from imbsweep import tracking

log = logging.getLogger(__name__)

# What makes two runs the same unit of one sweep (a k-fold protocol adds its fold tag here).
IDENTITY_TAGS = (tracking.TAG_SWEEP, tracking.TAG_JOB_KEY, tracking.TAG_STAGE, tracking.TAG_SEED)
# Part of the identity when present: a k-fold unit's fold (holdout units have none).
FOLD_TAG = tracking.TAG_FOLD
TAG_WORKER = "imbsweep.worker"  # host:pid of the process that ran the unit
TAG_ATTEMPT = "imbsweep.attempt"  # the launcher's task key: Dask's retries of a task share it
TAG_LIMIT = "unit_limit"  # timeout | memory
KILLED_REASON = "killed_reason"

POLL_SECONDS = 0.1


class UnitLimitExceeded(RuntimeError):
    """A unit was stopped because it went over a limit of ``hydra.launcher``."""

    kind = "limit"


class UnitTimeout(UnitLimitExceeded):
    kind = "timeout"


class UnitOutOfMemory(UnitLimitExceeded):
    kind = "memory"


_BY_KIND = {c.kind: c for c in (UnitTimeout, UnitOutOfMemory)}
# Metric names on job runs: units of the job stopped by each limit.
COUNT_METRICS = {"timeout": "n_units_timeout", "memory": "n_units_out_of_memory"}


@dataclass
class _Unit:
    attempt: str | None
    tracker: Any = None
    run_id: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_local = threading.local()  # the unit this thread runs (a worker may run several threads)


def _current() -> _Unit | None:
    return getattr(_local, "unit", None)


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_tags() -> dict[str, str]:
    """Tags a unit's run gets: which process ran it, and in which launch attempt."""
    tags = {TAG_WORKER: _me()}
    unit = _current()
    if unit is not None and unit.attempt:
        tags[TAG_ATTEMPT] = unit.attempt
    return tags


def begin(tracker: Any, tags: dict[str, str]) -> dict[str, Any] | None:
    """Before a unit opens its run: its earlier result if it had one, else None (run it).

    ``tags`` are the tags the unit's run will get. Closes the runs that earlier attempts of the
    unit left RUNNING (their worker died); raises the limit error an attempt of this same launch
    was stopped with.
    """
    if not getattr(tracker, "enabled", False) or not all(tags.get(k) for k in IDENTITY_TAGS):
        return None
    keys = (*IDENTITY_TAGS, FOLD_TAG) if tags.get(FOLD_TAG) is not None else IDENTITY_TAGS
    where = " and ".join(f"tags.`{k}` = '{tags[k]}'" for k in keys)
    runs = tracker.client.search_runs(
        [tracker.experiment_id],
        f"{where} and tags.{tracking.TAG_LEVEL} = 'seed'",
        order_by=["attributes.start_time ASC"],
        max_results=1000,
    )
    attempt = tags.get(TAG_ATTEMPT)
    for r in runs:
        if r.info.status == "FINISHED":
            log.warning(
                "unit %s already finished in run %s: not run again", _describe(tags), r.info.run_id
            )
            seed = int(tags[tracking.TAG_SEED])
            fold = None if tags.get(FOLD_TAG) is None else int(tags[FOLD_TAG])
            if "skipped" in r.data.tags:
                return {"status": "skipped", "run_id": r.info.run_id, "seed": seed, "fold": fold}
            return {
                "status": "finished",
                "run_id": r.info.run_id,
                "seed": seed,
                "fold": fold,
                "metrics": dict(r.data.metrics),
            }
    for r in runs:
        rt = r.data.tags
        if r.info.status == "RUNNING":
            if _same(attempt, rt):
                why = (
                    f"its worker ({rt.get(TAG_WORKER, '?')}) died while the unit ran; "
                    f"the unit ran again on {_me()}"
                )
            else:
                why = f"superseded: the unit ran again on {_me()} in a later launch of the sweep"
            tracker.set_tags(r.info.run_id, {KILLED_REASON: why})
            tracker.end_run(r.info.run_id, "KILLED")
            log.warning("run %s of unit %s marked KILLED: %s", r.info.run_id, _describe(tags), why)
        elif r.info.status == "FAILED" and rt.get(TAG_LIMIT) and _same(attempt, rt):
            # Stopped by a limit in this launch: Dask's retry after the kill (module doc).
            cls = _BY_KIND.get(rt[TAG_LIMIT], UnitLimitExceeded)
            raise cls(rt.get("error", "").split(": ", 1)[-1] or f"over its {rt[TAG_LIMIT]}")
    return None


def _same(attempt: str | None, tags: dict[str, str]) -> bool:
    return attempt is not None and tags.get(TAG_ATTEMPT) == attempt


def started(tracker: Any, run_id: str | None) -> None:
    """The unit opened its run: the run a limit marks FAILED."""
    unit = _current()
    if unit is not None:
        with unit.lock:
            unit.tracker, unit.run_id = tracker, run_id


def _describe(tags: dict[str, str]) -> str:
    keys = (*IDENTITY_TAGS[1:], FOLD_TAG) if tags.get(FOLD_TAG) is not None else IDENTITY_TAGS[1:]
    return " ".join(f"{k}={tags.get(k)}" for k in keys)


def close_duplicates(tracker: Any, sweep_id: str, keep: set[str]) -> int:
    """Leave one FINISHED run per unit of the sweep: the others KILLED, naming the one kept.

    The driver's last word, for an attempt that finished while another was already running
    (e.g. a unit of a killed driver, still running on an external cluster, that ended just as
    the resumed sweep started it again). Keeps a run in ``keep`` (what the driver collected),
    else the first to start. Returns how many runs were closed.
    """
    runs = tracker.client.search_runs(
        [tracker.experiment_id],
        f"tags.{tracking.TAG_SWEEP} = '{sweep_id}' and tags.{tracking.TAG_LEVEL} = 'seed' "
        "and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time ASC"],
        max_results=50000,
    )
    by_unit: dict[tuple, list[Any]] = {}
    for r in runs:
        unit = tuple(r.data.tags.get(k) for k in (*IDENTITY_TAGS, FOLD_TAG))
        by_unit.setdefault(unit, []).append(r)
    n = 0
    for same in by_unit.values():
        if len(same) < 2:
            continue
        kept = next((r for r in same if r.info.run_id in keep), same[0])
        for r in same:
            if r is not kept:
                why = f"duplicate: the unit also finished in run {kept.info.run_id}, kept"
                tracker.set_tags(r.info.run_id, {KILLED_REASON: why})
                tracker.end_run(r.info.run_id, "KILLED")
                n += 1
    if n:
        log.warning("%d duplicate finished run(s) of units marked KILLED", n)
    return n


# ---------------------------------------------------------------------------- limits


@contextmanager
def unit(
    attempt: str | None, timeout: float | None = None, memory: int | None = None
) -> Iterator[None]:
    """Run one unit (in the calling thread) as ``attempt``, under the given limits.

    ``timeout``: seconds of wall time; ``memory``: bytes the unit may add to its process's
    resident memory. None or 0: no limit. Over a limit, the process is killed (module doc).
    """
    _local.unit = unit = _Unit(attempt)
    watch = _Watchdog(unit, timeout or None, memory or None) if timeout or memory else None
    try:
        yield
    finally:
        if watch is not None:
            watch.stop()
        _local.unit = None


class _Watchdog:
    def __init__(self, unit: _Unit, timeout: float | None, memory: int | None):
        import psutil

        self.unit, self.timeout, self.memory = unit, timeout, memory
        self.proc = psutil.Process()
        self.base = self.proc.memory_info().rss
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="imbsweep-limits", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            elapsed = time.monotonic() - self.t0
            if self.timeout is not None and elapsed > self.timeout:
                self._kill("timeout", f"unit over its time limit ({self.timeout:g} s)")
            if self.memory is not None:
                added = self.proc.memory_info().rss - self.base
                if added > self.memory:
                    self._kill(
                        "memory",
                        f"unit out of memory: it used {added / 1e6:.0f} MB, over its limit "
                        f"({self.memory / 1e6:.0f} MB)",
                    )

    def _kill(self, kind: str, text: str) -> None:
        unit = self.unit
        with unit.lock:  # held until the process ends: the unit cannot be recorded twice
            if self._stop.is_set():
                return  # the unit ended meanwhile
            log.error("%s: stopping worker process %s", text, _me())
            if unit.run_id:
                try:
                    exc = _BY_KIND[kind](text)
                    unit.tracker.set_tags(unit.run_id, {TAG_LIMIT: kind})
                    unit.tracker.fail_run(unit.run_id, exc)
                except Exception as e:  # the kill must happen anyway
                    log.error("could not record the stopped unit: %s", e)
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)


# ---------------------------------------------------------------------------- counting


def limit_kind(error: str) -> str | None:
    """``timeout`` / ``memory`` for a unit's error text (``"UnitTimeout: ..."``), else None."""
    for kind, cls in _BY_KIND.items():
        if error.startswith(cls.__name__ + ":"):
            return kind
    return None


def limit_counts(errors: list[str]) -> dict[str, int]:
    """A job's metrics: how many of its units each limit stopped."""
    kinds = [limit_kind(e) for e in errors]
    return {name: kinds.count(kind) for kind, name in COUNT_METRICS.items()}


def limit_summary(failures: list[Any]) -> str:
    """``brf: 2 timeout; smote_ann: 1 out of memory`` over failures (``label``, ``error``)."""
    per: dict[str, dict[str, int]] = {}
    for f in failures:
        kind = limit_kind(f.error)
        if kind:
            counts = per.setdefault(f.label, {})
            counts[kind] = counts.get(kind, 0) + 1
    names = {"timeout": "timeout", "memory": "out of memory"}
    return "; ".join(
        f"{label}: " + ", ".join(f"{n} {names[k]}" for k, n in sorted(c.items()))
        for label, c in sorted(per.items())
    )
