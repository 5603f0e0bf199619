"""The shared set-up as the README documents it, secured, each piece started here on 127.0.0.1:
`mlflow server --app-name basic-auth` with credentials from the environment, a Dask scheduler
and worker on TLS, PostgreSQL that asks for a password. A sweep runs through each; requests
without credentials or certificates are refused; the password appears nowhere imbsweep writes."""

from __future__ import annotations

import base64
import http.client
import os
import secrets
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import pytest
from conftest import BIN, ROOT, SMALL, run_cli
from test_shared_store import _free_port, postgres  # noqa: F401  (PostgreSQL on 127.0.0.1)

pytestmark = pytest.mark.slow

USER_PASSWORD = "Alice-pw-5b1e9c07d3"
ADMIN_PASSWORD = "Admin-pw-8f2a6d41c9"


def _files_containing(secret: str, *roots: Path) -> list[str]:
    """Every file under ``roots`` whose bytes hold ``secret`` (databases, artifacts, logs)."""
    hits = []
    for root in roots:
        for path in [root] if root.is_file() else root.rglob("*"):
            if path.is_file() and secret.encode() in path.read_bytes():
                hits.append(str(path))
    return hits


def _wait_http(url: str, proc: subprocess.Popen, log: Path, ctx: ssl.SSLContext) -> None:
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2, context=ctx):
                return
        except OSError:
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(1)
    proc.kill()
    pytest.fail("mlflow server did not start:\n" + log.read_text()[-3000:])


def _status(url: str, auth: tuple[str, str] | None, ctx: ssl.SSLContext) -> int:
    req = urllib.request.Request(f"{url}/api/2.0/mlflow/experiments/search?max_results=10")
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_sweep_logs_into_an_authenticated_mlflow_server_and_strangers_are_refused(tmp_path):
    port = _free_port()
    url = f"https://127.0.0.1:{port}"
    from imbsweep.tls import make_certs

    server_dir = tmp_path / "server"
    server_dir.mkdir()
    certs = make_certs(tmp_path / "certs")
    auth_ini = server_dir / "basic_auth.ini"
    # MLflow's own settings file (MLFLOW_AUTH_CONFIG_PATH): nobody reads what they were not
    # granted; the admin password comes from the environment on first start.
    auth_ini.write_text(
        "[mlflow]\n"
        "default_permission = NO_PERMISSIONS\n"
        f"database_uri = sqlite:///{server_dir / 'auth.db'}\n"
        "admin_username = admin\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        # Each check of a password hash took 1-7 s here (machine loaded): cache it, as the
        # README's settings do.
        "auth_cache_ttl_seconds = 300\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(
        MLFLOW_AUTH_CONFIG_PATH=str(auth_ini),
        MLFLOW_AUTH_ADMIN_PASSWORD=ADMIN_PASSWORD,
        MLFLOW_FLASK_SERVER_SECRET_KEY=secrets.token_hex(16),  # CSRF tokens of the web UI
    )
    log = server_dir / "server.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [
                str(BIN / "mlflow"),
                "server",
                "--app-name",
                "basic-auth",
                "--backend-store-uri",
                f"sqlite:///{server_dir / 'mlflow.db'}",
                "--artifacts-destination",
                (server_dir / "artifacts").as_uri(),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                # HTTPS: basic-auth passwords must not cross a network readable.
                "--uvicorn-opts",
                f"--ssl-certfile {certs['cert']} --ssl-keyfile {certs['key']}",
            ],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    ctx = ssl.create_default_context(cafile=str(certs["ca"]))
    trust = {"MLFLOW_TRACKING_SERVER_CERT_PATH": str(certs["ca"])}
    try:
        _wait_http(url, proc, log, ctx)
        from mlflow.server.auth.client import AuthServiceClient

        admin = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD}
        os.environ.update(admin, **trust)
        try:
            AuthServiceClient(url).create_user("alice", USER_PASSWORD)
        finally:
            for key in [*admin, *trust]:
                del os.environ[key]
        assert _status(url, None, ctx) == 401
        assert _status(url, ("alice", "not-her-password"), ctx) == 401
        assert _status(url, ("alice", USER_PASSWORD), ctx) == 200
        with pytest.raises((OSError, http.client.HTTPException)):  # plain HTTP: no answer
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)

        sweep_dir = tmp_path / "sweep"
        # Two jobs x two seeds on the default launcher: the local workers log with the
        # credentials they inherit from the driver's environment.
        p = run_cli(
            ["imbsweep", "method=naive,brf", "seeds=2", *SMALL, f"hydra.sweep.dir={sweep_dir}"],
            tmp_path,
            url,
            MLFLOW_TRACKING_USERNAME="alice",
            MLFLOW_TRACKING_PASSWORD=USER_PASSWORD,
            **trust,
        )
        assert p.returncode == 0, p.stderr[-3000:]
        refused = run_cli(["imbsweep-report", "--list"], tmp_path, url, **trust)  # no credentials
        assert refused.returncode != 0
        assert "Traceback" not in refused.stdout + refused.stderr
    finally:
        proc.terminate()
        proc.wait(30)

    # Read back from the store file the server wrote (the server is stopped).
    mlflow.set_tracking_uri(f"sqlite:///{server_dir / 'mlflow.db'}")
    runs = mlflow.search_runs(search_all_experiments=True, max_results=1000)
    assert sorted(runs["tags.run_level"]) == ["job"] * 2 + ["seed"] * 4 + ["sweep"]
    assert (runs["status"] == "FINISHED").all()
    # A shared store: the forests are skops files, not pickles.
    mlmodels = list((server_dir / "artifacts").rglob("MLmodel"))
    assert len(mlmodels) == 4
    assert all("serialization_format: skops" in m.read_text() for m in mlmodels)
    assert not list((server_dir / "artifacts").rglob("*.pkl"))
    # No password anywhere: store, auth db (hashes only), artifacts, the sweep's logs and
    # .hydra files, the console, the server's log.
    for secret in (USER_PASSWORD, ADMIN_PASSWORD):
        assert not _files_containing(secret, server_dir, sweep_dir), secret
        assert secret not in p.stdout + p.stderr


def _tls_cluster(certs: dict, port: int, env: dict) -> list[subprocess.Popen]:
    tls = ["--tls-ca-file", certs["ca"], "--tls-cert", certs["cert"], "--tls-key", certs["key"]]
    tls = [str(x) for x in tls]
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    sched = subprocess.Popen(
        [
            BIN / "dask",
            "scheduler",
            "--protocol",
            "tls",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-dashboard",
            *tls,
        ],
        **quiet,
    )
    worker = subprocess.Popen(
        [
            BIN / "dask",
            "worker",
            f"tls://127.0.0.1:{port}",
            "--nworkers",
            "2",
            "--nthreads",
            "1",
            "--no-dashboard",
            *tls,
        ],
        **quiet,
    )
    return [sched, worker]


def _security(certs: dict):
    from distributed.security import Security

    return Security(
        tls_ca_file=str(certs["ca"]),
        tls_client_cert=str(certs["cert"]),
        tls_client_key=str(certs["key"]),
        require_encryption=True,
    )


def test_a_sweep_on_a_tls_dask_cluster_and_clients_without_its_certificates_refused(tmp_path):
    from distributed import Client

    from imbsweep.tls import make_certs

    certs = make_certs(tmp_path / "certs")
    other = make_certs(tmp_path / "other")  # a CA the cluster does not know
    port = _free_port()
    addr = f"tls://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    procs = _tls_cluster(certs, port, env)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    try:
        p = run_cli(
            [
                "imbsweep",
                "method=naive,brf",
                "seeds=2",
                *SMALL,
                f"hydra.launcher.address={addr}",
                f"hydra.launcher.tls_ca_file={certs['ca']}",
                f"hydra.launcher.tls_cert={certs['cert']}",
                f"hydra.launcher.tls_key={certs['key']}",
                f"hydra.sweep.dir={tmp_path / 'sweep'}",
            ],
            tmp_path,
            uri,
            300,
        )
        assert p.returncode == 0, p.stderr[-3000:]
        assert "Dask scheduler at tls://" in p.stdout + p.stderr
        # Plain TCP: dropped. TLS without a client certificate: the scheduler demands one. A
        # certificate from another CA: refused. One signed by the cluster's CA: in.
        with pytest.raises(OSError):  # reset, or no answer at all under load
            Client(f"tcp://127.0.0.1:{port}", timeout=20)
        ctx = ssl.create_default_context(cafile=str(certs["ca"]))
        ctx.check_hostname = False  # Dask checks the chain, not names
        with (
            socket.create_connection(("127.0.0.1", port), 5) as raw,
            # The server's alert, or its closing the connection first: refused either way.
            pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED|EOF occurred"),
            ctx.wrap_socket(raw) as conn,
        ):
            conn.sendall(b"hello")  # TLS 1.3: the refusal comes after the handshake
            conn.recv(1)
        with pytest.raises(OSError):  # "TLS certificate does not match" (or a timeout under load)
            Client(addr, timeout=20, security=_security(other))
        with Client(addr, timeout=10, security=_security(certs)) as client:
            assert client.submit(sum, [1, 2]).result() == 3
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(search_all_experiments=True, max_results=1000)
    seeds = runs[runs["tags.run_level"] == "seed"]
    assert len(seeds) == 4 and (seeds["status"] == "FINISHED").all()


@pytest.fixture
def password_db(postgres, tmp_path):  # noqa: F811
    """A role and database on the test PostgreSQL: from 127.0.0.1 with a password only."""
    import psycopg

    role, password = "sweeper", "Pg-pw-3c7e19a2b4"
    with psycopg.connect(f"{postgres.replace('+psycopg', '')}/postgres", autocommit=True) as c:
        c.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        c.execute(f"CREATE DATABASE {role} OWNER {role}")
        hba = Path(c.execute("SHOW hba_file").fetchone()[0])
        hba.write_text(f"host {role} {role} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        c.execute("SELECT pg_reload_conf()")
    host = postgres.split("@", 1)[1]
    yield f"postgresql+psycopg://{role}@{host}/{role}", password, hba
    hba.write_text("".join(hba.read_text().splitlines(keepends=True)[1:]))


def test_postgres_with_its_password_in_the_environment_or_a_pass_file_never_in_what_is_written(
    password_db, tmp_path
):
    import psycopg

    url, password, _ = password_db
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(url.replace("+psycopg", ""), connect_timeout=5).close()
    user, rest = url.split("://", 1)[1].split("@", 1)
    with_password = url.replace(f"{user}@", f"{user}:{password}@")
    sweep_dir = tmp_path / "sweep"
    # The password in MLFLOW_TRACKING_URI: the driver and its local workers connect with it;
    # what the units receive, the logs and the .hydra files hold only `sweeper:***@`.
    p = run_cli(
        ["imbsweep", "method=naive,brf", "seeds=2", *SMALL, f"hydra.sweep.dir={sweep_dir}"],
        tmp_path,
        with_password,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    overrides = list(sweep_dir.rglob("overrides.yaml"))
    assert overrides and any(":***@" in f.read_text() for f in overrides)
    # The password only in a pass file (libpq's PGPASSFILE): the URL has none at all.
    passfile = tmp_path / "pgpass"
    host, port = rest.split("/", 1)[0].split(":")
    passfile.write_text(f"{host}:{port}:*:{user}:{password}\n")
    passfile.chmod(0o600)
    q = run_cli(
        ["imbsweep", "method=naive", "seeds=1", *SMALL, f"hydra.sweep.dir={tmp_path / 'q'}"],
        tmp_path,
        url,
        PGPASSFILE=str(passfile),
    )
    assert q.returncode == 0, q.stderr[-3000:]
    mlflow.set_tracking_uri(with_password)
    runs = mlflow.search_runs(search_all_experiments=True, max_results=1000)
    assert (runs["status"] == "FINISHED").all()
    assert sorted(runs["tags.run_level"]) == ["job"] * 3 + ["seed"] * 5 + ["sweep"] * 2
    # Every text value in the store (params, tags, inputs...), the artifacts, logs, console.
    with psycopg.connect(with_password.replace("+psycopg", "")) as c:
        tables = [
            r[0] for r in c.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        ]
        dump = "\n".join(
            str(row) for t in tables for row in c.execute(f'SELECT * FROM "{t}"').fetchall()
        )
    assert len(dump) > 10000 and "sweep" in dump
    assert password not in dump
    # Everything under the working directory (sweep dirs, artifacts) but the pass file itself.
    assert _files_containing(password, tmp_path) == [str(passfile)]
    assert password not in p.stdout + p.stderr + q.stdout + q.stderr
