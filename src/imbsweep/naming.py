"""What a person sees in the MLflow UI: run names and the params of job runs.

The runs table truncates names after ~25 characters, so a seed run's name starts with its
seed; a job run's name carries its dataset when the sweep has more than one. Job runs log only
the params whose values differ between the jobs created together (:func:`swept_params`), so
the compare view's columns and parallel-coordinates plot open on what was swept; the job's whole
config is its ``config.json`` artifact. Seed runs keep the whole resolved config as params (the
report pairs runs on it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Always on a job run, besides the method's keys (``method.*``).
JOB_PARAM_KEYS = ("dataset.name", "seeds", "stage")
CONFIG_GROUPS = ("dataset", "method")


def seed_run_name(
    label: str, seed: int, fold: int | None = None, seeds: Sequence[int] = (), folds: int = 0
) -> str:
    """``seed=3 smote_ann k=5`` (``seed=3/2 ...``: fold 2 of seed 3's k-fold repeat): the seed
    and fold survive the UI's truncation.

    ``seeds`` (the job's seeds) and ``folds`` (its folds per seed) set the numbers' width: the
    UI and MLflow's search sort names as text, so with seeds past 9 they are zero-padded
    (``seed=02`` before ``seed=10``). The width follows the job's largest seed, not a fixed one:
    a 10-seed sweep keeps the names it always had, and a seed like 12345 still sorts.
    """
    s = str(seed).zfill(len(str(max(seeds, default=0))))
    if fold is None:
        return f"seed={s} {label}"
    return f"seed={s}/{str(fold).zfill(len(str(max(folds - 1, 0))))} {label}"


def job_run_name(label: str, dataset: str, several_datasets: bool) -> str:
    """``brf trees=100 | pima``; the dataset only when the sweep has more than one."""
    return f"{label} | {dataset}" if several_datasets else label


def job_run_names(jobs: list[tuple[str, str, list[str]]]) -> list[str]:
    """Names of a sweep's job runs from (label, dataset, overrides), each telling its job apart.

    The dataset joins the label when the sweep has several; jobs that would still share a name
    (a sweep over a key the label leaves out, e.g. ``split.test_size``) get the overrides that
    differ between them, as the report's labels do.
    """
    several = len({d for _, d, _ in jobs}) > 1
    names = [job_run_name(label, d, several) for label, d, _ in jobs]
    groups: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        groups.setdefault(n, []).append(i)
    for name, idx in groups.items():
        if len(idx) < 2:
            continue
        sets = [set(jobs[i][2]) for i in idx]
        common = set.intersection(*sets)
        for i, own in zip(idx, sets, strict=True):
            extra = " ".join(sorted(own - common))
            names[i] = f"{name} [{extra}]" if extra else name
    return names


def override_keys(overrides: str | list[str]) -> set[str]:
    """The config keys a job's Hydra overrides set (``method=brf`` -> ``method.name``)."""
    items = overrides.split() if isinstance(overrides, str) else overrides
    out = set()
    for o in items:
        key = o.split("=", 1)[0].lstrip("+~")
        if "=" not in o or key.startswith(("hydra.", "unit.")):
            continue
        # A config group choice (`dataset=pima`) selects a preset: its name is the param.
        out.add(f"{key}.name" if key in CONFIG_GROUPS else key)
    return out


def job_run_params(full: dict[str, Any], overrides: str | list[str] = ()) -> dict[str, Any]:
    """From a seed run's params (``runner.job_params``): the ones that tell job runs apart."""
    keep = set(JOB_PARAM_KEYS) | override_keys(overrides)
    return {k: v for k, v in full.items() if k.startswith("method.") or k in keep}


def swept_params(per_job: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each job's params cut to the keys whose values differ between the jobs.

    A key only some jobs have (one method's own setting, e.g. ``method.n_estimators`` of a forest
    beside a net) is not what was swept unless two jobs that have it disagree. With one job there
    is nothing to compare: its params stay as :func:`job_run_params` gave them.
    """
    if len(per_job) < 2:
        return per_job
    keys = dict.fromkeys(k for p in per_job for k in p)
    differ = {k for k in keys if len({str(p[k]) for p in per_job if k in p}) > 1}
    return [{k: v for k, v in p.items() if k in differ} for p in per_job]
