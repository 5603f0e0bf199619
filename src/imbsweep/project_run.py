"""`mlflow run`'s project run, and runs that a dead process left RUNNING.

``mlflow run`` creates a run before it builds the environment and starts ``imbsweep``, in the
experiment named on its command line (MLflow's ``Default`` if none), and passes it down in
``MLFLOW_RUN_ID`` / ``MLFLOW_EXPERIMENT_ID``. imbsweep decides where its runs go itself:

- its runs always go to ``tracking.experiment`` (``imbsweep``), whose artifacts live in
  ``<store dir>/mlartifacts``, however the sweep was started;
- the project run becomes the sweep run when it already is in that experiment
  (``mlflow run . --experiment-name imbsweep``); otherwise it is kept as a pointer, tagged with
  the sweep run it started (:func:`link`), and MLflow closes it when the command ends;
- a project run whose ``mlflow run`` died before starting imbsweep (its environment failed to
  build, or it was killed), and a sweep run whose imbsweep process died, stay RUNNING in MLflow
  forever. The next imbsweep start closes them as KILLED with a tag saying why
  (:func:`close_stale_runs`).

Functions here take an ``MlflowClient``; nothing imports the rest of imbsweep.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

log = logging.getLogger(__name__)

ENV_RUN_ID = "MLFLOW_RUN_ID"
ENV_EXPERIMENT_ID = "MLFLOW_EXPERIMENT_ID"
# The process that owns a sweep (the launcher), inherited by job processes (joblib workers).

TAG_HOST = "imbsweep.host"
TAG_PID = "imbsweep.pid"
TAG_PID_START = "imbsweep.pid_start"
TAG_CLOSED = "killed_reason"  # the same tag the sweep driver writes when it closes runs
TAG_SWEEP_RUN = "imbsweep.sweep_run_id"
TAG_SWEEP_EXPERIMENT = "imbsweep.sweep_experiment"
DEFAULT_EXPERIMENT_ID = "0"

# The environment as the process started: `mlflow run` sets both variables; the sweep removes
# them (take()) before jobs start, so job processes see the same decision.
_AT_START = {k: os.environ.get(k) for k in (ENV_RUN_ID, ENV_EXPERIMENT_ID)}


def launched_by_mlflow_run() -> bool:
    """True when this process was started by ``mlflow run`` (it set ``MLFLOW_RUN_ID``)."""
    return _AT_START[ENV_RUN_ID] is not None


def user_experiment_id() -> str | None:
    """``MLFLOW_EXPERIMENT_ID`` when the user set it; ``None`` when ``mlflow run`` did, or nobody.

    A user's own variable wins over ``tracking.experiment``, as in MLflow's fluent API. The one
    ``mlflow run`` sets only says where it put its project run (``Default`` unless named).
    """
    return None if launched_by_mlflow_run() else _AT_START[ENV_EXPERIMENT_ID]


def take() -> str | None:
    """The project run's id, once: removes ``mlflow run``'s variables from the environment.

    Jobs (in this process or in workers) must neither adopt the run as their own nor read the
    experiment it was created in.
    """
    run_id = os.environ.pop(ENV_RUN_ID, None)
    if run_id and launched_by_mlflow_run():
        os.environ.pop(ENV_EXPERIMENT_ID, None)
    return run_id


def adoptable(client, run_id: str, experiment_id: str) -> bool:
    """Whether the project run can be the sweep run: it is in imbsweep's own experiment.

    Warns when that experiment keeps its artifacts outside ``<store dir>/mlartifacts``: on a new
    store, ``mlflow run --experiment-name imbsweep`` creates it before imbsweep can, with
    MLflow's default location (``./mlruns``), which no one can change afterwards.
    """
    if client.get_run(run_id).info.experiment_id != str(experiment_id):
        return False
    uri = str(client.tracking_uri)
    if uri.startswith("sqlite:///"):
        expected = (Path(uri[len("sqlite:///") :]).parent / "mlartifacts").as_uri()
        exp = client.get_experiment(experiment_id)
        location = exp.artifact_location
        if "://" not in location:
            location = Path(location).resolve().as_uri()
        if not location.startswith(expected):
            log.warning(
                "experiment %r keeps its artifacts in %s, not %s: `mlflow run --experiment-name` "
                "created it before imbsweep first used this store. Leave out --experiment-name "
                "(imbsweep's runs go to %r anyway) and, to move on, rename or delete that "
                "experiment.",
                exp.name,
                location,
                expected,
                exp.name,
            )
    return True


def link(client, project_run_id: str, sweep_run_id: str, experiment_id: str) -> None:
    """Tag the project run with the sweep run that holds the results, and say so in its note."""
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NOTE

    exp = client.get_experiment(experiment_id).name
    client.set_tag(project_run_id, TAG_SWEEP_RUN, sweep_run_id)
    client.set_tag(project_run_id, TAG_SWEEP_EXPERIMENT, exp)
    client.set_tag(
        project_run_id,
        MLFLOW_RUN_NOTE,
        f"This `mlflow run` ran an imbsweep sweep. Its runs are in experiment '{exp}': "
        f"sweep run {sweep_run_id} (imbsweep's runs always go to `tracking.experiment`).",
    )
    log.info(
        "mlflow run's run %s is in another experiment: the sweep's runs go to experiment %r "
        "(sweep run %s)",
        project_run_id,
        exp,
        sweep_run_id,
    )


# ------------------------------------------------------------------ process identity (Linux)


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def process_start(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds), or None if it does not exist (or no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    boot = _boot_time()
    if boot is None:
        return None
    # Field 22 (starttime, clock ticks since boot); the command name (field 2) may hold spaces.
    ticks = int(stat.rsplit(")", 1)[1].split()[19])
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def owner_tags() -> dict[str, str]:
    """Tags naming the process that owns a sweep run, so a later start can tell it died."""
    pid = os.getpid()
    start = process_start(pid)
    return {
        TAG_HOST: socket.gethostname(),
        TAG_PID: str(pid),
        TAG_PID_START: f"{start:.2f}" if start is not None else "",
    }


def _owner_alive(tags: dict[str, str]) -> bool:
    start = process_start(int(tags[TAG_PID]))
    if start is None:
        return False
    # A recycled pid belongs to a process that started later.
    recorded = tags.get(TAG_PID_START)
    return not recorded or abs(start - float(recorded)) < 2.0


def _mlflow_run_starts() -> list[float] | None:
    """Start times of the living ``mlflow run`` processes on this machine (None: cannot tell)."""
    if not Path("/proc/self/cmdline").exists():
        return None
    starts = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        names = [Path(a.decode(errors="replace")).name for a in argv]
        for i, name in enumerate(names[:-1]):
            if name.startswith("mlflow") and names[i + 1] == "run":
                start = process_start(int(d.name))
                if start is not None:
                    starts.append(start)
                break
    return starts


def _is_local_store(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:", "/")) or "://" not in uri


def close_stale_runs(client, experiment_ids: list[str], project_root: Path) -> list[str]:
    """Close RUNNING runs whose process is gone; returns their ids.

    - A sweep run tagged with its owner (:func:`owner_tags`) on this host, whose owner process is
      gone: it and its RUNNING job and seed runs (tag ``sweep_id``) become KILLED.
    - A project run of this project (``mlflow.source.name`` is this folder) that imbsweep never
      adopted or linked: ``mlflow run`` died before imbsweep started. On a local store only
      (a tracking server may be shared with other machines), and only when no living
      ``mlflow run`` process on this machine started before it.
    """
    from mlflow.entities import RunStatus

    host = socket.gethostname()
    ids = sorted({str(e) for e in experiment_ids if e is not None})
    running = client.search_runs(ids, "attributes.status = 'RUNNING'", max_results=5000)
    now_ms = int(time.time() * 1000)
    closed: list[str] = []

    def close(run, why: str) -> None:
        client.set_tag(run.info.run_id, TAG_CLOSED, why)
        client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.KILLED), now_ms)
        closed.append(run.info.run_id)

    dead_sweeps: dict[str, str] = {}
    for run in running:
        tags = run.data.tags
        if tags.get(TAG_HOST) == host and tags.get(TAG_PID) and not _owner_alive(tags):
            why = (
                f"its process (pid {tags[TAG_PID]} on {host}) ended without closing it; "
                "closed by the next imbsweep start"
            )
            dead_sweeps[run.info.run_id] = why
            close(run, why)
    for run in running:
        sweep = run.data.tags.get("sweep_id")
        if run.info.run_id not in closed and sweep in dead_sweeps:
            close(run, dead_sweeps[sweep])

    uri = str(client.tracking_uri)
    source = f"file://{project_root.resolve().as_posix()}"
    orphans = [
        r
        for r in running
        if r.info.run_id not in closed
        and r.data.tags.get("mlflow.source.type") == "PROJECT"
        and r.data.tags.get("mlflow.source.name") == source
        and "run_level" not in r.data.tags
        and TAG_SWEEP_RUN not in r.data.tags
    ]
    if orphans and _is_local_store(uri):
        starts = _mlflow_run_starts()
        for run in orphans:
            started = run.info.start_time / 1000
            # A living `mlflow run` that started before this run may still be building its env.
            if starts is not None and not any(s <= started + 1 for s in starts):
                close(
                    run,
                    "`mlflow run` ended before starting imbsweep (e.g. building its environment "
                    "failed, or it was killed); closed by the next imbsweep start",
                )
    if closed:
        log.warning(
            "closed %d run(s) left RUNNING by a process that no longer exists (tag %s says why)",
            len(closed),
            TAG_CLOSED,
        )
    return closed
