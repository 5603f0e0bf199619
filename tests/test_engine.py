"""The sweep engine: unit identity, resume after SIGKILL, concurrent sweeps on one fresh store,
a real Dask cluster (scheduler + worker processes on 127.0.0.1)."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from conftest import BIN, ROOT, SMALL, compose_cfg, run_cli

from imbsweep import driver, tracking
from imbsweep.data import load_dataset
from imbsweep.errors import SweepInputError


def _key(overrides: list[str]) -> str:
    cfg = compose_cfg(overrides)
    return driver.job_key(cfg, load_dataset(cfg["dataset"]).digest())


def test_job_key_follows_what_determines_results_only():
    base = _key(["method=brf", *SMALL])
    # Bookkeeping and reporting keys do not change a run's numbers.
    assert _key(["method=brf", *SMALL, "tracking.experiment=other", "report.claims=null"]) == base
    assert _key(["method=brf", *SMALL, "seeds=3", "objective.metric=accuracy"]) == base
    # Method settings, split and data do.
    assert _key(["method=brf", *SMALL[:1], "method.n_estimators=11"]) != base
    assert _key(["method=brf", *SMALL, "split.test_size=0.3"]) != base
    assert _key(["method=brf", *SMALL, "dataset.random_state=1"]) != base


def test_sweep_key_and_cost_order():
    jobs = driver.plan(
        [["method=naive", *SMALL], ["method=smote_ann", *SMALL], ["method=brf", *SMALL]],
        lambda ov: compose_cfg(ov),
    )
    by = {j.cfg["method"]["name"]: j for j in jobs}
    # Longest first: the net on SMOTE-doubled rows, then the forest, then the majority class.
    assert by["smote_ann"].cost > by["brf"].cost > by["naive"].cost
    assert driver.sweep_key(jobs) == driver.sweep_key(list(reversed(jobs)))
    assert driver.sweep_key(jobs) != driver.sweep_key(jobs[:2])


def test_plan_reports_a_bad_file_once_for_all_its_jobs(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,y\n1,0\n2,0\n3,1\n,1\n")  # a NaN in a feature
    ovr = [f"dataset.path={bad}", "dataset.target=y", "dataset=file"]
    with pytest.raises(SweepInputError) as err:
        driver.plan(
            [["method=naive", *ovr], ["method=brf", *ovr], ["method=smote_ann", *ovr]],
            lambda ov: compose_cfg(ov),
        )
    text = str(err.value)
    assert "dataset" in text and text.count("is not valid") + text.count("NaN") >= 1
    # One message naming the three jobs, not three messages.
    assert text.count("in sweep job(s)") == 1
    assert "method=naive" in text and "method=smote_ann" in text


def test_driver_alive_tells_a_dead_process_from_a_live_one():
    me = driver.driver_tags()
    assert driver.driver_alive(me)
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    dead = {**me, "imbsweep.pid": str(p.pid)}
    assert not driver.driver_alive(dead)
    # Another machine: judged by the heartbeat's age.
    other = {"imbsweep.host": "elsewhere", "imbsweep.pid": "1", driver.TAG_HEARTBEAT: "0"}
    other[driver.TAG_HEARTBEAT] = str(int(time.time()))
    assert driver.driver_alive(other)
    other[driver.TAG_HEARTBEAT] = str(int(time.time()) - driver.STALE_AFTER_SECONDS - 5)
    assert not driver.driver_alive(other)


# ------------------------------------------------------------------------------- end to end


def _seed_runs(uri: str) -> pd.DataFrame:
    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(search_all_experiments=True, max_results=50000)


def _count(db: Path, status: str) -> int:
    try:
        with sqlite3.connect(db, timeout=30) as con:
            return con.execute(
                "select count(*) from runs r join tags t on r.run_uuid = t.run_uuid "
                "where t.key = 'run_level' and t.value = 'seed' and r.status = ?",
                (status,),
            ).fetchone()[0]
    except sqlite3.Error:
        return 0


# Cheap scikit-learn methods keep this test short; that a net's numbers do not depend on the
# process is checked by test_a_real_dask_cluster_gives_the_local_numbers.
# k-fold (the default on this data): 3 methods x 2 repeats x 5 folds = 30 units.
SWEEP = ["imbsweep", "method=naive,brf,logreg_balanced", "seeds=2", "dataset.n_samples=1000"]


@pytest.mark.slow
def test_sigkill_then_rerun_runs_exactly_the_missing_units(tmp_path):
    db = tmp_path / "mlflow.db"
    uri = f"sqlite:///{db}"
    sweep_dir = tmp_path / "sweep"
    args = [*SWEEP, f"hydra.sweep.dir={sweep_dir}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(MLFLOW_TRACKING_URI=uri, PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    proc = subprocess.Popen(
        args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 300
    while _count(db, "FINISHED") < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(2)  # the killed driver's workers notice and stop
    finished_before = _count(db, "FINISHED")
    assert 3 <= finished_before < 30, "the kill must land mid-sweep"

    p = run_cli(args, tmp_path, uri)
    assert p.returncode == 0, p.stderr[-3000:]
    assert f"{finished_before} of 30 units already finished" in p.stderr + p.stdout
    runs = _seed_runs(uri)
    seeds = runs[runs["tags.run_level"] == "seed"]
    done = seeds[seeds["status"] == "FINISHED"]
    # Every unit (seed, fold) exactly once; nothing finished was run again or left RUNNING.
    assert len(done) == 30
    assert not done.duplicated(["tags.job_key", "tags.seed", "tags.fold"]).any()
    assert (runs["status"] != "RUNNING").all()
    assert set(runs.loc[runs["status"] == "KILLED", "tags.run_level"]) <= {"seed"}
    assert runs.loc[runs["status"] == "KILLED", "tags.killed_reason"].notna().all()
    (sweep_run,) = runs[runs["tags.run_level"] == "sweep"].itertuples()
    assert sweep_run.status == "FINISHED"

    # The same table as a sweep that was never interrupted (fresh store, fresh sweep).
    fresh_dir = tmp_path / "fresh"
    uri2 = f"sqlite:///{tmp_path / 'fresh.db'}"
    q = run_cli([*SWEEP, f"hydra.sweep.dir={fresh_dir}"], tmp_path, uri2)
    assert q.returncode == 0, q.stderr[-3000:]
    pd.testing.assert_frame_equal(
        pd.read_csv(sweep_dir / "ranges.csv"), pd.read_csv(fresh_dir / "ranges.csv")
    )

    # Once complete, the same command runs nothing; resume=false starts a fresh sweep run.
    r = run_cli(args, tmp_path, uri)
    assert r.returncode == 0 and "nothing to run" in r.stderr + r.stdout


@pytest.mark.slow
def test_eight_concurrent_sweeps_on_a_fresh_sqlite_store(tmp_path):
    db = tmp_path / "mlflow.db"
    uri = f"sqlite:///{db}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(MLFLOW_TRACKING_URI=uri, PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    procs = [
        subprocess.Popen(
            [
                "imbsweep",
                "method=naive",
                f"seeds=[{i}]",
                "dataset.n_samples=500",
                "split.protocol=holdout",  # one unit a sweep: the race is in opening the store
                "report.plot=false",
                "hydra/launcher=basic",
                f"hydra.sweep.dir={tmp_path / f's{i}'}",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(8)
    ]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, "\n".join(o[-2000:] for o in outs)
    client = mlflow.MlflowClient(uri)  # the store still opens
    runs = _seed_runs(uri)
    assert (runs["tags.run_level"] == "sweep").sum() == 8
    seeds = runs[runs["tags.run_level"] == "seed"]
    assert sorted(seeds["tags.seed"].astype(int)) == list(range(8))
    assert (runs["status"] == "FINISHED").all()
    assert client.search_experiments()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_real_dask_cluster_gives_the_local_numbers(tmp_path):
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    sched = subprocess.Popen(
        [BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [BIN / "dask", "worker", addr, "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Nets too: their numbers must not depend on the process or thread they ran in.
        args = [
            "imbsweep",
            "method=naive,brf,weighted_ann,smote_ann",
            "seeds=3",
            "method.epochs=2",
            *SMALL,
        ]
        uri = f"sqlite:///{tmp_path / 'cluster.db'}"
        p = run_cli(
            [*args, f"hydra.launcher.address={addr}", f"hydra.sweep.dir={tmp_path / 'c'}"],
            tmp_path,
            uri,
        )
        assert p.returncode == 0, p.stderr[-3000:]
        assert "Dask scheduler at" in p.stderr + p.stdout
        local_uri = f"sqlite:///{tmp_path / 'local.db'}"
        q = run_cli(
            [*args, "hydra/launcher=basic", f"hydra.sweep.dir={tmp_path / 'l'}"],
            tmp_path,
            local_uri,
        )
        assert q.returncode == 0, q.stderr[-3000:]
    finally:
        worker.terminate()
        sched.terminate()
        worker.wait(30)
        sched.wait(30)
    metrics = ["minority_f1", "minority_precision", "minority_recall", "accuracy", "roc_auc"]

    def table(u: str) -> pd.DataFrame:
        r = _seed_runs(u)
        r = r[r["tags.run_level"] == "seed"]
        cols = ["tags.method", "tags.seed"] + [f"metrics.{m}" for m in metrics]
        return r[cols].sort_values(cols[:2]).reset_index(drop=True)

    cluster, local = table(uri), table(local_uri)
    assert len(cluster) == 12
    pd.testing.assert_frame_equal(cluster, local, check_exact=True)


def test_the_dataset_row_race_is_retried_and_other_errors_are_not(monkeypatch):
    # A stand-in client (the race between two processes cannot be staged on demand): the
    # first log_inputs fails as MLflow does when another process inserted the dataset first.
    monkeypatch.setattr(tracking.time, "sleep", lambda s: None)
    calls = []

    class Client:
        def log_inputs(self, run_id, datasets):
            calls.append(run_id)
            if len(calls) == 1:
                raise RuntimeError(
                    "(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id"
                )

        def log_batch(self, run_id, tags):
            raise RuntimeError("UNIQUE constraint failed: tags.key")

    c = tracking.RetryingClient(Client())
    c.log_inputs("r", datasets=[])
    assert calls == ["r", "r"]
    with pytest.raises(RuntimeError, match="tags.key"):
        c.log_batch("r", tags=[])


def test_the_hydra_state_launchers_ship_to_workers_pickles():
    # Dask and joblib send Hydra's singleton state (with every registered OmegaConf resolver)
    # to their workers: a resolver that closes over a ContextVar broke every parallel sweep.
    import cloudpickle
    from hydra.core.singleton import Singleton

    import imbsweep.config  # noqa: F401  (both register resolvers, as in a sweep's driver)
    import imbsweep.methods.data_aware  # noqa: F401

    state = cloudpickle.loads(cloudpickle.dumps(Singleton.get_state()))
    assert {"minority_k", "class_weight", "project_root"} <= set(state["omegaconf_resolvers"])


def test_configs_composed_once_per_group_choice_equal_hydras_own(tmp_path):
    # Jobs and units are composed once per choice of config groups, value overrides set on a
    # copy: every config must equal what Hydra composes for the whole override list.
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    from imbsweep import unit_compose as uc
    from imbsweep.paths import CONF_DIR

    unit = [
        "unit.seed=3",
        "unit.sweep_id=abc",
        "unit.job_run_id=null",
        f"unit.tracking_uri=sqlite:///{tmp_path}/m.db",
    ]
    cases = [
        ["method=smote_ann", "dataset.n_samples=1000", "split.test_size=0.25"],
        ["method=smote_ann", "dataset.n_samples=2000", "method.k_neighbors=3", *unit],
        ["method.k_neighbors=3", "method=smote_ann", "seeds=[1,2]"],  # order kept in overrides
        ["sweeps=benchmark_keel", "method=brf", "dataset.name=yeast3", "seeds=3", *unit],
        ["sweeps=benchmark_keel", "method=brf", "dataset.name=glass1", "seeds=3", *unit],
        ["dataset=keel", "dataset.name=ecoli1", "method=weighted_ann", "tracking.experiment=x"],
        ["method=naive", "+extra.note=hello", "report.plot=false"],
    ]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration(
            "config",
            [f"hydra.sweep.dir={tmp_path}", "hydra.job.chdir=false", "hydra/launcher=dask"],
            RunMode.MULTIRUN,
        )
        uc._BASES.clear()
        for ov in cases:
            fast = uc.load_sweep_config(loader, master, ov)
            full = loader.load_sweep_config(master, ov)
            assert OmegaConf.to_container(fast) == OmegaConf.to_container(full), ov
            assert fast.hydra.job.override_dirname == full.hydra.job.override_dirname
            assert list(fast.hydra.overrides.task) == ov
        assert fast.extra.note == "hello"
        # groups: smote_ann, benchmark_keel+brf, keel+weighted_ann, naive
        assert len(uc._BASES) == 4


def test_workers_warm_up_for_the_units_left_only(tmp_path):
    """A resumed sweep whose nets had all finished sets no TensorFlow up on its workers."""
    from hydra.core.utils import JobReturn, JobStatus

    from imbsweep.keras_model import deterministic_tf

    jobs = driver.plan(
        [["method=smote_ann", *SMALL], ["method=brf", *SMALL]], lambda ov: compose_cfg(ov)
    )
    net = next(j for j in jobs if driver.needs_tf(j.cfg))
    primary = {"tracking": {"enabled": False}, "report": {"claims": None, "plot": False}}

    warmed, launched = [], []

    def launch(batch, costs):
        assert costs == sorted(costs, reverse=True)  # longest first, one per unit
        ok = JobReturn(status=JobStatus.COMPLETED, _return_value={"status": "finished"})
        launched.extend(batch)
        return [ok] * len(batch)

    def warm(todo):
        warmed.append(driver.warm_ups(todo))

    for done, expected in [({}, [deterministic_tf]), (dict.fromkeys(net.units, "r"), [])]:
        for job in jobs:
            job.done = dict(done) if job is net else {}
        warmed.clear()
        launched.clear()
        drv = driver.SweepDriver(primary, tmp_path, "s")
        assert drv.run(jobs, launch, warm=warm) == 0
        assert warmed == [expected]
        assert len(launched) == sum(len(j.units) for j in jobs) - len(done)


def test_each_unit_gets_its_own_copy_of_the_shared_hydra_state(monkeypatch):
    # Hydra's Singleton.set_state adopts the dict it is given and adds to it; a worker that
    # pickles the same object for another worker meanwhile failed ("dictionary changed size
    # during iteration") and the sweep hung. Workers hold bytes; each unit unpickles its copy.
    import cloudpickle

    from hydra_plugins.imbsweep_plugins import dask_launcher

    seen = []
    monkeypatch.setattr(dask_launcher, "_run_one", lambda *a: seen.append(a[5]))
    state = {"instances": {"a": 1}, "omegaconf_resolvers": {}}
    held = dask_launcher._keep(cloudpickle.dumps((None, None, None, state)))
    assert isinstance(held, bytes)  # immutable: safe to send while a unit runs
    for i in range(2):
        dask_launcher._run_shared(i, [], held, f"k{i}", (None, None))
    assert seen[0] == seen[1] == state
    assert seen[0]["instances"] is not seen[1]["instances"]
