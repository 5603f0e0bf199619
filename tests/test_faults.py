"""Faults a long sweep meets: a worker process killed mid-unit, a unit over its time or memory
limit. Real local Dask clusters and real sqlite MLflow stores; the slow, hanging and hungry units
come from tests/fault_helpers.py, which the workers preload."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from conftest import BIN, ROOT, communicate, run_cli
from test_shared_store import PG_CTL, postgres  # noqa: F401  (a fixture: PostgreSQL on 127.0.0.1)

from imbsweep import tracking, unit_guard

HELPERS = [
    "hydra.launcher.preload=[imbsweep.app,fault_helpers]",
    "hydra.launcher.n_workers=2",
    "report.plot=false",
]


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", str(ROOT / "src"))])
    return {"PYTHONPATH": path, **extra}


def _runs(uri: str) -> pd.DataFrame:
    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(search_all_experiments=True, max_results=50000)


def _finished_seed_runs(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=30) as con:
            return con.execute(
                "select count(*) from runs r join tags t on r.run_uuid = t.run_uuid "
                "where t.key = 'run_level' and t.value = 'seed' and r.status = 'FINISHED'"
            ).fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_a_worker_killed_mid_unit_loses_and_doubles_nothing(tmp_path):
    db, marks, sweep_dir = tmp_path / "mlflow.db", tmp_path / "marks", tmp_path / "sweep"
    marks.mkdir()
    uri = f"sqlite:///{db}"
    args = [
        "imbsweep",
        "method=naive,brf,logreg_balanced",
        "seeds=1",  # k-fold, the default on this data: 3 methods x 5 folds = 15 units
        "dataset.n_samples=1000",
        *HELPERS,
        f"hydra.sweep.dir={sweep_dir}",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(
        MLFLOW_TRACKING_URI=uri,
        PATH=f"{BIN}:{os.environ.get('PATH', '')}",
        # Every fit takes >= 1 s, so the kill lands inside a unit.
        **_env(IMBSWEEP_TEST_MARKS=str(marks), IMBSWEEP_TEST_FIT_SLEEP="1.0"),
    )
    proc = subprocess.Popen(
        args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    killed = None
    deadline = time.time() + 240
    while killed is None and time.time() < deadline and proc.poll() is None:
        fitting = list(marks.glob("fit-*"))
        if _finished_seed_runs(db) >= 3 and fitting:
            killed = int(fitting[0].name.split("-")[1])
            os.kill(killed, signal.SIGKILL)  # a worker process, in the middle of a fit
        time.sleep(0.1)
    out = proc.communicate(timeout=300)[0]
    assert killed is not None, "the kill must land mid-sweep: " + out[-3000:]
    assert proc.returncode == 0, out[-3000:]

    runs = _runs(uri)
    seeds = runs[runs["tags.run_level"] == "seed"]
    done = seeds[seeds["status"] == "FINISHED"]
    # Exactly one finished run per unit (seed, fold): none lost, none run twice.
    assert len(done) == 15
    assert not done.duplicated(["tags.job_key", "tags.seed", "tags.fold"]).any()
    # The unit the killed worker was running: its half-written run closed KILLED with the reason,
    # and the unit finished on another worker process.
    on_killed = seeds[seeds["tags.imbsweep.worker"].str.endswith(f":{killed}")]
    half = on_killed[on_killed["status"] != "FINISHED"]
    assert len(half) == 1, on_killed[["status", "tags.seed"]].to_string()
    half = half.iloc[0]
    assert half["status"] == "KILLED"
    assert f":{killed}) died while the unit ran" in half["tags.killed_reason"]
    same = (done["tags.job_key"] == half["tags.job_key"]) & (done["tags.fold"] == half["tags.fold"])
    assert same.sum() == 1
    assert not done.loc[same, "tags.imbsweep.worker"].iloc[0].endswith(f":{killed}")
    assert (runs["status"] != "RUNNING").all()
    (sweep_run,) = runs[runs["tags.run_level"] == "sweep"].itertuples()
    assert sweep_run.status == "FINISHED"
    # The table is complete: every method over its repeat's 5 folds.
    table = pd.read_csv(sweep_dir / "ranges.csv")
    assert table["label"].nunique() == 3 and (table["n_units"] == 5).all(), table.to_string()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_the_driver_killed_while_an_external_cluster_runs_on_resumes_without_doubles(tmp_path):
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    # Every fit takes >= 1 s: units are still running on the cluster when the driver dies.
    env = {**os.environ, **_env(IMBSWEEP_TEST_FIT_SLEEP="1.0")}
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    sched = subprocess.Popen(
        [BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        **quiet,
    )
    worker = subprocess.Popen(
        [
            BIN / "dask",
            "worker",
            addr,
            "--nworkers",
            "2",
            "--nthreads",
            "1",
            "--no-dashboard",
            "--preload",
            "fault_helpers",
        ],
        **quiet,
    )
    db, sweep_dir = tmp_path / "mlflow.db", tmp_path / "sweep"
    uri = f"sqlite:///{db}"
    args = [
        "imbsweep",
        "method=naive,brf,logreg_balanced",
        "seeds=1",  # 3 methods x 5 folds = 15 units
        "dataset.n_samples=1000",
        "report.plot=false",
        f"hydra.launcher.address={addr}",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    try:
        e = {k: v for k, v in env.items() if not k.startswith("MLFLOW_")}
        e.update(MLFLOW_TRACKING_URI=uri, PATH=f"{BIN}:{os.environ.get('PATH', '')}")
        driver = subprocess.Popen(
            args, cwd=tmp_path, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.time() + 240
        while _finished_seed_runs(db) < 2 and time.time() < deadline and driver.poll() is None:
            time.sleep(0.1)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        assert 2 <= _finished_seed_runs(db) < 15, "the kill must land mid-sweep"
        # At once: the killed driver's units are still running on the cluster.
        p = run_cli(args, tmp_path, uri, 300, **_env(IMBSWEEP_TEST_FIT_SLEEP="1.0"))
    finally:
        worker.terminate()
        sched.terminate()
        worker.wait(30)
        sched.wait(30)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-3000:]
    assert "of 15 units already finished" in out
    runs = _runs(uri)
    done = runs[(runs["tags.run_level"] == "seed") & (runs["status"] == "FINISHED")]
    assert len(done) == 15
    assert not done.duplicated(["tags.job_key", "tags.seed", "tags.fold"]).any()
    assert (runs["status"] != "RUNNING").all()
    (sweep_run,) = runs[runs["tags.run_level"] == "sweep"].itertuples()
    assert sweep_run.status == "FINISHED"
    table = pd.read_csv(sweep_dir / "ranges.csv")
    assert table["label"].nunique() == 3 and (table["n_units"] == 5).all(), table.to_string()


@pytest.mark.slow
def test_units_over_their_time_or_memory_limit_are_stopped_recorded_and_counted(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = [
        "imbsweep",
        "method=naive",
        "seeds=3",
        "dataset.n_samples=500",
        "split.protocol=holdout",  # one unit per seed: seeds 1 and 2 are the bad ones
        *HELPERS,
        # Generous: on a loaded 2-core machine a unit's set-up alone took over 15 s.
        "hydra.launcher.unit_timeout=40",
        "hydra.launcher.unit_memory=300MB",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]
    t0 = time.perf_counter()
    # Seed 1 sleeps for 10 min inside one C call; seed 2 allocates 32 MiB every 20 ms.
    p = run_cli(
        args, tmp_path, uri, 300, **_env(IMBSWEEP_TEST_HANG_SEED="1", IMBSWEEP_TEST_HOG_SEED="2")
    )
    elapsed = time.perf_counter() - t0
    out = p.stdout + p.stderr
    assert p.returncode == 1, out[-3000:]  # units failed: the table covers the others
    assert "per method: naive: 1 out of memory, 1 timeout" in out, out[-3000:]
    assert elapsed < 150, "the hanging unit must not hold the sweep for its 10 min"

    runs = _runs(uri)
    seeds = runs[runs["tags.run_level"] == "seed"].set_index("tags.seed")
    assert sorted(seeds.index) == ["0", "1", "2"]  # one run per unit: the retry opens none
    assert seeds.loc["0", "status"] == "FINISHED"
    assert seeds.loc["1", "status"] == "FAILED"
    assert seeds.loc["1", "tags.unit_limit"] == "timeout"
    assert seeds.loc["1", "tags.error"] == "UnitTimeout: unit over its time limit (40 s)"
    assert seeds.loc["2", "status"] == "FAILED"
    assert seeds.loc["2", "tags.unit_limit"] == "memory"
    assert seeds.loc["2", "tags.error"].startswith("UnitOutOfMemory: unit out of memory")
    job = runs[runs["tags.run_level"] == "job"].iloc[0]
    assert job["metrics.n_units_timeout"] == 1 and job["metrics.n_units_out_of_memory"] == 1
    assert job["metrics.n_seeds"] == 1
    assert (runs["status"] != "RUNNING").all()
    # The report counts them per method beside the table (ranges.md, its CSV, report.html).
    sweep = tmp_path / "sweep"
    stopped = pd.read_csv(sweep / "stopped_units.csv")
    assert stopped[["label", "finished", "timeout", "memory", "other"]].to_dict("records") == [
        {"label": "naive", "finished": 1, "timeout": 1, "memory": 1, "other": 0}
    ]
    assert "| naive | 1 | 1 | 1 | 0 |" in (sweep / "ranges.md").read_text()
    assert "Units that did not finish" in (sweep / "report.html").read_text()


def test_a_unit_reuses_its_finished_run_and_closes_a_dead_attempts_run(store):
    t = tracking.Tracker(uri=store)
    ident = {
        tracking.TAG_LEVEL: "seed",
        tracking.TAG_SWEEP: "sweep1",
        tracking.TAG_JOB_KEY: "k1",
        tracking.TAG_STAGE: "run",
        tracking.TAG_SEED: "3",
    }

    def attempt(key: str, tags: dict) -> tuple[dict, dict | None]:
        with unit_guard.unit(key):
            tags = {**tags, **unit_guard.run_tags()}
            return tags, unit_guard.begin(t, tags)

    tags, earlier = attempt("job-a-1", ident)
    assert earlier is None
    first = t.create_run("seed=3", tags)  # its worker dies: the run stays RUNNING
    tags, earlier = attempt("job-a-1", ident)  # Dask runs the task again
    assert earlier is None
    run = t.client.get_run(first)
    assert run.info.status == "KILLED"
    assert "died while the unit ran" in run.data.tags["killed_reason"]
    second = t.create_run("seed=3", tags)
    t.end_run(second)
    # Started once more (a result lost with its worker): the finished run is the result.
    _, earlier = attempt("job-a-1", ident)
    assert earlier is not None and earlier["status"] == "finished"
    assert earlier["run_id"] == second
    _, other_seed = attempt("job-a-1", {**ident, tracking.TAG_SEED: "4"})
    assert other_seed is None

    # Stopped by a limit: its retry in the same launch fails at once; a later launch runs it.
    ident5 = {**ident, tracking.TAG_SEED: "5"}
    tags5, _ = attempt("job-a-2", ident5)
    r = t.create_run("seed=5", tags5)
    t.set_tags(r, {unit_guard.TAG_LIMIT: "timeout"})
    t.fail_run(r, unit_guard.UnitTimeout("unit over its time limit (4 s)"))
    with pytest.raises(unit_guard.UnitTimeout, match=r"^unit over its time limit \(4 s\)$"):
        attempt("job-a-2", ident5)
    assert attempt("job-b-2", ident5)[1] is None

    # The driver's last word: one FINISHED run per unit, the one it collected kept.
    third = t.create_run("seed=3", tags)
    t.end_run(third)
    assert unit_guard.close_duplicates(t, "sweep1", keep={third}) == 1
    assert t.client.get_run(third).info.status == "FINISHED"
    run = t.client.get_run(second)
    assert run.info.status == "KILLED"
    assert run.data.tags["killed_reason"].startswith(
        f"duplicate: the unit also finished in run {third}"
    )
    assert unit_guard.close_duplicates(t, "sweep1", keep=set()) == 0


def test_limit_counts_per_job_and_method():
    from imbsweep.driver import Failure

    errors = ["UnitTimeout: over (4 s)", "UnitOutOfMemory: x", "UnitTimeout: y", "ValueError: z"]
    assert unit_guard.limit_counts(errors) == {"n_units_timeout": 2, "n_units_out_of_memory": 1}
    fails = [Failure("brf", [], e) for e in errors] + [Failure("naive", [], errors[1])]
    assert unit_guard.limit_summary(fails) == (
        "brf: 1 out of memory, 2 timeout; naive: 1 out of memory"
    )


def _mlflow_server(port: int, backend: str, artifacts: Path, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    cmd = [str(BIN / "mlflow"), "server", "--backend-store-uri", backend]
    cmd += ["--artifacts-destination", artifacts.as_uri(), "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--workers", "1"]
    with open(log, "a") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
        assert proc.poll() is None, log.read_text()[-3000:]
    proc.kill()
    pytest.fail("mlflow server did not start:\n" + log.read_text()[-3000:])


@pytest.mark.slow
@pytest.mark.parametrize("stopped", ["mlflow server", "PostgreSQL"])
def test_a_sweep_waits_out_its_store_stopped_for_30_s(postgres, tmp_path, stopped):  # noqa: F811
    """The tracking server, or the database behind it, stopped for 30 s mid-sweep."""
    import psycopg

    db = "outage_" + ("server" if stopped == "mlflow server" else "db")
    admin = postgres.replace("postgresql+psycopg", "postgresql") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {db}")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    backend, artifacts, log = f"{postgres}/{db}", tmp_path / "artifacts", tmp_path / "server.log"
    artifacts.mkdir()
    server = _mlflow_server(port, backend, artifacts, log)
    args = [
        "imbsweep",
        "method=naive,logreg_balanced",
        "seeds=4",
        "dataset.n_samples=1000",
        "split.protocol=holdout",
        *HELPERS,
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]
    e = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    e.update(MLFLOW_TRACKING_URI=url, PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    e.update(_env(IMBSWEEP_TEST_FIT_SLEEP="1.0"), PYTHONFAULTHANDLER="1")
    client = mlflow.MlflowClient(url)

    def finished() -> int:
        runs = client.search_runs(
            [x.experiment_id for x in client.search_experiments()],
            "tags.run_level = 'seed' and attributes.status = 'FINISHED'",
        )
        return len(runs)

    sweep = subprocess.Popen(
        args,
        cwd=tmp_path,
        env=e,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 240
        while finished() < 2 and time.time() < deadline and sweep.poll() is None:
            time.sleep(0.2)
        if stopped == "mlflow server":
            server.terminate()
            server.wait(30)
        else:
            PG_CTL["stop"]()
        assert sweep.poll() is None, "the outage must land mid-sweep"
        time.sleep(30)
        t0 = time.perf_counter()
        if stopped == "mlflow server":
            server = _mlflow_server(port, backend, artifacts, log)
        else:
            PG_CTL["start"]()
        out = communicate(sweep, timeout=600)[0]
        after = time.perf_counter() - t0
        assert sweep.returncode == 0, out[-3000:]
        exp = client.get_experiment_by_name("imbsweep")
        runs = client.search_runs([exp.experiment_id], max_results=1000)
    finally:
        if sweep.poll() is None:
            sweep.kill()
        server.terminate()
        server.wait(30)
    seeds = [r for r in runs if r.data.tags["run_level"] == "seed"]
    units = {(r.data.tags["job_key"], r.data.tags["seed"]) for r in seeds}
    assert len(units) == 8 and len(seeds) == 8  # each unit once: nothing lost, nothing doubled
    assert all(r.info.status == "FINISHED" for r in runs)
    print(f"sweep ended {after:.0f} s after {stopped} was back")
