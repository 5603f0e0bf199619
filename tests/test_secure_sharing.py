"""Secure when shared (issue 21, item 4): no password in what imbsweep writes or passes on,
models a stranger's store cannot use to run code, TLS settings checked before anything starts.
The servers and clusters themselves are in tests/test_secure_servers.py."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from conftest import SMALL, run_cli

from imbsweep import credentials, tracking
from imbsweep.errors import InputError


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+psycopg://me:s3cr%40t@db:5432/mlflow",
            "postgresql+psycopg://me:***@db:5432/mlflow",
        ),
        ("http://me:pw@head:5000", "http://me:***@head:5000"),
        (
            "postgresql://db/x?user=me&password=pw&sslmode=require",
            "postgresql://db/x?user=me&password=***&sslmode=require",
        ),
        ("postgresql+psycopg://me@db/mlflow", "postgresql+psycopg://me@db/mlflow"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("sqlite:////tmp/mlflow.db", "sqlite:////tmp/mlflow.db"),
    ],
)
def test_a_password_in_a_store_url_is_masked_and_nothing_else_changes(url, shown):
    assert credentials.redact(url) == shown
    assert credentials.has_secret(url) == (url != shown)
    assert not credentials.has_secret(shown)  # a masked URL is not a secret


def test_a_masked_url_gets_its_password_back_only_from_the_same_store(monkeypatch):
    real = "postgresql+psycopg://me:pw@db:5432/mlflow"
    masked = credentials.redact(real)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", real)
    assert credentials.restore(masked) == real
    # Another store: no password guessed; PostgreSQL reads PGPASSWORD / the pass file.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql+psycopg://me:pw@other/mlflow")
    assert credentials.restore(masked) == "postgresql+psycopg://me@db:5432/mlflow"
    assert credentials.restore("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


def test_the_tracker_shows_and_passes_on_the_masked_uri(tmp_path, monkeypatch):
    # A NullTracker connects to nothing: what it would pass to units is the masked URI.
    t = tracking.Tracker(enabled=False, uri="postgresql+psycopg://me:pw@db/mlflow")
    assert t.uri == "postgresql+psycopg://me:***@db/mlflow"


def test_models_are_skops_on_a_shared_store_and_cloudpickle_on_a_local_one():
    fmt = tracking.model_format
    assert fmt("auto", "http://127.0.0.1:5000") == "skops"
    assert fmt("auto", "postgresql+psycopg://me@db/mlflow") == "skops"
    assert fmt("auto", "sqlite:////tmp/mlflow.db") == "cloudpickle"
    assert fmt("cloudpickle", "http://head:5000") == "cloudpickle"  # the key wins
    assert fmt("skops", "sqlite:////tmp/mlflow.db") == "skops"


def test_a_password_on_the_command_line_is_refused_before_anything_runs(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    p = run_cli(
        [
            "imbsweep",
            "seeds=1",
            *SMALL,
            "tracking.uri=postgresql+psycopg://me:Pw-on-argv-93@127.0.0.1:1/mlflow",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
        ],
        tmp_path,
        uri,
        120,
    )
    out = p.stdout + p.stderr
    assert p.returncode != 0
    assert "Traceback" not in out
    assert "tracking.uri=" in out and "MLFLOW_TRACKING_URI" in out and "pgpass" in out
    assert "Pw-on-argv-93" not in out
    assert not (tmp_path / "mlflow.db").exists()


class Evil:
    """A type outside the model libraries: a crafted model could name anything like it."""


def test_a_shared_skops_model_loads_and_a_pickle_or_a_foreign_type_is_refused(store, tmp_path):
    import mlflow
    import numpy as np
    import skops.io as sio
    from conftest import compose_cfg

    from imbsweep.datasets import load_dataset
    from imbsweep.methods.fit import fit_method
    from imbsweep.methods.packaging import load_shared_sklearn_model, log_model

    # A set threshold: the logged model is the forest wrapped in FixedThresholdClassifier.
    over = ["method=brf", "dataset.n_samples=400", "method.n_estimators=5", "method.threshold=0.3"]
    cfg = compose_cfg(over)
    ds = load_dataset(cfg["dataset"])
    fitted = fit_method(cfg["method"], ds, np.arange(len(ds.y)), seed=0)
    X = ds.X.iloc[:50]
    ids = {}
    # An experiment of this store: an earlier test may have left another store's one active.
    mlflow.set_experiment("shared-models")
    for fmt in ("skops", "cloudpickle"):
        with mlflow.start_run() as run:
            log_model(run.info.run_id, fitted, X.iloc[:5], fmt)
        ids[fmt] = run.info.run_id
    client = mlflow.MlflowClient()

    def uri(run_id):
        exp = client.get_run(run_id).info.experiment_id
        (m,) = client.search_logged_models([exp], filter_string=f"source_run_id = '{run_id}'")
        return m.model_uri

    model = load_shared_sklearn_model(uri(ids["skops"]))
    np.testing.assert_array_equal(model.predict_proba(X)[:, 1], fitted.score(X))
    np.testing.assert_array_equal(model.predict(X), fitted.predict(X))
    with pytest.raises(InputError, match="cloudpickle, not skops"):
        load_shared_sklearn_model(uri(ids["cloudpickle"]))
    # The same model file with a foreign type inside: refused, not loaded.
    local = mlflow.artifacts.download_artifacts(uri(ids["skops"]), dst_path=str(tmp_path / "m"))
    path = next((tmp_path / "m").rglob("model.skops"))
    est = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    est.evil_ = Evil()
    sio.dump(est, path)
    with pytest.raises(InputError, match="test_secure_sharing.Evil"):
        load_shared_sklearn_model(local)


def test_tls_settings_that_cannot_work_get_one_message(tmp_path):
    from hydra_plugins.imbsweep_plugins.dask_launcher import DaskLauncher
    from imbsweep.tls import make_certs

    paths = make_certs(tmp_path / "certs")
    files = {
        "tls_ca_file": str(paths["ca"]),
        "tls_cert": str(paths["cert"]),
        "tls_key": str(paths["key"]),
    }
    DaskLauncher(address="tls://127.0.0.1:8786", **files)  # fine
    with pytest.raises(InputError, match="external scheduler"):
        DaskLauncher(**files)
    with pytest.raises(InputError, match="must start with tls://"):
        DaskLauncher(address="tcp://127.0.0.1:8786", **files)
    with pytest.raises(InputError, match=r"go together \(got only tls_ca_file, tls_key\)"):
        DaskLauncher(address="tls://127.0.0.1:8786", **{**files, "tls_cert": None})
    with pytest.raises(InputError, match="needs certificates"):
        DaskLauncher(address="tls://127.0.0.1:8786")
    with pytest.raises(InputError, match=r"hydra.launcher.tls_key=.*: no such file"):
        DaskLauncher(address="tls://127.0.0.1:8786", **{**files, "tls_key": str(tmp_path / "x")})


def test_certificates_are_signed_by_their_ca_and_keys_readable_by_the_owner_only(tmp_path):
    from cryptography import x509

    from imbsweep.tls import make_certs

    paths = make_certs(tmp_path / "certs", ["head.example", "10.0.0.5"])
    ca = x509.load_pem_x509_certificate(paths["ca"].read_bytes())
    cert = x509.load_pem_x509_certificate(paths["cert"].read_bytes())
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "head.example" in sans.get_values_for_type(x509.DNSName)
    for key in (paths["key"], tmp_path / "certs" / "ca-key.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_passwords_quoted_in_a_message_are_masked():
    text = r"jobs: tracking.uri=postgresql+psycopg\://me\:pw1@db\:1/m, db/x?user=me&password=pw2"
    shown = credentials.redact_text(text)
    assert "pw1" not in shown and "pw2" not in shown
    assert credentials.redact_text("http://127.0.0.1:5000/a@b me@example.com") == (
        "http://127.0.0.1:5000/a@b me@example.com"
    )


def test_a_tls_setting_that_cannot_work_is_one_line_from_the_cli(tmp_path):
    p = run_cli(
        ["imbsweep", "seeds=1", *SMALL, f"hydra.launcher.tls_ca_file={tmp_path / 'ca.pem'}"],
        tmp_path,
        f"sqlite:///{tmp_path / 'mlflow.db'}",
        120,
    )
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        "imbsweep: hydra.launcher.tls_* are for an external scheduler "
        "(hydra.launcher.address=tls://...); a local cluster makes its own certificates"
    ]
    assert not (tmp_path / "mlflow.db").exists()


def test_a_failed_runs_error_tag_and_traceback_hold_no_password(store, tmp_path):
    import mlflow

    tracker = tracking.Tracker(uri=store, experiment="secrets")
    run_id = tracker.create_run("r", {})
    tracker.fail_run(run_id, RuntimeError("cannot reach postgresql://me:Pw-in-error-41@db/x"))
    run = mlflow.get_run(run_id)
    assert "me:***@db" in run.data.tags["error"]
    text = (
        Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path)))
        / "error.txt"
    ).read_text()
    assert "Pw-in-error-41" not in text + run.data.tags["error"]
    assert "me:***@db" in text


def test_a_password_in_the_study_storage_url_is_refused_before_anything_is_written(tmp_path):
    p = run_cli(
        [
            "imbsweep",
            "sweeps=tune_brf",  # refused before any data is read: nothing to make small
            "hydra.sweeper.n_trials=1",
            "hydra.sweeper.storage=postgresql+psycopg://me:Pw-in-storage-71@127.0.0.1:1/optuna",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
        ],
        tmp_path,
        f"sqlite:///{tmp_path / 'mlflow.db'}",
        120,
    )
    out = p.stdout + p.stderr
    assert p.returncode != 0
    assert "Traceback" not in out
    assert "hydra.sweeper.storage=" in out and "pgpass" in out
    assert "Pw-in-storage-71" not in out
    written = [f for f in tmp_path.rglob("*") if f.is_file()]
    assert not [f for f in written if "Pw-in-storage-71" in f.read_text(errors="replace")]
