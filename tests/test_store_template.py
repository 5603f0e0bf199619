"""New sqlite stores are copies of one migrated empty store (fast), and behave as MLflow's own."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mlflow import MlflowClient

from imbsweep import store_template, tracking


def _alembic(db: Path) -> str:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def test_a_new_store_is_a_working_copy_of_the_template(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    db = tmp_path / "store" / "mlflow.db"
    uri = f"sqlite:///{db}"
    tracking.open_store(uri)
    template = store_template.template()
    assert template.parent == tmp_path / "cache" / "imbsweep"
    assert _alembic(db) == _alembic(template)  # MLflow verified this revision on open
    client = MlflowClient(uri)
    default = client.get_experiment("0")
    # Beside the store, like imbsweep's own experiment; not ./mlruns of the current directory.
    assert default.artifact_location == (db.parent / "mlartifacts" / "0").as_uri()
    exp = client.create_experiment("x")
    run = client.create_run(exp)
    client.log_metric(run.info.run_id, "m", 1.0)
    assert client.get_run(run.info.run_id).data.metrics == {"m": 1.0}
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # Built once: the next store is a plain copy of the same file.
    before = template.stat().st_mtime_ns
    tracking.open_store(f"sqlite:///{tmp_path / 'other.db'}")
    assert template.stat().st_mtime_ns == before
    assert _alembic(tmp_path / "other.db") == _alembic(db)


@pytest.mark.slow
def test_without_a_usable_cache_mlflow_creates_the_store(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    db = tmp_path / "mlflow.db"
    assert store_template.create(db) is False
    tracking.open_store(f"sqlite:///{db}")
    assert MlflowClient(f"sqlite:///{db}").get_experiment("0").name == "Default"
