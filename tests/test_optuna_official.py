"""The cases of Hydra's official Optuna sweeper test suite, as our own tests of our sweeper.

Same command lines as the official tests, run on our own example apps (tests/optuna_examples):
what a user of the official plugin types must work here and search the same space.
"""

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.test_utils.test_utils import TSweepRunner
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

# Hydra's plugin scan re-executes plugin modules: scan first, then import (see the package).
Plugins.instance()

from hydra_plugins.imbsweep_plugins.optuna_sweeper import (  # noqa: E402
    RESULTS_FILE,
    OptunaSweeper,
    parse_search_space,
)
from hydra_plugins.imbsweep_plugins.optuna_sweeper.config import raise_motpe_removed  # noqa: E402

EXAMPLES = Path(__file__).parent / "optuna_examples"
SRC = Path(__file__).resolve().parents[1] / "src"

optuna.logging.set_verbosity(optuna.logging.WARNING)


def run_example(
    tmp_path: Path, script: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run an example app as a multirun with its sweep dir in tmp_path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.pop("HYDRA_FULL_ERROR", None)
    # options (--config-dir ...) before the overrides, or argparse refuses them
    options = [a for a in args if a.startswith("--")]
    overrides = [a for a in args if not a.startswith("--")]
    cmd = [sys.executable, str(EXAMPLES / script), "--multirun", *options]
    proc = subprocess.run(
        [*cmd, f"hydra.sweep.dir={tmp_path}", *overrides],
        cwd=EXAMPLES,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"example failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def results(tmp_path: Path) -> dict:
    return yaml.safe_load((tmp_path / RESULTS_FILE).read_text())


def dominates(a: list[float], b: list[float]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


# ------------------------------------------------------------------------ unit cases


def test_discovery() -> None:
    assert OptunaSweeper.__name__ in [p.__name__ for p in Plugins.instance().discover(Sweeper)]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("key=choice(1,2)", CategoricalDistribution([1, 2])),
        ("key=choice(true, false)", CategoricalDistribution([True, False])),
        ("key=choice('hello', 'world')", CategoricalDistribution(["hello", "world"])),
        ("key=shuffle(range(1,3))", CategoricalDistribution((1, 2))),
        ("key=range(1,3)", IntDistribution(1, 3)),
        ("key=interval(1, 5)", FloatDistribution(1, 5)),
        ("key=int(interval(1, 5))", IntDistribution(1, 5)),
        ("key=tag(log, interval(1, 5))", FloatDistribution(1, 5, log=True)),
        ("key=tag(log, int(interval(1, 5)))", IntDistribution(1, 5, log=True)),
        ("key=range(0.5, 5.5, step=1)", FloatDistribution(0.5, 5.5, step=1)),
    ],
)
def test_override_maps_to_the_official_distribution(override: str, expected) -> None:
    actual = parse_search_space({}, [override], OverridesParser.create()).distributions()["key"]
    if isinstance(expected, CategoricalDistribution):
        # shuffle() randomises the order of the choices
        assert isinstance(actual, CategoricalDistribution)
        assert set(actual.choices) == set(expected.choices)
    else:
        assert actual == expected


@pytest.mark.parametrize(
    ("overrides", "swept", "fixed", "deleted"),
    [
        (["key=choice(1,2)"], {"key": CategoricalDistribution([1, 2])}, {}, []),
        (["key=5"], {}, {"key": "5"}, []),
        (
            ["key1=choice(1,2)", "key2=5"],
            {"key1": CategoricalDistribution([1, 2])},
            {"key2": "5"},
            [],
        ),
        (
            ["key1=choice(1,2)", "key2=5", "key3=range(1,3)"],
            {"key1": CategoricalDistribution([1, 2]), "key3": IntDistribution(1, 3)},
            {"key2": "5"},
            [],
        ),
        (["~z"], {}, {}, ["~z"]),
        (["~z=10"], {}, {}, ["~z=10"]),
    ],
)
def test_overrides_split_into_swept_fixed_and_deleted(overrides, swept, fixed, deleted) -> None:
    space = parse_search_space({}, overrides, OverridesParser.create())
    assert space.distributions() == swept
    assert space.fixed_values() == fixed
    assert [o for o in space.fixed.values() if o.startswith("~")] == deleted
    # every fixed override and deletion reaches each job
    assert space.render({})[: len(fixed) + len(deleted)] == list(space.fixed.values())


def test_grid_values_are_the_official_ones() -> None:
    space = parse_search_space(
        {"x": "choice(-1, 1)", "y": "range(-1.0, 1.0, step=1)", "n": "range(1,3)"}, []
    )
    assert [space.params[k].grid() for k in ("x", "y", "n")] == [[-1, 1], [-1.0, 0.0], [1, 2]]


def test_plus_keys_keep_their_official_name() -> None:
    space = parse_search_space({}, ["+w=interval(0, 1)"])
    assert list(space.distributions()) == ["+w"]
    assert space.render({"+w": 0.5})[-1] == "+w=0.5"


def test_motpe_sampler_is_removed() -> None:
    with pytest.raises(ValueError, match="The 'motpe' sampler was removed in Optuna 4.0"):
        raise_motpe_removed()


def test_launch_jobs_returns_none(hydra_sweep_runner: TSweepRunner) -> None:
    sweep = hydra_sweep_runner(
        calling_file=None,
        calling_module="hydra.test_utils.a_module",
        config_path="configs",
        config_name="compose.yaml",
        task_function=None,
        overrides=[
            "hydra/sweeper=optuna",
            "hydra/launcher=basic",
            "hydra.sweeper.n_trials=8",
            "hydra.sweeper.n_jobs=3",
        ],
    )
    with sweep:
        assert sweep.returns is None


# ------------------------------------------------------------------ example sweeps


@pytest.mark.slow
@pytest.mark.parametrize("with_commandline", [True, False])
def test_sphere_example(with_commandline: bool, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'test.db'}"
    args = [
        "hydra.job.chdir=True",
        "hydra.sweeper.n_trials=20",
        "hydra.sweeper.n_jobs=1",
        f"hydra.sweeper.storage={storage}",
        "hydra.sweeper.study_name=test-optuna-example",
        "hydra/sweeper/sampler=tpe",
        "hydra.sweeper.sampler.seed=123",
        "~z",
    ]
    if with_commandline:
        args += ["x=choice(0, 1, 2)", "y=0"]
    run_example(tmp_path / "sweep", "sphere.py", *args)
    res = results(tmp_path / "sweep")
    best = optuna.load_study(storage=storage, study_name="test-optuna-example").best_trial
    assert res["name"] == "optuna"
    assert res["best_params"]["x"] == best.params["x"]
    if with_commandline:
        assert "y" not in res["best_params"] and "y" not in best.params
        assert best.user_attrs["y"] == "0"  # fixed values are user attrs, as officially
    else:
        assert res["best_params"]["y"] == best.params["y"]
    assert res["best_value"] == best.value
    # the official bound: 95th percentile of TPE's best over 1000 seeds
    assert res["best_value"] <= 2.27


@pytest.mark.slow
@pytest.mark.parametrize("num_trials", [10, 1])
def test_grid_sampler_example(num_trials: int, tmp_path: Path) -> None:
    proc = run_example(
        tmp_path,
        "sphere.py",
        f"--config-dir={EXAMPLES / 'extra_conf'}",
        "--config-name=grid",
        "hydra.job.chdir=False",
        f"hydra.sweeper.n_trials={num_trials}",
        "hydra.sweeper.n_jobs=1",
        f"hydra.sweeper.storage=sqlite:///{tmp_path / 'test.db'}",
        "hydra.sweeper.study_name=test-grid-sampler",
    )
    res = results(tmp_path)
    assert res["best_params"]["x"] in (-1, 1) and res["best_params"]["y"] in (-1.0, 0.0)
    assert res["best_params"]["z"] in ("foo", "bar")
    study = optuna.load_study(
        storage=f"sqlite:///{tmp_path / 'test.db'}", study_name="test-grid-sampler"
    )
    # 8 grid points: n_trials above that is capped, and each point is visited once
    assert len(study.trials) == min(num_trials, 8)
    points = {tuple(sorted(t.params.items())) for t in study.trials}
    assert len(points) == len(study.trials)
    if num_trials >= 8:
        assert res["best_value"] == 1 and abs(res["best_params"]["x"]) == 1
        assert res["best_params"]["y"] == 0
    assert "grid sampler: 8 grid points" in proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("with_commandline", [True, False])
def test_multi_objective_example(with_commandline: bool, tmp_path: Path) -> None:
    args = [
        "hydra.job.chdir=True",
        "hydra.sweeper.n_trials=20",
        "hydra.sweeper.n_jobs=1",
        "hydra/sweeper/sampler=random",
        "hydra.sweeper.sampler.seed=123",
    ]
    if with_commandline:
        args += ["x=range(0, 5)", "y=range(0, 3)"]
    proc = run_example(tmp_path, "multi_objective.py", *args)
    res = results(tmp_path)
    assert res["name"] == "optuna" and res["direction"] == ["minimize", "minimize"]
    solutions = res["solutions"]
    assert solutions
    for a in solutions:
        x, y = a["params"]["x"], a["params"]["y"]
        assert a["values"] == pytest.approx([4 * x**2 + 4 * y**2, (x - 5) ** 2 + (y - 5) ** 2])
        steps = {0} if with_commandline else {0, 0.5}
        assert x % 1 in steps and y % 1 in steps
        if with_commandline:  # range's stop is included, as in the official plugin
            assert 0 <= x <= 5 and 0 <= y <= 3
        for b in solutions:
            assert not dominates(a["values"], b["values"])
    assert f"Number of Pareto solutions: {len(solutions)}" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_single_direction_given_as_a_list(tmp_path: Path) -> None:
    run_example(
        tmp_path, "sphere.py", "hydra.sweeper.n_trials=3", "hydra.sweeper.direction=[minimize]"
    )
    res = results(tmp_path)
    assert res["direction"] == "minimize" and "x" in res["best_params"]


@pytest.mark.slow
def test_custom_search_space_example(tmp_path: Path) -> None:
    run_example(
        tmp_path,
        "custom_space.py",
        "hydra.job.chdir=True",
        "hydra.sweeper.n_trials=20",
        "hydra.sweeper.n_jobs=1",
        "hydra/sweeper/sampler=random",
        "hydra.sweeper.sampler.seed=123",
        "max_z_difference_from_x=0.3",
    )
    res = results(tmp_path)
    best = res["best_params"]
    assert abs(best["x"] - best["z"]) <= 0.3
    assert 0 <= best["+w"] <= 1  # stored under the name the function suggested
    assert res["best_value"] == pytest.approx(
        best["+w"] ** 2 + best["x"] ** 2 + best["y"] ** 2 + best["z"] ** 2
    )


@pytest.mark.slow
@pytest.mark.parametrize("max_failure_rate", [0.5, 1.0])
def test_failure_rate(max_failure_rate: float, tmp_path: Path) -> None:
    proc = run_example(
        tmp_path,
        "sphere.py",
        "hydra.job.chdir=True",
        "hydra.sweeper.n_trials=20",
        "hydra.sweeper.n_jobs=2",
        "hydra/sweeper/sampler=random",
        "hydra.sweeper.sampler.seed=123",
        f"hydra.sweeper.max_failure_rate={max_failure_rate}",
        "error=true",
        check=False,
    )
    error = "RuntimeError: cfg.error is True"
    if max_failure_rate < 1.0:
        # the first batch (2 of 2 failed) stops the sweep
        assert proc.returncode != 0 and error in proc.stderr
        assert results(tmp_path)["n_trials"]["failed"] == 2
    else:
        # every batch may fail: the sweep goes on to the end and says there is no best
        assert proc.returncode == 0 and error not in proc.stderr
        assert results(tmp_path)["n_trials"]["failed"] == 20


@pytest.mark.slow
def test_removed_motpe_sampler_stops_at_start(tmp_path: Path) -> None:
    proc = run_example(
        tmp_path,
        "multi_objective.py",
        f"--config-dir={EXAMPLES / 'extra_conf'}",
        "--config-name=motpe",
        "hydra.sweeper.n_trials=20",
        check=False,
    )
    assert proc.returncode != 0
    assert "motpe" in proc.stderr and "sampler was removed in Optuna 4.0" in proc.stderr


# ----------------------------------------------------- samplers, names, settings


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "sampler"),
    [
        (
            [
                "hydra/sweeper/sampler=tpe",
                "hydra.sweeper.sampler.n_startup_trials=2",
                "hydra.sweeper.sampler.n_ei_candidates=8",
                "hydra.sweeper.sampler.consider_prior=true",
                "hydra.sweeper.sampler.prior_weight=0.5",
                "hydra.sweeper.sampler.consider_endpoints=true",
                "hydra.sweeper.sampler.consider_magic_clip=true",
                "hydra.sweeper.sampler.warn_independent_sampling=false",
                "hydra.sweeper.sampler.multivariate=true",
                "hydra.sweeper.sampler.group=true",
                "hydra.sweeper.sampler.constant_liar=true",
            ],
            "TPESampler",
        ),
        (["hydra/sweeper/sampler=random"], "RandomSampler"),
        (["hydra/sweeper/sampler=cmaes"], "CmaEsSampler"),
        (
            ["hydra/sweeper/sampler=nsgaii", "hydra.sweeper.sampler.population_size=2"],
            "NSGAIISampler",
        ),
        (
            ["hydra/sweeper/sampler=nsgaiii", "hydra.sweeper.sampler.population_size=2"],
            "NSGAIIISampler",
        ),
        (["hydra/sweeper/sampler=qmc", "hydra.sweeper.sampler.scramble=true"], "QMCSampler"),
        (
            ["hydra/sweeper/sampler=bruteforce", "x=choice(0,1)", "y=choice(-5,0)"],
            "BruteForceSampler",
        ),
        # a `_target_` override of the default tpe group: TPE's own keys are dropped
        (["hydra.sweeper.sampler._target_=optuna.samplers.CmaEsSampler"], "CmaEsSampler"),
    ],
)
def test_every_sampler_runs_a_study(args: list[str], sampler: str, tmp_path: Path) -> None:
    run_example(tmp_path, "sphere.py", "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=2", *args)
    res = results(tmp_path)
    assert res["sampler"] == sampler
    assert res["n_trials"]["complete"] == 4


@pytest.mark.slow
def test_gp_sampler_without_torch_stops_with_a_clear_message(tmp_path: Path) -> None:
    pytest.importorskip("scipy")
    if __import__("importlib").util.find_spec("torch") is not None:
        pytest.skip("torch is installed here")
    proc = run_example(tmp_path, "sphere.py", "hydra/sweeper/sampler=gp", check=False)
    assert proc.returncode != 0
    assert "GPSampler needs the package(s) ['torch']" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_study_name_null_lets_optuna_name_the_study(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'test.db'}"
    for _ in range(2):
        run_example(
            tmp_path / "sweep",
            "sphere.py",
            "hydra.sweeper.n_trials=2",
            "hydra.sweeper.study_name=null",
            f"hydra.sweeper.storage={storage}",
        )
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    assert len(names) == 2 and all(n.startswith("no-name-") for n in names)
    assert results(tmp_path / "sweep")["study_name"] in names
