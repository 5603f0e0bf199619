"""The sweep's report: its finished seed runs read back from MLflow, and the ranges table.

Used at the end of a sweep and by ``imbsweep-report`` to rebuild any past sweep's table.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from imbsweep import cross_dataset, ranges, tracking


def seed_rows(sweep_id: str, experiment_ids: list[str] | None = None) -> pd.DataFrame:
    """Finished, non-skipped seed runs of a sweep as one row each (metrics + identifying tags)."""
    import mlflow

    filt = (
        f"tags.{tracking.TAG_SWEEP} = '{sweep_id}' and "
        f"tags.{tracking.TAG_LEVEL} = 'seed' and attributes.status = 'FINISHED'"
    )
    runs = mlflow.search_runs(
        experiment_ids=experiment_ids,
        filter_string=filt,
        search_all_experiments=not experiment_ids,
        max_results=50000,
        order_by=["attributes.start_time ASC"],
    )
    if runs.empty:
        return pd.DataFrame()
    if "tags.skipped" in runs:
        runs = runs[runs["tags.skipped"].isna()]
    out = pd.DataFrame(
        {
            "run_id": runs["run_id"],
            "label": runs[f"tags.{tracking.TAG_LABEL}"],
            "method": runs[f"tags.{tracking.TAG_METHOD}"],
            "dataset": runs[f"tags.{tracking.TAG_DATASET}"],
            "stage": runs.get(f"tags.{tracking.TAG_STAGE}", "run"),
            "seed": runs[f"tags.{tracking.TAG_SEED}"].astype(int),
            "job_id": runs["tags.mlflow.parentRunId"],
            "overrides": runs.get(f"tags.{tracking.TAG_OVERRIDES}", ""),
        }
    )
    for col in runs.columns:
        if col.startswith("metrics."):
            out[col[len("metrics.") :]] = runs[col]
    out["label"] = distinct_labels(out)
    return out.reset_index(drop=True)


def distinct_labels(rows: pd.DataFrame) -> pd.Series:
    """Run labels, extended where different jobs share one (e.g. a sweep over method.epochs).

    A label names the method and its main settings; when two jobs of a sweep differ only in
    other keys, the overrides that differ are appended so their seeds are never pooled.
    """
    labels = rows["label"].copy()
    keys = [k for k in ("dataset", "stage", "label") if k in rows]
    for _, g in rows.groupby(keys, sort=False):
        if g["job_id"].nunique() < 2:
            continue
        per_job = {
            j: set(str(o).split())
            for j, o in zip(g["job_id"], g["overrides"].fillna(""), strict=True)
        }
        common = set.intersection(*per_job.values())
        for job, ovr in per_job.items():
            extra = " ".join(sorted(ovr - common)) or job[:8]
            labels[g.index[g["job_id"] == job]] = f"{g['label'].iloc[0]} [{extra}]"
    return labels


def report(
    rows: pd.DataFrame,
    out_dir: Path,
    claims: str | None,
    do_plot: bool = True,
    title: str = "Ranges over seeds",
) -> dict[str, Path]:
    """Write ranges.md / ranges.csv (and ranges.png) to ``out_dir``; print the Markdown.

    In a tuning sweep the result is the defaults next to the best parameters (same seeds, same
    splits); trials are how it got there, not the result, so they are left out of the table.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    final = rows[rows["stage"].isin(["default", "best"])]
    if not final.empty:
        title += ": defaults vs tuned"
        order = {"default": 0, "best": 1}
        rows = final.assign(label=final["stage"] + ": " + final["label"])
        rows = rows.sort_values("stage", key=lambda s: s.map(order), kind="stable")
    if rows["dataset"].nunique() > 1:
        rows = rows.sort_values("dataset", kind="stable")  # one block of methods per dataset
    summary = ranges.summarize(rows, ranges.load_claims(claims))
    md = f"## {title}\n\n{ranges.to_markdown(summary)}"
    files = {"ranges.md": out_dir / "ranges.md", "ranges.csv": out_dir / "ranges.csv"}
    if rows["dataset"].nunique() > 1 and rows["label"].nunique() > 1:
        # A benchmark across datasets: how the methods rank, the literature's summary table.
        metrics = [m for m in cross_dataset.REPORT_METRICS if m in rows]
        by_label = rows.assign(method=rows["label"])
        ranks, wtl = cross_dataset.cross_dataset_summary(by_label, metrics)
        md += "\n## Across datasets\n\n" + cross_dataset.to_markdown(ranks, wtl)
        files["ranks.csv"] = out_dir / "ranks.csv"
        files["win_tie_loss.csv"] = out_dir / "win_tie_loss.csv"
        ranks.to_csv(files["ranks.csv"])
        wtl.to_csv(files["win_tie_loss.csv"], index=False)
    files["ranges.md"].write_text(md)
    summary.to_csv(files["ranges.csv"], index=False)
    if do_plot and not rows.empty:
        files["ranges.png"] = ranges.plot(rows, out_dir / "ranges.png")
    print("\n" + md, flush=True)
    return files
