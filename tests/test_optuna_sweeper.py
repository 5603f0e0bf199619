"""Tests of the Optuna sweeper beyond the official cases: resume, heartbeats, checks, hooks.

Real sqlite studies and real Hydra runs of a tiny app (tests/optuna_app); imbsweep's hooks
(imbsweep.tuning.TuningHooks) are switched on where a test needs the stage key or finalize.
"""

import json
import os
import sqlite3
import subprocess
import sys
import time
import warnings
from contextlib import closing
from pathlib import Path

import optuna
import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from optuna.trial import TrialState

# Hydra's plugin scan executes plugin modules afresh; scan first so the classes imported below
# are the ones the sweeper raises, whichever test composed a config first.
Plugins.instance()

from hydra_plugins.imbsweep_plugins.optuna_sweeper import (  # noqa: E402
    DRIVER_ATTR,
    ERROR_ATTR,
    OVERRIDES_ATTR,
    RESULTS_FILE,
    OptunaSweeper,
    OptunaSweeperError,
    SearchSpaceError,
    parse_search_space,
)

APP = Path(__file__).parent / "optuna_app" / "app.py"
SRC = Path(__file__).resolve().parents[1] / "src"

optuna.logging.set_verbosity(optuna.logging.WARNING)


def app_command(tmp_path: Path, *overrides: str, tag: str, storage: bool) -> list[str]:
    return [
        sys.executable,
        str(APP),
        "-m",
        "hydra/sweeper=optuna",
        f"hydra.sweep.dir={tmp_path / 'multirun' / tag}",
        "hydra.sweeper.sampler.seed=0",
        "hydra.sweeper.study_name=imbsweep",
        "hydra.sweeper.n_jobs=1",
        *([f"hydra.sweeper.storage={db_url(tmp_path)}"] if storage else []),
        *overrides,
    ]


def app_env() -> dict[str, str]:
    env = dict(os.environ)
    # the project is installed editable; src on the path also covers a plain checkout
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.pop("HYDRA_FULL_ERROR", None)
    return env


def run_app(
    tmp_path: Path, *overrides: str, tag: str = "run", storage: bool = True, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the test app as an Optuna multirun in tmp_path; return the finished process."""
    proc = subprocess.run(
        app_command(tmp_path, *overrides, tag=tag, storage=storage),
        cwd=tmp_path,
        env=app_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"app failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


HOOKS = "hydra.sweeper.hooks={_target_:imbsweep.tuning.TuningHooks%s}"
TUNING = HOOKS % ""


def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"


def load(url: str, name: str = "imbsweep") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=url)


def states(study: optuna.Study) -> list[str]:
    return [t.state.name for t in study.trials]


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def results(tmp_path: Path, tag: str = "run") -> dict:
    return yaml.safe_load((tmp_path / "multirun" / tag / RESULTS_FILE).read_text())


# ----------------------------------------------------------------- end to end


@pytest.mark.slow
def test_small_study_end_to_end_with_hooks_and_finalize(tmp_path: Path) -> None:
    rec = tmp_path / "rec.jsonl"
    proc = run_app(
        tmp_path,
        "x=interval(-5,5)",
        "+hydra.sweeper.params.y='range(-4,4)'",
        # the command line wins over params for the same key
        "y=choice(-2,0)",
        "hydra.sweeper.n_trials=6",
        TUNING,
        f"record={rec}",
    )
    study = load(db_url(tmp_path))
    assert states(study) == ["COMPLETE"] * 6
    assert {t.params["y"] for t in study.trials} <= {-2, 0}
    for t in study.trials:
        assert -5 <= t.params["x"] <= 5
        assert t.value == pytest.approx((t.params["x"] - 1) ** 2 + (t.params["y"] + 2) ** 2)
        assert t.user_attrs[OVERRIDES_ATTR][-1] == "stage=trial"

    res = results(tmp_path)
    assert res["study_name"] == "imbsweep"
    assert res["direction"] == "minimize"
    assert res["n_trials"]["complete"] == 6 and res["n_trials"]["failed"] == 0
    assert res["best_value"] == pytest.approx(min(t.value for t in study.trials))
    assert res["best_params"] == study.best_params
    assert "6/6 complete" in proc.stderr + proc.stdout
    assert "Best parameters" in proc.stderr + proc.stdout

    # finalize (on by default): one job with the best params, one with the defaults
    final = {r["stage"]: r for r in records(rec) if r["stage"] != "trial"}
    assert final["best"]["x"] == pytest.approx(study.best_params["x"])
    assert final["best"]["y"] == study.best_params["y"]
    assert (final["default"]["x"], final["default"]["y"]) == (0.0, 0.0)
    assert res["final"]["best"]["return_value"] == pytest.approx(study.best_value)
    assert res["final"]["default"]["return_value"] == pytest.approx(5.0)
    # final jobs are never told to the study
    assert len(load(db_url(tmp_path)).trials) == 6


@pytest.mark.slow
def test_storage_null_is_an_in_memory_study_as_officially(tmp_path: Path) -> None:
    run_app(tmp_path, "x=interval(-5,5)", "hydra.sweeper.n_trials=2", storage=False)
    assert results(tmp_path)["storage"] == "in-memory"
    assert results(tmp_path)["n_trials"]["complete"] == 2
    assert not list(tmp_path.glob("*.db"))


@pytest.mark.slow
def test_resume_keeps_completed_trials_and_runs_only_the_rest(tmp_path: Path) -> None:
    common = ("x=interval(-5,5)", "y=range(-4,4)")
    run_app(tmp_path, *common, "hydra.sweeper.n_trials=3", tag="first")
    first = [(t.params, t.value) for t in load(db_url(tmp_path)).trials]

    proc = run_app(tmp_path, *common, "hydra.sweeper.n_trials=5", tag="second")
    assert "resuming study imbsweep: 3 complete, 2 to go" in proc.stderr + proc.stdout
    study = load(db_url(tmp_path))
    assert states(study) == ["COMPLETE"] * 5
    assert [(t.params, t.value) for t in study.trials[:3]] == first
    # the resumed run's sampler is re-seeded, so it does not replay the first draws
    assert all(t.params not in [p for p, _ in first] for t in study.trials[3:])

    # the same study cannot be resumed the other way round ...
    flipped = (*common, "hydra.sweeper.n_trials=1", "hydra.sweeper.direction=maximize")
    proc = run_app(tmp_path, *flipped, tag="flipped", check=False)
    assert proc.returncode != 0 and "exists with direction=minimize" in proc.stderr
    # ... unless fresh=true drops it first
    proc = run_app(tmp_path, *flipped, "hydra.sweeper.fresh=true", tag="fresh")
    assert "deleting existing study 'imbsweep' (5 trials)" in proc.stderr + proc.stdout
    study = load(db_url(tmp_path))
    assert states(study) == ["COMPLETE"] and study.direction.name == "MAXIMIZE"


@pytest.mark.slow
def test_stale_running_trials_are_failed_on_the_next_run(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        storage = optuna.storages.RDBStorage(db_url(tmp_path), heartbeat_interval=1)
        study = optuna.create_study(study_name="imbsweep", storage=storage)
        # left by other ask/tell code: RUNNING, never a heartbeat
        bare = study.ask()
        # left by a crashed imbsweep driver: marked, with one heartbeat and then silence
        crashed = study.ask()
    crashed.set_user_attr(DRIVER_ATTR, "elsewhere:1")
    storage.record_heartbeat(crashed._trial_id)
    time.sleep(2.2)  # sqlite heartbeat times have 1 s resolution; grace is 1 s

    proc = run_app(
        tmp_path,
        "x=interval(-5,5)",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.heartbeat_interval=1",
        "hydra.sweeper.grace_period=1",
    )
    study = load(db_url(tmp_path))
    assert states(study) == ["FAIL", "FAIL", "COMPLETE", "COMPLETE"]
    assert study.trials[bare.number].user_attrs[ERROR_ATTR].startswith("stale")
    assert "failed stale trial 1" in proc.stderr + proc.stdout


def driver_has_launched(db: Path) -> bool:
    """True once a RUNNING trial carries its overrides, i.e. its job is being launched."""
    # plain read-only sqlite: an Optuna storage here could race the driver's schema set-up
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
            rows = con.execute(
                "SELECT count(*) FROM trials t JOIN trial_user_attributes a"
                " ON a.trial_id = t.trial_id WHERE t.state = 'RUNNING' AND a.key = ?",
                (OVERRIDES_ATTR,),
            ).fetchone()
    except sqlite3.Error:  # not created yet
        return False
    return rows[0] > 0


@pytest.mark.slow
def test_trials_of_a_killed_driver_are_failed_on_resume(tmp_path: Path) -> None:
    stale = ("hydra.sweeper.heartbeat_interval=1", "hydra.sweeper.grace_period=1")
    common = (
        "x=interval(-5,5)",
        "hydra.sweeper.n_trials=1",
    )
    driver = subprocess.Popen(
        app_command(tmp_path, *common, *stale, "sleep=60", tag="killed", storage=True),
        cwd=tmp_path,
        env=app_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not driver_has_launched(tmp_path / "study.db"):
            if time.monotonic() > deadline or driver.poll() is not None:
                pytest.fail("the driver never launched its trial")
            time.sleep(0.2)
    finally:
        driver.kill()  # SIGKILL: no cleanup code of the driver runs
        driver.wait(timeout=30)
    time.sleep(2.2)  # let its last heartbeat age past the 1 s grace period

    run_app(tmp_path, *common, *stale, tag="resumed")
    study = load(db_url(tmp_path))
    assert states(study) == ["FAIL", "COMPLETE"]
    assert DRIVER_ATTR in study.trials[0].user_attrs


@pytest.mark.slow
def test_failing_objective_is_recorded_and_max_failure_rate_stops(tmp_path: Path) -> None:
    proc = run_app(
        tmp_path,
        "x=interval(-5,5)",
        "fail_above=0",
        "hydra.sweeper.n_trials=6",
        check=False,
    )
    assert proc.returncode != 0
    assert "1 of 1 trials of the batch failed" in proc.stderr
    assert "max_failure_rate 0.0" in proc.stderr
    study = load(db_url(tmp_path))
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert len(failed) == 1 and len(study.trials) < 6  # stopped at the first failure
    assert "above fail_above" in failed[0].user_attrs[ERROR_ATTR]
    assert TrialState.RUNNING.name not in states(study)
    assert results(tmp_path)["aborted"] is True


@pytest.mark.slow
def test_nan_objective_fails_the_trial_but_tolerated_failures_go_on(tmp_path: Path) -> None:
    run_app(
        tmp_path,
        "x=interval(-5,5)",
        "nan_above=0",
        "hydra.sweeper.n_trials=6",
        "hydra.sweeper.max_failure_rate=1.0",
    )
    study = load(db_url(tmp_path))
    assert len(study.trials) == 6
    for t in study.trials:
        if t.params["x"] > 0:
            assert t.state == TrialState.FAIL
            assert "non-finite" in t.user_attrs[ERROR_ATTR]
        else:
            assert t.state == TrialState.COMPLETE
    assert 0 < results(tmp_path)["n_trials"]["failed"] < 6


@pytest.mark.slow
def test_joblib_runs_a_batch_in_parallel_without_lost_trials(tmp_path: Path) -> None:
    rec = tmp_path / "rec.jsonl"
    run_app(
        tmp_path,
        "hydra/launcher=joblib",
        "x=interval(-5,5)",
        "y=range(-4,4)",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.n_jobs=2",
        "sleep=1.0",
        f"record={rec}",
    )
    study = load(db_url(tmp_path))
    assert states(study) == ["COMPLETE"] * 4
    assert [t.number for t in study.trials] == [0, 1, 2, 3]
    runs = records(rec)
    assert len(runs) == 4
    assert len({r["pid"] for r in runs}) >= 2
    # each batch of two ran at once
    for a, b in (runs[0:2], runs[2:4]):
        assert a["start"] < b["end"] and b["start"] < a["end"]


@pytest.mark.slow
def test_a_slow_trial_holds_back_no_other_on_two_workers(tmp_path: Path) -> None:
    # No batch barrier: while trial 0 sleeps on one worker, the other worker's trials are told
    # and new ones asked (in batches of n_jobs=2 only one trial could end meanwhile).
    rec = tmp_path / "rec.jsonl"
    run_app(
        tmp_path,
        "hydra/launcher=dask",
        "hydra.launcher.n_workers=2",
        "x=interval(-5,5)",
        "hydra.sweeper.n_trials=6",
        "hydra.sweeper.n_jobs=2",
        "sleep=0.2",
        "first_sleep=8",
        f"record={rec}",
    )
    study = load(db_url(tmp_path))
    assert states(study) == ["COMPLETE"] * 6
    runs = {r["num"]: r for r in records(rec)}
    assert sorted(runs) == list(range(6))
    slow = runs[0]
    during = [r for n, r in runs.items() if n and r["end"] < slow["end"]]
    assert len(during) >= 4, runs  # every other trial ran beside the slow one
    assert len({r["pid"] for r in runs.values()}) == 2
    told = {t.number: t.datetime_complete for t in study.trials}
    assert sum(told[n] < told[0] for n in range(1, 6)) >= 4  # told as they ended


@pytest.mark.slow
def test_finalize_overrides_and_stage_key_null(tmp_path: Path) -> None:
    rec = tmp_path / "rec.jsonl"
    run_app(
        tmp_path,
        "x=interval(-5,5)",
        "y=range(-4,4)",
        "hydra.sweeper.n_trials=2",
        HOOKS % ",stage_key:null,final_overrides:['y=3']",
        f"record={rec}",
    )
    study = load(db_url(tmp_path))
    runs = records(rec)
    assert len(runs) == 4  # 2 trials + best + default
    assert all(r["stage"] == "trial" for r in runs)  # stage_key=null sets no stage
    best, default = runs[2:]
    assert best["x"] == pytest.approx(study.best_params["x"]) and best["y"] == 3
    assert (default["x"], default["y"]) == (0.0, 3)
    assert len(study.trials) == 2


# ------------------------------------------------------------ bad search space


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ("x=interval(5,-5)", "greater than high"),
        ("+hydra.sweeper.params.x='tag(log,interval(0,1))'", "log scale needs low > 0"),
    ],
)
def test_bad_search_space_fails_before_any_study(
    tmp_path: Path, override: str, problem: str
) -> None:
    proc = run_app(tmp_path, override, check=False)
    assert proc.returncode != 0
    assert "search space 'x:" in proc.stderr and problem in proc.stderr
    assert "accepted search-space values" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "study.db").exists()


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        (["shape=choice(quad,abs,cube)"], "overrides ['shape=cube']"),
        (["shape=choice(quad,abs,cube)", TUNING], "overrides ['shape=cube', 'stage=trial']"),
        (["x=interval(-5,5)", HOOKS % ",stage_key:phase"], "needs a 'phase' key"),
    ],
)
def test_a_trial_config_that_does_not_compose_fails_before_any_study(
    tmp_path: Path, overrides: list[str], problem: str
) -> None:
    proc = run_app(tmp_path, *overrides, check=False)
    assert proc.returncode != 0
    assert "does not compose" in proc.stderr and problem in proc.stderr
    assert not (tmp_path / "study.db").exists()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("interval(5, 1)", "greater than high"),
        ("tag(log, interval(0, 1))", "log scale needs low > 0"),
        ("tag(log, int(interval(0, 10)))", "log scale needs low >= 1"),
        ("tag(log, range(1, 10, 2))", "int range with step 1"),
        ("range(1, 10, -1)", "step must be > 0"),
        ("range(5, 1)", "greater than stop"),
        ("tag(foo, interval(1, 2))", "unsupported tag"),
        ("tag(log, choice(1, 2))", "interval/range only"),
        ("interval(1, 2", "cannot parse"),
        ("choice(1, 1)", "duplicate choice"),
    ],
)
def test_bad_search_space_messages(value: str, problem: str) -> None:
    with pytest.raises(SearchSpaceError) as info:
        parse_search_space({"model.lr": value}, [], OverridesParser.create())
    message = str(info.value)
    assert "'model.lr:" in message and problem in message
    assert "accepted search-space values" in message


def test_search_space_grammar_maps_to_optuna_distributions() -> None:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    params = {
        "a": "choice(x, 'y z', 3)",
        "b": "range(1, 10)",
        "c": "interval(0.1, 10)",
        "d": "tag(log, interval(0.1, 10))",
        "e": "int(interval(1, 15))",
        "f": "tag(log, int(interval(10, 500)))",
        "g": "1,2,3",
        "h": "range(0, 1, 0.25)",
        "fixed": "small",
    }
    space = parse_search_space(params, ["e=7", "+new=choice(1,2)"], OverridesParser.create())
    dists = space.distributions()
    assert dists["a"] == CategoricalDistribution(["x", "y z", 3])
    # stop included, as in Hydra's official Optuna sweeper (the grid sampler excludes it)
    assert dists["b"] == IntDistribution(1, 10)
    assert dists["c"] == FloatDistribution(0.1, 10)
    assert dists["d"] == FloatDistribution(0.1, 10, log=True)
    assert dists["f"] == IntDistribution(10, 500, log=True)
    assert dists["g"] == CategoricalDistribution([1, 2, 3])
    assert dists["h"] == FloatDistribution(0.0, 1.0, step=0.25)
    assert dists["+new"] == CategoricalDistribution([1, 2])  # the official name keeps its +
    # a fixed command-line value replaces the sweep of the same key
    assert "e" not in dists and space.fixed["e"] == "e=7"
    assert space.fixed["fixed"] == "fixed=small"
    rendered = space.render({"a": "y z", "c": 0.5, "+new": 2})
    assert rendered[:2] == ["fixed=small", "e=7"] and rendered[3:] == ["c=0.5", "+new=2"]
    # the string choice survives the trip back through Hydra's parser
    assert OverridesParser.create().parse_override(rendered[2]).value() == "y z"


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(OptunaSweeperError, match="expected minimize, maximize, or a list"):
        OptunaSweeper(direction=["minimize", "up"]).sweeper._check_settings()
    with pytest.raises(OptunaSweeperError, match="max_failure_rate"):
        OptunaSweeper(max_failure_rate=2.0).sweeper._check_settings()
    sweeper = OptunaSweeper(direction=["minimize", "MAXIMIZE"]).sweeper
    sweeper._check_settings()
    assert sweeper.directions == ["minimize", "maximize"]


def test_choices_optuna_cannot_tell_apart_are_rejected() -> None:
    # Optuna looks choices up with ==, so true and 1 would come back as the same value
    with pytest.raises(SearchSpaceError, match="duplicate choice"):
        parse_search_space({"a": "choice(true, 1)"}, [], OverridesParser.create())
