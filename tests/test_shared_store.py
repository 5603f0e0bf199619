"""Many machines' set-up, on one: PostgreSQL on 127.0.0.1 behind `mlflow server` (artifacts
proxied to one store) and as Optuna's storage. The test starts every server itself."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import mlflow
import pytest
from conftest import BIN, SMALL, run_cli

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Stop and start the server of the `postgres` fixture (a test that restarts it mid-sweep).
PG_CTL: dict = {}


@pytest.fixture(scope="module")
def postgres() -> str:
    """A PostgreSQL server (pgserver's binaries from PyPI) listening on 127.0.0.1."""
    import pgserver
    from pgserver._commands import pg_ctl

    # Outside pytest's base temp folder: another root pytest session makes that private again,
    # and pg_ctl runs as an unprivileged user (when we are root) that must reach the data.
    home = Path(tempfile.mkdtemp(prefix="imbsweep-pg-"))
    home.chmod(0o755)
    pgdata = home / "data"
    # pgserver creates the cluster (as an unprivileged user when we are root) and starts it on
    # a Unix socket; restart it on TCP, as a server other machines would reach.
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    user = server.system_user
    pg_ctl(["-w", "stop"], pgdata=pgdata, user=user)
    port = _free_port()
    opts = f"-h 127.0.0.1 -p {port} -k {pgdata}"
    pg_ctl(["-w", "-o", opts, "-l", str(pgdata / "log"), "start"], pgdata=pgdata, user=user)
    PG_CTL.update(stop=lambda: pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user))
    PG_CTL.update(
        start=lambda: pg_ctl(
            ["-w", "-o", opts, "-l", str(pgdata / "log"), "start"], pgdata=pgdata, user=user
        )
    )
    import psycopg

    # One database each: MLflow and Optuna both keep an alembic version table.
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as c:
        c.execute("CREATE DATABASE mlflow")
        c.execute("CREATE DATABASE optuna")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(  # best effort: a server already gone is fine
            [
                str(Path(pgserver.__file__).parent / "pginstall/bin/pg_ctl"),
                "-D",
                str(pgdata),
                "-m",
                "fast",
                "stop",
            ],
            user=user,
            capture_output=True,
        )
        # If pg_ctl failed, stop the postmaster we started by its pid.
        pid_file = pgdata / "postmaster.pid"
        if pid_file.exists():
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
                time.sleep(2)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def mlflow_server(postgres, tmp_path_factory) -> str:
    port = _free_port()
    artifacts = tmp_path_factory.mktemp("artifacts")
    log = tmp_path_factory.mktemp("mlflow-log") / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [
                str(BIN / "mlflow"),
                "server",
                "--backend-store-uri",
                f"{postgres}/mlflow",
                "--artifacts-destination",
                artifacts.as_uri(),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(1)
        assert proc.poll() is None, Path(log).read_text()[-3000:]
    else:
        proc.kill()
        pytest.fail("mlflow server did not start:\n" + Path(log).read_text()[-3000:])
    yield url
    proc.terminate()
    proc.wait(30)


def test_a_sweep_through_mlflow_server_backed_by_postgres(mlflow_server, tmp_path):
    sweep_dir = tmp_path / "sweep"
    p = run_cli(
        ["imbsweep", "method=naive,brf", "seeds=2", *SMALL, f"hydra.sweep.dir={sweep_dir}"],
        tmp_path,
        mlflow_server,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    client = mlflow.MlflowClient(mlflow_server)
    (exp,) = [e for e in client.search_experiments() if e.name == "imbsweep"]
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    levels = sorted(r.data.tags["run_level"] for r in runs)
    assert levels == ["job"] * 2 + ["seed"] * 4 + ["sweep"]
    assert all(r.info.status == "FINISHED" for r in runs)
    sweep = next(r for r in runs if r.data.tags["run_level"] == "sweep")
    # Artifacts went through the server to its store, not to a local folder.
    names = {a.path for a in client.list_artifacts(sweep.info.run_id)}
    assert {"ranges.md", "ranges.csv"} <= names
    assert not (tmp_path / "mlartifacts").exists()


def test_a_two_worker_study_on_postgres(postgres, mlflow_server, tmp_path):
    import optuna

    p = run_cli(
        [
            "imbsweep",
            "sweeps=tune_brf",
            f"hydra.sweeper.storage='{postgres}/optuna'",
            "hydra.sweeper.study_name=pg_study",
            "hydra.sweeper.n_trials=4",
            "hydra.sweeper.n_jobs=2",
            "hydra.launcher.n_workers=2",
            "seeds=2",
            "tuning.final_seeds=2",
            *[a for a in SMALL if not a.startswith("method.n_estimators=")],
            # A small range: a fixed value would leave tune_brf nothing to tune.
            "method.n_estimators=int(interval(5, 15))",
            f"hydra.sweep.dir={tmp_path / 'study'}",
        ],
        tmp_path,
        mlflow_server,
        timeout=900,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    study = optuna.load_study(study_name="pg_study", storage=f"{postgres}/optuna")
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 4
    assert "Starting a local Dask cluster: 2 worker" in p.stderr + p.stdout
