"""MLflow: where runs go, the sweep -> job -> seed run hierarchy, and what each run records.

All runs are created with ``MlflowClient`` (a sweep's runs may span processes); a seed run's
logging happens on a writer thread, so it overlaps the next seed's fit.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import os
import sqlite3
import subprocess
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from imbsweep import credentials, project_run
from imbsweep.paths import PROJECT_ROOT

log = logging.getLogger(__name__)


# Tag keys users filter on in the MLflow UI and in `search_runs` (documented in docs/tracking.md).
TAG_LEVEL = "run_level"  # sweep | job | seed
TAG_SWEEP = "sweep_id"
TAG_METHOD = "method"
TAG_DATASET = "dataset"
TAG_SEED = "seed"
TAG_FOLD = "fold"  # split.protocol=kfold: the unit's fold within its seed's repeat
TAG_STAGE = "stage"
TAG_COMMIT = "git_commit"
TAG_LABEL = "label"
TAG_OVERRIDES = "overrides"
# What determines a job's results (config without bookkeeping keys + data digest), hashed:
# a resumed sweep finds its finished seed runs by (job_key, seed).
TAG_JOB_KEY = "job_key"


def default_tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else a sqlite file at the project root (absolute)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"


def is_local_store(uri: str) -> bool:
    """A store in a file on this machine (sqlite, a file store) rather than a server or a
    database others reach: what ``tracking.sklearn_format=auto`` calls not shared."""
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


def model_format(setting: str, uri: str) -> str:
    """``tracking.sklearn_format``: ``auto`` is skops (loads without running code) on a shared
    store and cloudpickle (~10x faster to log) on a local one; otherwise the setting itself."""
    if setting != "auto":
        return setting
    return "cloudpickle" if is_local_store(uri) else "skops"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (None for servers and other databases)."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///") :].split("?", 1)[0])


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock across processes on this machine (released if the holder dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Serialise work on a sqlite store across processes: a lock file beside the database.

    For other stores (a tracking server, PostgreSQL) it does nothing: they handle concurrency.
    """
    db = sqlite_path(uri)
    if db is None:
        yield
        return
    with file_lock(db.with_name(db.name + ".lock")):
        yield


@contextmanager
def quiet_downloads() -> Iterator[None]:
    """No artifact progress bar while reading many runs' small artifacts (one bar per file
    would flood the console); the user's own setting comes back afterwards."""
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    before = os.environ.get(key)
    os.environ[key] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


def open_store(uri: str) -> None:
    """Create (or migrate) the tracking store once, safely when many processes start at once.

    Several processes creating one fresh sqlite store race on its schema migration and can
    corrupt it (FACTS.md), so creation runs under the store's lock. WAL journaling lets readers
    and the writer work at the same time instead of failing with "database is locked".
    """
    db = sqlite_path(uri)
    if db is None:
        return
    from mlflow.tracking._tracking_service.utils import _get_store

    with store_lock(uri):
        if not db.exists() or db.stat().st_size == 0:
            from imbsweep import store_template

            db.parent.mkdir(parents=True, exist_ok=True)
            store_template.create(db)
        _get_store(uri)  # MLflow creates or verifies the schema here (cached per process)
        with sqlite3.connect(db, timeout=60) as con:
            con.execute("PRAGMA journal_mode=WAL")


def _locked_error(exc: BaseException) -> bool:
    return "database is locked" in str(exc) or "database table is locked" in str(exc)


def _retryable(call: str, exc: BaseException) -> bool:
    """A busy sqlite store, or two processes racing to create the same dataset row.

    ``log_inputs`` gets-or-creates the dataset (experiment, name, digest) in MLflow without a
    lock: when another process inserted it in between, the transaction fails on the unique
    constraint and is rolled back, and a second attempt finds the row.
    """
    if _locked_error(exc):
        return True
    msg = str(exc)
    return call == "log_inputs" and ("UNIQUE constraint failed" in msg or "duplicate key" in msg)


class RetryingClient:
    """``MlflowClient`` whose calls retry while a sqlite store says "database is locked" (and on
    the one get-or-create race MLflow leaves open, see :func:`_retryable`).

    MLflow waits up to 20 s per statement; under many writers that can still run out, and a
    sweep must not lose a run for it. Other errors pass through at once.
    """

    def __init__(self, client: Any, attempts: int = 8):
        self._client = client
        self._attempts = attempts

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            for i in range(self._attempts):
                try:
                    return attr(*args, **kwargs)
                except Exception as exc:
                    if not _retryable(name, exc) or i == self._attempts - 1:
                        raise
                    log.warning("tracking store busy or racing (%s): retrying %s", exc, name)
                    time.sleep(min(0.5 * 2**i, 10))
            raise AssertionError("unreachable")

        return call


def setup(uri: str | None, experiment: str, experiment_id: str | None = None) -> str:
    """Point MLflow at the store and experiment; returns the experiment id.

    With the default sqlite store, artifacts go beside it (absolute path), not to ``./mlruns``
    of whatever directory the user happens to be in.
    """
    import mlflow

    uri = uri or default_tracking_uri()
    open_store(uri)
    mlflow.set_tracking_uri(uri)
    if experiment_id:  # given by a sweep's driver to its units, wherever they run
        return experiment_id
    if env_exp := project_run.user_experiment_id():
        # The user's MLFLOW_EXPERIMENT_ID wins, as in MLflow's fluent API (not `mlflow run`'s).
        return env_exp
    exp = mlflow.get_experiment_by_name(experiment)
    if exp is not None:
        return exp.experiment_id
    location = None
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///") :])
        location = (db.parent / "mlartifacts" / experiment).as_uri()
    try:
        with store_lock(uri):
            exp = mlflow.get_experiment_by_name(experiment)
            if exp is not None:
                return exp.experiment_id
            return mlflow.create_experiment(experiment, artifact_location=location)
    except Exception:  # another process (on another machine) created it first
        exp = mlflow.get_experiment_by_name(experiment)
        if exp is None:
            raise
        return exp.experiment_id


@functools.cache
def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return out + ("-dirty" if dirty else "")
    except Exception:
        return "unknown"


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = json.dumps(v) if isinstance(v, list | tuple) else v
    return out


# Models carry a signature; an input example would cost a serving check per seed run.
warnings.filterwarnings("ignore", message=".*An input example was not provided.*")
# Integer feature columns (e.g. an hour of day) are the user's data as it is, not a mistake.
warnings.filterwarnings("ignore", message=".*Inferred schema contains integer column")


def _str_params(params: dict[str, Any]) -> dict[str, str]:
    # MLflow caps a param value at 6000 characters.
    return {k: str(v)[:6000] for k, v in params.items()}


class SeedWriter:
    """One background thread that logs finished seeds while the next one fits.

    A context manager: leaving the block waits for every pending task (a failed task has already
    marked its run FAILED) and stops the thread. :meth:`drain` waits too, and re-raises the first
    failure, for a job that must know its seeds were all recorded.
    """

    def __init__(self, tracker: Tracker):
        self._tracker = tracker
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []

    def __enter__(self) -> SeedWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, fn: Callable[[], None], run_id: str) -> None:
        """Run ``fn`` (the logging of a finished seed), then close run ``run_id``."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlflow-writer")
        tracker = self._tracker

        def task() -> None:
            try:
                fn()
            except BaseException as exc:
                tracker.fail_run(run_id, exc)
                raise
            tracker.end_run(run_id)

        self._pending.append(self._pool.submit(task))

    def drain(self) -> None:
        """Wait for all submitted logging; re-raise the first failure."""
        pending, self._pending = self._pending, []
        errors = [e for e in (f.exception() for f in pending) if e is not None]
        if errors:
            raise errors[0]

    def close(self) -> None:
        """Wait for pending logging (failures already marked their runs) and stop the thread."""
        for f in self._pending:
            f.exception()
        self._pending = []
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


class Tracker:
    """Creates and fills MLflow runs (sweep, job, seed), all through ``MlflowClient``.

    ``Tracker(enabled=False)`` (``tracking.enabled=false``) gives a :class:`NullTracker`, whose
    every call does nothing. A tracker is a context manager that closes its seed writer.
    """

    enabled = True

    def __new__(cls, enabled: bool = True, **_: Any) -> Tracker:
        return super().__new__(cls if enabled or cls is not Tracker else NullTracker)

    def __init__(
        self,
        enabled: bool = True,
        uri: str | None = None,
        experiment: str = "imbsweep",
        log_models: bool = True,
        sklearn_format: str = "cloudpickle",
        experiment_id: str | None = None,
    ):
        import mlflow

        from imbsweep import plain_output

        real = credentials.restore(uri or default_tracking_uri())
        self.sklearn_format = model_format(sklearn_format, real)
        self.log_models = log_models
        # What is shown and passed on (to units, in overrides): never the password.
        self.uri = credentials.redact(real)
        self.writer = SeedWriter(self)
        plain_output.install()  # no raw colour codes in logs and pipes
        self.experiment_id: str | None = setup(real, experiment, experiment_id)
        # Logged models are created in the fluent API's current experiment. set_experiment
        # also exports MLFLOW_EXPERIMENT_ID: leave the environment as the user had it.
        mlflow.set_experiment(experiment_id=self.experiment_id)
        if project_run.user_experiment_id() is None:
            os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
        self.client = RetryingClient(mlflow.MlflowClient())

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ runs (client)

    def create_run(
        self, name: str, tags: dict[str, str], parent_id: str | None = None
    ) -> str | None:
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

        tags = {**tags, MLFLOW_RUN_NAME: name, TAG_COMMIT: git_commit()}
        if parent_id:
            tags[MLFLOW_PARENT_RUN_ID] = parent_id
        run = self.client.create_run(self.experiment_id, tags=tags, run_name=name)
        return run.info.run_id

    def log_params(self, run_id: str | None, params: dict[str, Any]) -> None:
        if not run_id:
            return
        from mlflow.entities import Param

        params = _str_params(params)
        self.client.log_batch(run_id, params=[Param(k, v) for k, v in params.items()])

    def log_metrics(self, run_id: str | None, metrics: dict[str, float]) -> None:
        if not run_id:
            return
        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        ms = [Metric(k, float(v), ts, 0) for k, v in metrics.items() if np.isfinite(v)]
        self.client.log_batch(run_id, metrics=ms)

    def log_files(
        self, run_id: str | None, files: dict[str, str | bytes], subdir: str | None = None
    ):
        """Write small text/bytes artifacts to a temp dir and upload them in one call."""
        if not run_id:
            return
        with tempfile.TemporaryDirectory() as tmp:
            for name, content in files.items():
                p = Path(tmp) / name
                p.write_bytes(content if isinstance(content, bytes) else content.encode())
            self.client.log_artifacts(run_id, tmp, subdir)

    def log_dataset(self, run_id: str | None, ds: Any) -> None:
        """The dataset as an MLflow input (name, digest, source): runs on the same data group."""
        if not run_id:
            return
        from imbsweep.datasets import dataset_input_entity

        self.client.log_inputs(run_id, datasets=[dataset_input_entity(ds)])

    def set_tags(self, run_id: str | None, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        if run_id and tags:
            self.client.log_batch(run_id, tags=[RunTag(k, str(v)[:8000]) for k, v in tags.items()])

    def end_run(self, run_id: str | None, status: str = "FINISHED") -> None:
        if run_id:
            self.client.set_terminated(run_id, status)

    def fail_run(self, run_id: str | None, exc: BaseException) -> None:
        """Record the error on the run and mark it FAILED."""
        if not run_id:
            return
        # An error may quote a store URL (a connection that failed): never its password.
        text = credentials.redact_text("".join(traceback.format_exception(exc)))
        error = credentials.redact_text(f"{type(exc).__name__}: {exc}")
        self.set_tags(run_id, {"error": error[:5000]})
        self.log_files(run_id, {"error.txt": text})
        self.end_run(run_id, "FAILED")

    def log_model(self, run_id: str, fitted: Any, X_example: Any) -> None:
        """The fitted method as an MLflow model (:func:`imbsweep.methods.packaging.log_model`)."""
        if self.log_models:
            from imbsweep.methods.packaging import log_model

            log_model(run_id, fitted, X_example, self.sklearn_format)

    # ------------------------------------------------------------ seed runs (writer thread)

    def submit(self, fn: Callable[[], None], run_id: str | None) -> None:
        """Log a finished seed on the writer thread (overlapping the next seed's fit)."""
        if run_id:
            self.writer.submit(fn, run_id)

    def drain(self) -> None:
        self.writer.drain()

    def close(self) -> None:
        self.writer.close()


class NullTracker(Tracker):
    """Tracking off: the same calls, none of them doing anything (benchmarks, tests)."""

    enabled = False
    log_models = False
    experiment_id = None
    client = None

    def __init__(self, enabled: bool = False, uri: str | None = None, **_: Any):
        self.uri = credentials.redact(uri or default_tracking_uri())

    def create_run(self, *args: Any, **kwargs: Any) -> None:
        return None

    def _nothing(self, *args: Any, **kwargs: Any) -> None:
        return None

    log_params = log_metrics = log_files = log_dataset = set_tags = _nothing
    end_run = fail_run = log_model = submit = drain = close = _nothing
