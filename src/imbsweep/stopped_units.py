"""Units that did not finish, counted per method: the report's "stopped by a limit" table.

A unit over ``hydra.launcher.unit_timeout`` or ``unit_memory`` is recorded FAILED with the tag
``unit_limit`` (:mod:`imbsweep.unit_guard`); other failures are FAILED without it. Their
runs are not in the ranges table, so a method that runs out of time on its hardest units looks
better than it is unless the count is shown beside it, as benchmark studies report timeouts
and crashes per method. A run KILLED or FAILED whose unit later finished (a worker that died,
a resumed sweep) is not counted: the unit has its result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from imbsweep import tracking
from imbsweep.unit_guard import TAG_LIMIT

# Column heads of the table, in order (the CSV keeps the same names in snake case).
KINDS = {"timeout": "Time limit", "memory": "Memory limit", "other": "Other failures"}


def _unit_key(df: pd.DataFrame) -> pd.Series:
    def num(col: str) -> pd.Series:
        v = df[col] if col in df else pd.Series(np.nan, index=df.index)  # holdout: no fold
        return pd.to_numeric(v, errors="coerce").fillna(-1).astype(int).astype(str)

    return (
        df["job_id"].astype(str)
        + "|"
        + df["stage"].astype(str)
        + "|"
        + num("seed")
        + "|"
        + num("fold")
    )


def unfinished_rows(sweep_id: str, experiment_ids: list[str] | None = None) -> pd.DataFrame:
    """The sweep's unit runs that ended FAILED or KILLED: label, dataset, ids and ``kind``."""
    import mlflow

    runs = mlflow.search_runs(
        experiment_ids=experiment_ids,
        filter_string=(
            f"tags.{tracking.TAG_SWEEP} = '{sweep_id}' and tags.{tracking.TAG_LEVEL} = 'seed' "
            "and attributes.status != 'FINISHED'"  # MLflow's IN is for run ids only
        ),
        search_all_experiments=not experiment_ids,
        max_results=50000,
    )
    if not runs.empty:
        runs = runs[runs["status"].isin(["FAILED", "KILLED"])]
    if runs.empty:
        return pd.DataFrame(columns=["label", "dataset", "job_id", "stage", "seed", "fold", "kind"])

    def tag(name: str, default=np.nan) -> pd.Series:
        col = f"tags.{name}"
        return runs[col] if col in runs else pd.Series(default, index=runs.index)

    limit = tag(TAG_LIMIT, None)
    return pd.DataFrame(
        {
            "label": tag(tracking.TAG_LABEL),
            "dataset": tag(tracking.TAG_DATASET),
            "job_id": tag("mlflow.parentRunId"),
            "stage": tag(tracking.TAG_STAGE, "run"),
            "seed": pd.to_numeric(tag(tracking.TAG_SEED), errors="coerce"),
            "fold": pd.to_numeric(tag(tracking.TAG_FOLD), errors="coerce"),
            "kind": limit.where(limit.isin(["timeout", "memory"]), "other"),
        }
    ).reset_index(drop=True)


def counts(finished: pd.DataFrame, unfinished: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and method: units finished, stopped by each limit, failed otherwise.

    ``finished``: the report's unit rows (:func:`imbsweep.report.seed_rows`); ``unfinished``:
    :func:`unfinished_rows`. Empty when every unit finished.
    """
    if unfinished is None or unfinished.empty:
        return pd.DataFrame()
    u = unfinished.copy()
    if not finished.empty and "job_id" in finished:
        u = u[~_unit_key(u).isin(set(_unit_key(finished)))]  # the unit has its result
        # The report's labels (made distinct per job where jobs share one), by job run.
        by_job = finished.drop_duplicates("job_id").set_index("job_id")["label"]
        u["label"] = u["job_id"].map(by_job).fillna(u["label"])
    if u.empty:
        return pd.DataFrame()
    u = u.drop_duplicates(["job_id", "stage", "seed", "fold"], keep="last")
    c = u.groupby(["dataset", "label", "kind"], sort=False).size().unstack("kind", fill_value=0)
    for kind in KINDS:
        if kind not in c:
            c[kind] = 0
    done = (
        finished.groupby(["dataset", "label"], sort=False).size()
        if not finished.empty
        else pd.Series(dtype=int)
    )
    out = c[list(KINDS)].reset_index()
    out.insert(
        2,
        "finished",
        [int(done.get((d, lab), 0)) for d, lab in zip(out["dataset"], out["label"], strict=True)],
    )
    return out


def to_markdown(table: pd.DataFrame) -> str:
    """Per method (per dataset when there are few): finished units and what stopped the others."""
    if table.empty:
        return ""
    multi = table["dataset"].nunique() > 1
    many = table["dataset"].nunique() > 3
    if many:  # a benchmark: per method over datasets, and on how many datasets it happened
        g = table.groupby("label", sort=False)
        t = g[["finished", *KINDS]].sum()
        t["datasets"] = g.size()
        t = t.reset_index()
    else:
        t = table
    head = (["Dataset"] if multi and not many else []) + ["Method", "Finished"]
    head += list(KINDS.values()) + (["Datasets affected"] if many else [])
    lines = [
        "Units that did not finish (not in the tables above; a method stopped on its hardest "
        "units looks better than it is). Limits: hydra.launcher.unit_timeout / unit_memory.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + " --- |" * len(head),
    ]
    for r in t.to_dict("records"):
        cells = ([str(r["dataset"])] if multi and not many else []) + [
            str(r["label"]),
            str(r["finished"]),
            *(str(r[k]) for k in KINDS),
            *([str(r["datasets"])] if many else []),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
