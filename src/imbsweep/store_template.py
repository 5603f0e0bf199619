"""New sqlite tracking stores as copies of an empty, fully migrated one.

MLflow builds a new sqlite store by replaying its whole history of schema migrations: 5 s on
an idle machine here, over 20 s on a busy one, paid by every fresh store (each test, each
benchmark run, a user's first sweep). The result is the same empty schema every time, so it is
built once per MLflow version into the user's cache and copied (milliseconds). MLflow still
verifies the copy's schema revision when it opens it, and anything unexpected falls back to
MLflow's own creation.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import sqlite3
import time
from pathlib import Path

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "imbsweep"


def template() -> Path:
    """The empty store for the installed MLflow, built (under a lock) when first asked for."""
    from importlib.metadata import version

    return _build(cache_dir() / f"mlflow-{version('mlflow')}-empty-store.db")


@functools.cache
def _build(path: Path) -> Path:
    if path.exists():
        return path
    from imbsweep.tracking import file_lock

    with file_lock(path.with_name(path.name + ".lock")):
        if not path.exists():
            from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.unlink(missing_ok=True)
            store = SqlAlchemyStore(f"sqlite:///{tmp}", (path.parent / "unused").as_uri())
            store.engine.dispose()
            os.replace(tmp, path)  # atomic: others see a whole template or none
    return path


def create(db: Path) -> bool:
    """Make ``db`` a new, empty store (call under the store's lock); False: let MLflow do it.

    The copy's Default experiment keeps its artifacts beside the store, like every experiment
    imbsweep creates (MLflow would have used ``./mlruns`` of the current directory).
    """
    try:
        src = template()
        tmp = db.with_name(db.name + ".new")
        shutil.copyfile(src, tmp)
        now = int(time.time() * 1000)
        with sqlite3.connect(tmp) as con:
            con.execute(
                "UPDATE experiments SET artifact_location = ?, creation_time = ?, "
                "last_update_time = ? WHERE experiment_id = 0",
                ((db.parent / "mlartifacts" / "0").as_uri(), now, now),
            )
        con.close()
        os.replace(tmp, db)
        return True
    except Exception as exc:  # a read-only cache, a full disk...: MLflow's slow path still works
        log.debug("no store template (%s); MLflow creates %s itself", exc, db)
        return False
