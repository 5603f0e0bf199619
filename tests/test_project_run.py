"""`mlflow run`'s project run and runs left RUNNING by a process that died (project_run.py)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import mlflow
import pytest
from conftest import BIN, ROOT, run_cli

from imbsweep import project_run

SOURCE = {"mlflow.source.type": "PROJECT", "mlflow.source.name": f"file://{ROOT}"}


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.fixture
def client(store):
    return mlflow.MlflowClient()


def _status(client, run_id: str) -> str:
    return client.get_run(run_id).info.status


def test_a_dead_owners_sweep_and_its_children_are_closed_a_live_ones_are_not(client, monkeypatch):
    exp = client.create_experiment("imbsweep")
    dead = {**project_run.owner_tags(), project_run.TAG_PID: str(_dead_pid())}
    sweep = client.create_run(exp, tags={"run_level": "sweep", **dead}).info.run_id
    job = client.create_run(exp, tags={"run_level": "job", "sweep_id": sweep}).info.run_id
    done = client.create_run(exp, tags={"run_level": "job", "sweep_id": sweep}).info.run_id
    client.set_terminated(done, "FINISHED")
    live = client.create_run(exp, tags={"run_level": "sweep", **project_run.owner_tags()})
    other_host = client.create_run(exp, tags={**dead, project_run.TAG_HOST: "elsewhere"})

    closed = project_run.close_stale_runs(client, [exp, "0"], ROOT)

    assert sorted(closed) == sorted([sweep, job])
    assert _status(client, sweep) == _status(client, job) == "KILLED"
    why = client.get_run(job).data.tags[project_run.TAG_CLOSED]
    assert f"pid {dead[project_run.TAG_PID]}" in why and "ended without closing it" in why
    assert _status(client, done) == "FINISHED"
    assert _status(client, live.info.run_id) == "RUNNING"
    assert _status(client, other_host.info.run_id) == "RUNNING"  # cannot see its processes


def test_a_recycled_pid_does_not_keep_a_dead_sweep_open(client):
    exp = client.create_experiment("imbsweep")
    tags = {**project_run.owner_tags(), project_run.TAG_PID_START: "12.00"}  # not this process
    run = client.create_run(exp, tags={"run_level": "sweep", **tags}).info.run_id
    assert project_run.close_stale_runs(client, [exp], ROOT) == [run]


def test_an_orphan_project_run_is_closed_unless_an_older_mlflow_run_lives(client, monkeypatch):
    orphan = client.create_run("0", tags=SOURCE).info.run_id
    other_project = client.create_run("0", tags={**SOURCE, "mlflow.source.name": "file:///x"})
    linked = client.create_run("0", tags={**SOURCE, project_run.TAG_SWEEP_RUN: "abc"})
    started = client.get_run(orphan).info.start_time / 1000

    # An `mlflow run` that started before the run may still be building its environment.
    monkeypatch.setattr(project_run, "_mlflow_run_starts", lambda: [started - 60])
    assert project_run.close_stale_runs(client, ["0"], ROOT) == []
    # Only younger ones (they cannot own it): it is stale.
    monkeypatch.setattr(project_run, "_mlflow_run_starts", lambda: [started + 60])
    assert project_run.close_stale_runs(client, ["0"], ROOT) == [orphan]
    assert (
        "`mlflow run` ended before starting imbsweep"
        in (client.get_run(orphan).data.tags[project_run.TAG_CLOSED])
    )
    assert _status(client, other_project.info.run_id) == "RUNNING"
    assert _status(client, linked.info.run_id) == "RUNNING"


def test_living_mlflow_run_processes_are_found():
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "mlflow", "run"])
    try:
        time.sleep(0.2)
        starts = project_run._mlflow_run_starts()
        assert starts is not None
        assert any(abs(s - project_run.process_start(p.pid)) < 0.01 for s in starts)
    finally:
        p.kill()
        p.wait()


# ------------------------------------------------------------------------------- end to end

TINY = ["method=naive", "seeds=1", "dataset.n_samples=500", "report.plot=false"]


def _runs(uri: str) -> list:
    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(search_all_experiments=True, output_format="list")


@pytest.mark.slow
def test_a_failed_mlflow_run_start_is_closed_by_the_next_sweep(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # uv missing: MLflow creates its run, then fails to build the environment.
    path = f"{BIN}:/usr/bin:/bin"
    if shutil.which("uv", path=path):
        pytest.skip("uv is installed: this start would not fail")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    # A fresh env root: a cached environment would be reused without needing uv.
    env.update(MLFLOW_TRACKING_URI=uri, PATH=path, MLFLOW_ENV_ROOT=str(tmp_path / "envs"))
    args = ["mlflow", "run", str(ROOT), "--env-manager", "uv"]
    p = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode != 0
    (left,) = _runs(uri)
    assert left.info.status == "RUNNING"  # MLflow's behaviour this guards against

    p = run_cli(["imbsweep", *TINY, f"hydra.sweep.dir={tmp_path / 's'}"], tmp_path, uri)
    assert p.returncode == 0, p.stderr[-3000:]
    closed = mlflow.get_run(left.info.run_id)
    assert closed.info.status == "KILLED"
    assert "ended before starting imbsweep" in closed.data.tags[project_run.TAG_CLOSED]
    assert not [r for r in _runs(uri) if r.info.status == "RUNNING"]


def _seed_runs(db) -> int:
    """Seed runs in a store another process may still be creating (plain reads: opening it with
    MLflow would race that process on the schema migration)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            q = "SELECT COUNT(*) FROM tags WHERE key = 'run_level' AND value = 'seed'"
            return con.execute(q).fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_a_killed_sweep_is_closed_by_the_next_one(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(MLFLOW_TRACKING_URI=uri, PATH=f"{BIN}:{env.get('PATH', '')}")
    args = ["imbsweep", "method=brf", "seeds=200", f"hydra.sweep.dir={tmp_path / 'a'}"]
    p = subprocess.Popen(args, cwd=tmp_path, env=env, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not _seed_runs(tmp_path / "mlflow.db"):
            time.sleep(2)  # until it has seed runs
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    running = [r.info.run_id for r in _runs(uri) if r.info.status == "RUNNING"]
    assert {"sweep", "job"} <= {mlflow.get_run(i).data.tags["run_level"] for i in running}

    p = run_cli(["imbsweep", *TINY, f"hydra.sweep.dir={tmp_path / 'b'}"], tmp_path, uri)
    assert p.returncode == 0, p.stderr[-3000:]
    for run_id in running:
        run = mlflow.get_run(run_id)
        assert run.info.status == "KILLED"
        assert "ended without closing it" in run.data.tags[project_run.TAG_CLOSED]
    assert not [r for r in _runs(uri) if r.info.status == "RUNNING"]


def test_adoptable_only_in_imbsweeps_experiment_and_warns_about_mlruns(client, store, caplog):
    db_dir = store[len("sqlite:///") :].rsplit("/", 1)[0]
    good = client.create_experiment("imbsweep", artifact_location=f"file://{db_dir}/mlartifacts/x")
    bad = client.create_experiment("named-by-mlflow", artifact_location=f"{db_dir}/mlruns/2")
    in_good, in_bad = (client.create_run(e).info.run_id for e in (good, bad))
    in_default = client.create_run("0").info.run_id
    with caplog.at_level("WARNING", logger="imbsweep.project_run"):
        assert project_run.adoptable(client, in_good, good)
        assert not caplog.records
        assert not project_run.adoptable(client, in_default, good)
        assert project_run.adoptable(client, in_bad, bad)
    (rec,) = caplog.records
    assert "mlruns/2" in rec.getMessage() and "Leave out --experiment-name" in rec.getMessage()
