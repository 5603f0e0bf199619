"""End to end through the real commands: Hydra multirun, `mlflow run`, imbsweep-report."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from conftest import ROOT, SMALL, run_cli

pytestmark = pytest.mark.slow


def runs(uri: str) -> list:
    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(search_all_experiments=True, output_format="list")


def by_level(all_runs: list, level: str) -> list:
    return [r for r in all_runs if r.data.tags.get("run_level") == level]


def test_small_multirun_end_to_end_and_report_rebuilds_the_table(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sweep_dir = tmp_path / "sweep"
    p = run_cli(
        ["imbsweep", "-m", "method=naive,brf", "seeds=2", *SMALL, f"hydra.sweep.dir={sweep_dir}"],
        tmp_path,
        uri,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    table = (sweep_dir / "ranges.md").read_text()
    assert "| naive | 2 |" in table and "| brf trees=10 | 2 |" in table
    assert "| naive | 2 |" in p.stdout  # printed, too
    all_runs = runs(uri)
    (sw,) = by_level(all_runs, "sweep")
    jobs, seeds = by_level(all_runs, "job"), by_level(all_runs, "seed")
    assert len(jobs) == 2 and len(seeds) == 4
    assert {j.data.tags["mlflow.parentRunId"] for j in jobs} == {sw.info.run_id}
    assert {s.data.tags["mlflow.parentRunId"] for s in seeds} == {j.info.run_id for j in jobs}
    assert sw.info.status == "FINISHED"
    arts = {a.path for a in mlflow.MlflowClient().list_artifacts(sw.info.run_id)}
    assert {"ranges.md", "ranges.csv", "ranges.png"} <= arts

    out = tmp_path / "report"
    p = run_cli(["imbsweep-report", sw.info.run_id, "--out", str(out)], tmp_path, uri)
    assert p.returncode == 0, p.stderr[-3000:]
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "ranges.csv"), pd.read_csv(sweep_dir / "ranges.csv")
    )


def test_bad_value_in_a_sweep_fails_at_start_and_writes_nothing(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    p = run_cli(
        [
            "imbsweep",
            "-m",
            "method=naive,smote_ann",
            "method.k_neighbors=0",
            *SMALL,
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
        ],
        tmp_path,
        uri,
    )
    assert p.returncode != 0
    assert "method.k_neighbors=0 is not valid: expected an integer >= 1" in p.stderr
    assert not (tmp_path / "mlflow.db").exists() or runs(uri) == []


def test_a_failing_job_does_not_stop_the_sweep(tmp_path):
    # sampling_strategy=0.01 is a valid value that SMOTE cannot apply here (it would have to
    # remove minority rows): only the smote job fails.
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sweep_dir = tmp_path / "sweep"
    p = run_cli(
        [
            "imbsweep",
            "-m",
            "method=smote_ann,naive",
            "method.sampling_strategy=0.01",
            "seeds=1",
            *SMALL,
            f"hydra.sweep.dir={sweep_dir}",
        ],
        tmp_path,
        uri,
    )
    assert p.returncode != 0
    assert "1 unit(s) of the sweep failed" in p.stdout + p.stderr
    assert "| naive | 1 |" in (sweep_dir / "ranges.md").read_text()
    all_runs = runs(uri)
    (failed_job,) = [j for j in by_level(all_runs, "job") if j.data.tags["method"] == "smote_ann"]
    assert failed_job.info.status == "FAILED" and "ValueError" in failed_job.data.tags["error"]
    (sw,) = by_level(all_runs, "sweep")
    assert sw.info.status == "FAILED"


def _mlflow_run(tmp_path, uri: str, *extra: str, name: str = "sweep"):
    return run_cli(
        [
            "mlflow",
            "run",
            str(ROOT),
            *extra,
            "-P",
            "method=naive",
            "-P",
            "seeds=2",
            "-P",
            f"overrides=dataset.n_samples=1000 hydra.sweep.dir={tmp_path / name}",
        ],
        tmp_path,
        uri,
    )


def _one_sweep_in_imbsweep(tmp_path, uri: str, sweep_dir: str):
    """The sweep's runs: all in experiment `imbsweep`, artifacts beside the store, none RUNNING."""
    all_runs = runs(uri)
    (sw,) = [r for r in by_level(all_runs, "sweep") if r.data.tags["sweep_dir"] == sweep_dir]
    (job,) = [j for j in by_level(all_runs, "job") if j.data.tags["sweep_id"] == sw.info.run_id]
    seeds = [s for s in by_level(all_runs, "seed") if s.data.tags["sweep_id"] == sw.info.run_id]
    assert job.data.tags["mlflow.parentRunId"] == sw.info.run_id
    # other data than the practical's: 2 repeats x 5 folds
    assert job.data.params["dataset.n_samples"] == "1000" and len(seeds) == 10
    exp = mlflow.get_experiment_by_name("imbsweep")
    for r in (sw, job, *seeds):
        assert r.info.experiment_id == exp.experiment_id
        assert r.info.artifact_uri.startswith((tmp_path / "mlartifacts").as_uri())
    assert [r.info.run_id for r in all_runs if r.info.status == "RUNNING"] == []
    return sw


def test_mlflow_run_entry_point(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # As MLflow users type it: MLflow puts its own run in `Default`.
    p = _mlflow_run(tmp_path, uri, "--env-manager", "local")
    assert p.returncode == 0, p.stderr[-3000:]
    sw = _one_sweep_in_imbsweep(tmp_path, uri, str(tmp_path / "sweep"))
    (launcher,) = [r for r in runs(uri) if r.info.experiment_id == "0"]
    assert launcher.info.status == "FINISHED"
    assert launcher.data.tags["imbsweep.sweep_run_id"] == sw.info.run_id
    assert "experiment 'imbsweep'" in launcher.data.tags["mlflow.note.content"]

    # Named `imbsweep`: the project run is the sweep run itself.
    p = _mlflow_run(
        tmp_path, uri, "--env-manager", "local", "--experiment-name", "imbsweep", name="b"
    )
    assert p.returncode == 0, p.stderr[-3000:]
    sw = _one_sweep_in_imbsweep(tmp_path, uri, str(tmp_path / "b"))
    assert sw.data.tags.get("mlflow.project.entryPoint") == "main"
    # the first launcher, then two sweeps of 1 job with 2 repeats x 5 folds
    assert len(runs(uri)) == 1 + 12 + 12


def test_mlflow_run_builds_its_virtualenv_from_the_lock(tmp_path):
    """`mlflow run .` with MLflow's default env manager for this project (virtualenv).

    The first run on a machine builds the environment (~3 min, 2.4 GB in ~/.mlflow/envs); later
    runs reuse it (MLflow names it by python_env.yaml and the lock's contents).
    """
    if shutil.which("pyenv") is None:
        pytest.skip("MLflow's virtualenv env manager needs pyenv (see docs/sweeps.md)")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    p = _mlflow_run(tmp_path, uri)
    assert p.returncode == 0, p.stderr[-3000:]
    _one_sweep_in_imbsweep(tmp_path, uri, str(tmp_path / "sweep"))
    (launcher,) = [r for r in runs(uri) if r.info.experiment_id == "0"]
    assert launcher.data.tags["mlflow.project.env"] == "virtualenv"
    # The code that ran is this checkout's src/: the shared, cached environment holds no imbsweep.
    env_dir = re.search(r"(?:Environment|environment in) (\S+/mlflow-[0-9a-f]+)", p.stderr)
    assert env_dir, p.stderr[-3000:]
    site = list(Path(env_dir.group(1)).glob("lib/python3.11/site-packages"))
    assert site and not [f.name for f in site[0].iterdir() if "imbsweep" in f.name]
