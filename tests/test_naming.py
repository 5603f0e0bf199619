"""Run names and job params as the MLflow UI shows them (imbsweep.naming)."""

from __future__ import annotations

from imbsweep.naming import (
    job_run_names,
    job_run_params,
    override_keys,
    seed_run_name,
    swept_params,
)


def test_seed_comes_first_so_truncation_keeps_it():
    assert seed_run_name("smote_ann k=5", 3) == "seed=3 smote_ann k=5"


def test_seed_and_fold_numbers_sort_as_text_in_seed_order():
    """MLflow sorts run names as text: past 9 seeds (or folds) the numbers are zero-padded to
    the job's largest, and up to 10 seeds the names stay as they were."""
    assert seed_run_name("naive", 3, seeds=range(10)) == "seed=3 naive"
    names = [seed_run_name("naive", s, seeds=range(12)) for s in range(12)]
    assert names[2] == "seed=02 naive" and names[11] == "seed=11 naive"
    assert sorted(names) == names
    assert seed_run_name("brf", 7, seeds=[7, 1234]) == "seed=0007 brf"
    units = [(s, f) for s in range(11) for f in range(12)]
    names = [seed_run_name("brf", s, f, seeds=range(11), folds=12) for s, f in units]
    assert names[1] == "seed=00/01 brf" and sorted(names) == names
    assert seed_run_name("brf", 3, 2, seeds=range(5), folds=5) == "seed=3/2 brf"


def test_job_names_carry_the_dataset_only_when_there_are_several():
    one = [("brf trees=100", "pima", ["method=brf"]), ("naive", "pima", ["method=naive"])]
    assert job_run_names(one) == ["brf trees=100", "naive"]
    two = [("brf trees=100", d, ["method=brf", f"dataset={d}"]) for d in ("pima", "fraud")]
    assert job_run_names(two) == ["brf trees=100 | pima", "brf trees=100 | fraud"]


def test_jobs_that_would_share_a_name_get_what_differs():
    jobs = [("brf trees=100", "pima", ["method=brf", f"split.test_size={t}"]) for t in (0.2, 0.3)]
    assert job_run_names(jobs) == [
        "brf trees=100 [split.test_size=0.2]",
        "brf trees=100 [split.test_size=0.3]",
    ]


def test_job_params_are_the_method_keys_the_dataset_seeds_and_the_overrides():
    full = {
        "method.name": "brf",
        "method.n_estimators": 100,
        "dataset.name": "synthetic",
        "dataset.n_samples": 1000,
        "split.test_size": 0.2,
        "split.stratify": True,
        "seeds": 10,
        "stage": "run",
        "report.claims": "practical",
    }
    got = job_run_params(full, "method=brf split.test_size=0.2 +hydra.job.chdir=false")
    assert set(got) == {
        "method.name",
        "method.n_estimators",
        "dataset.name",
        "split.test_size",
        "seeds",
        "stage",
    }
    assert override_keys(["dataset=keel", "seeds=5", "~unit.seed"]) == {"dataset.name", "seeds"}


def test_job_runs_keep_only_the_params_that_differ_between_jobs():
    brf = {"method.name": "brf", "method.n_estimators": 100, "dataset.name": "pima", "seeds": 10}
    net = {"method.name": "weighted_ann", "method.epochs": 5, "dataset.name": "pima", "seeds": 10}
    trees10 = brf | {"method.n_estimators": 10}
    got = swept_params([brf, net, trees10])
    assert got == [
        {"method.name": "brf", "method.n_estimators": 100},
        {"method.name": "weighted_ann"},  # epochs: only one job has it, nothing to compare
        {"method.name": "brf", "method.n_estimators": 10},
    ]
    assert swept_params([brf]) == [brf]  # one job: nothing to compare against
