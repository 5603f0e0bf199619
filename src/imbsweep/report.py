"""The sweep's report: its finished seed runs read back from MLflow, and the tables built from them.

- ``ranges.md`` / ``ranges.csv``: spread over seeds with confidence intervals (imbsweep.ranges);
- ``paired.csv``: every pair of methods on the same dataset, over the same seeds and folds
  (or splits): the mean difference with the interval and p-value that match the protocol
  (imbsweep.intervals), Holm-adjusted per dataset and metric;
- across datasets: mean ranks, win/tie/loss, Friedman / Iman-Davenport, Nemenyi, Holm, Wilcoxon
  (``significance.csv``) and a critical-difference diagram (``cd_diagram.png``);
- ``reliability.png``: a reliability diagram per method (one-dataset sweeps);
- ``report.html``: all of it on one self-contained page (imbsweep.report_html).

Used at the end of a sweep and by ``imbsweep-report`` to rebuild any past sweep's report.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from imbsweep import (
    cross_dataset,
    intervals,
    ranges,
    remedies,
    report_html,
    stats,
    stopped_units,
    tracking,
    verdict,
)
from imbsweep.evaluation import CALIBRATION_METRICS, COUNTS, METRICS
from imbsweep.pooling import repeat_rows

log = logging.getLogger(__name__)

# Metrics compared pair by pair within a dataset (higher is better, except the calibration ones).
# Every metric a headline can be (report.metric, imbsweep-report --metric).
KNOWN_METRICS = (*METRICS, *CALIBRATION_METRICS)
# Beside the practical's four in ranges.md: threshold-free and balanced metrics.
MORE_METRICS = ("average_precision", "roc_auc", "mcc", "gmean")
PAIRED_METRICS = ("minority_f1", "balanced_accuracy", "average_precision", "roc_auc", "brier")
LOWER_IS_BETTER = ("brier", "log_loss")
SPLIT_PARAMS = intervals.SPLIT_PARAMS
# Reading each seed run's reliability.json costs one artifact download: only for small sweeps.
MAX_RELIABILITY_RUNS = 400
# A multi-dataset sweep gets one reliability panel per dataset, up to this many datasets.
MAX_RELIABILITY_PANELS = 12


def seed_rows(
    sweep_id: str, experiment_ids: list[str] | None = None, job_id: str | None = None
) -> pd.DataFrame:
    """Finished, non-skipped unit runs of a sweep (or of its job run ``job_id``) as one row
    each (metrics + identifying tags).

    ``fold`` is the unit's fold under ``split.protocol=kfold`` (NaN for holdout units);
    :func:`imbsweep.pooling.repeat_rows` turns a repeat's folds into one row.
    """
    import mlflow

    filt = (
        f"tags.{tracking.TAG_SWEEP} = '{sweep_id}' and "
        f"tags.{tracking.TAG_LEVEL} = 'seed' and attributes.status = 'FINISHED'"
    )
    if job_id:
        filt += f" and tags.mlflow.parentRunId = '{job_id}'"
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
            "fold": pd.to_numeric(
                runs.get(f"tags.{tracking.TAG_FOLD}", pd.Series(np.nan, index=runs.index)),
                errors="coerce",
            ),
            "job_id": runs["tags.mlflow.parentRunId"],
            "overrides": runs.get(f"tags.{tracking.TAG_OVERRIDES}", ""),
        }
    )
    for col in runs.columns:
        if col.startswith("metrics."):
            out[col[len("metrics.") :]] = runs[col]
        elif col.startswith("params."):  # the setting: claims and pairing check it
            out[col] = runs[col]
    # Each job's seeds in seed order, jobs in the order they started: means and sums then add
    # up in the same order however the units were scheduled (same table, to the last digit).
    job_order = out.groupby("job_id", sort=False, dropna=False).ngroup()
    out = out.assign(_job=job_order).sort_values(["_job", "seed", "fold"], kind="stable")
    out = out.drop(columns="_job")
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


def paired_comparisons(
    rows: pd.DataFrame, metrics=PAIRED_METRICS, predictions: dict | None = None
) -> pd.DataFrame:
    """Every pair of labels on each dataset (and stage), paired unit by unit.

    ``rows``: unit rows (:func:`seed_rows`). Both jobs must have seen the same data and, at each
    seed (and fold), the same test rows (checked on the logged params where present). The
    difference, its interval and p-value match how the test rows were drawn
    (:func:`imbsweep.intervals.paired`): the corrected repeated k-fold t, the corrected
    resampled t over holdout splits, or a paired bootstrap over the one fixed split's test rows
    (``predictions``). Holm's adjustment runs over all pairs of one (dataset, stage, metric).
    Wins and losses count seeds (k-fold repeats, pooled).
    """
    keys = [k for k in ("dataset", "stage") if k in rows]
    # Only the columns a pair reads: the seed rows carry hundreds of params, and copying them
    # per pair and metric took minutes on a 117-dataset sweep.
    needed = [*keys, "label", "job_id", "seed", "fold", "run_id", *metrics, *SPLIT_PARAMS]
    needed += [*cross_dataset.CLASS_COUNTS, *COUNTS]
    rows = rows[[c for c in dict.fromkeys(needed) if c in rows]]
    out = []
    for group, g in rows.groupby(keys, sort=False):
        by_label = dict(list(g.groupby("label", sort=False)))
        labels = list(by_label)
        pairs = [
            (a, b)
            for i, a in enumerate(labels)
            for b in labels[i + 1 :]
            if intervals.same_test_rows(by_label[a], by_label[b])
        ]
        reps = {lab: repeat_rows(by_label[lab]).set_index("seed") for lab in labels}
        ident = dict(zip(keys, group if isinstance(group, tuple) else (group,), strict=True))
        for metric in [m for m in metrics if m in g]:
            fam = [
                rec
                for a, b in pairs
                if (rec := _pair(by_label, reps, a, b, metric, predictions)) is not None
            ]
            if fam:
                f = pd.DataFrame([{**ident, **r} for r in fam])
                f["p_holm"] = stats.holm(f["p"])
                out.append(f)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def _pair(by_label, reps, a: str, b: str, metric: str, predictions) -> dict | None:
    ra, rb = reps[a][metric], reps[b][metric]
    est = intervals.paired(by_label[a], by_label[b], metric, predictions, repeats=(ra, rb))
    if not np.isfinite(est.mean):
        return None
    d = (ra - rb).dropna()
    better = -1 if metric in LOWER_IS_BETTER else 1
    return {
        "metric": metric,
        "method": a,
        "opponent": b,
        "n_seeds": len(d),
        "n_units": est.n,
        "mean_diff": est.mean,
        "ci_low": est.low,
        "ci_high": est.high,
        "wins": int((better * d > 0).sum()),
        "losses": int((better * d < 0).sum()),
        "test": est.method,
        "p": est.p,
    }


def paired_markdown(pairs: pd.DataFrame, metric: str = "minority_f1") -> str:
    """The paired table of one metric, per dataset."""
    p = pairs[pairs["metric"] == metric] if not pairs.empty else pairs
    if p.empty:
        return ""
    tests = " / ".join(sorted(set(p["test"])))
    lines = [
        f"Paired comparisons on {metric}: every pair on the same test rows (seeds and folds). "
        f"Diff = first minus second, with its 95% interval and p-value from the {tests}; "
        "p-values Holm-adjusted over the pairs of each dataset; wins/losses count seeds."
        + (
            f" Bootstrap p-values stop at 2/({intervals.REPLICATES}+1) = "
            f"{2 / (intervals.REPLICATES + 1):.3f}."
            if (p["test"] == intervals.BOOTSTRAP).any()
            else ""
        ),
        "",
    ]
    multi = "dataset" in p and p["dataset"].nunique() > 1
    head = (["Dataset"] if multi else []) + ["Pair", "Seeds", "Diff (95% CI)", "Wins/losses"]
    head += ["p (Holm)"]
    lines += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in p.itertuples():
        ci = f" ({r.ci_low:+.3f}, {r.ci_high:+.3f})" if np.isfinite(r.ci_low) else ""
        cells = ([str(r.dataset)] if multi else []) + [
            f"{r.method} vs {r.opponent}",
            str(r.n_seeds),
            f"{r.mean_diff:+.3f}{ci}",
            f"{r.wins}/{r.losses}",
            f"{r.p:.3g} ({r.p_holm:.3g})",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def by_headline(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Datasets in the sweep's order, and within each the methods best first on ``metric``."""
    if metric not in rows:
        return rows
    reps = repeat_rows(rows)
    mean = reps.groupby(["dataset", "label"], sort=False)[metric].mean()
    sign = 1.0 if metric in LOWER_IS_BETTER else -1.0
    ds_pos = {d: i for i, d in enumerate(dict.fromkeys(rows["dataset"]))}
    key = [
        (ds_pos[d], sign * mean.get((d, lab), np.nan))
        for d, lab in zip(rows["dataset"], rows["label"], strict=True)
    ]
    order = sorted(
        range(len(rows)), key=lambda i: (key[i][0], np.nan_to_num(key[i][1], nan=np.inf))
    )
    return rows.iloc[order].reset_index(drop=True)


def load_predictions(rows: pd.DataFrame) -> dict[str, dict[str, np.ndarray]]:
    """Test predictions of the fixed-split unit runs (the bootstrap's input), by run id.

    Only units of one fixed split need them; runs logged before they were written are left
    out (their intervals say they cover the model seed only).
    """
    import mlflow

    if rows.empty or "run_id" not in rows:
        return {}
    fixed = [
        g
        for _, g in rows.groupby(["dataset", "label"], sort=False)
        if intervals.protocol(g) == "fixed"
    ]
    if not fixed:
        return {}
    out = {}
    with tracking.quiet_downloads():
        for run_id in pd.concat(fixed)["run_id"]:
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    path = mlflow.artifacts.download_artifacts(
                        f"runs:/{run_id}/{intervals.PREDICTIONS}", dst_path=tmp
                    )
                    out[run_id] = intervals.read_predictions(Path(path).read_bytes())
            except Exception:  # runs logged before predictions were
                continue
    return out


def reliability_data(rows: pd.DataFrame) -> dict[str, dict]:
    """Per label, the seed runs' reliability bins added up (read from each run's artifact)."""
    import mlflow

    with tracking.quiet_downloads():
        return _reliability_data(rows, mlflow)


def _reliability_data(rows: pd.DataFrame, mlflow) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for label, g in rows.groupby("label", sort=False):
        acc = None
        for run_id in g["run_id"]:
            try:
                r = json.loads(mlflow.artifacts.load_text(f"runs:/{run_id}/reliability.json"))
            except Exception:  # runs logged before reliability.json existed
                continue
            if acc is None:
                acc = {k: np.asarray(v, dtype=float) for k, v in r.items()}
            else:
                for k in ("count", "score_sum", "positives"):
                    acc[k] += np.asarray(r[k], dtype=float)
        if acc is not None:
            out[str(label)] = acc
    return out


def reliability_plot(data: dict[str, dict], path: Path) -> Path:
    """Observed positive rate against mean predicted probability, per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    _reliability_axes(ax, data, "Reliability on test rows, all seeds pooled")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def reliability_grid(per_dataset: dict[str, dict[str, dict]], path: Path) -> Path:
    """One reliability panel per dataset (seeds pooled within a dataset, never across).

    Datasets differ in base rate and in how scores spread, so a curve pooled over them would
    mostly show the largest sets; one panel each keeps every dataset's calibration visible.
    """
    import math

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(per_dataset)
    cols = min(n, 3)
    rows_ = math.ceil(n / cols)
    fig, axes = plt.subplots(rows_, cols, figsize=(4.2 * cols, 4 * rows_), squeeze=False)
    for ax, (name, data) in zip(axes.flat, per_dataset.items(), strict=False):
        _reliability_axes(ax, data, f"{name}: test rows, seeds pooled")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _reliability_axes(ax, data: dict[str, dict], title: str) -> None:
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="calibrated")
    for label, d in data.items():
        ok = d["count"] > 0
        ax.plot(
            d["score_sum"][ok] / d["count"][ok],
            d["positives"][ok] / d["count"][ok],
            marker="o",
            ms=3,
            label=label,
        )
    ax.set_xlabel("mean predicted probability (bin)")
    ax.set_ylabel("observed minority rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left")


def report(
    rows: pd.DataFrame,
    out_dir: Path,
    claims: str | None,
    do_plot: bool = True,
    title: str = "Ranges over seeds",
    predictions: dict | None = None,
    metric: str = "minority_f1",
    unfinished: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Write the report files to ``out_dir``; print the Markdown; return every file written.

    ``rows``: unit rows (:func:`seed_rows`); ``predictions``: their test predictions by run id
    (:func:`load_predictions`; read here when None and a fixed split needs them); ``metric``:
    the headline metric of the paired, remedy and cross-dataset tables (``report.metric``);
    ``unfinished``: the sweep's unit runs that failed or were killed
    (:func:`imbsweep.stopped_units.unfinished_rows`), counted per method beside the table.
    In a tuning sweep the result is the defaults next to the best parameters (same seeds, same
    splits); trials are how it got there, not the result, so they are left out of the table.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if predictions is None:
        predictions = load_predictions(rows)
    stopped = stopped_units.counts(rows, unfinished)
    # benchmark_tuned's rows are default and tuned (each outer fold its own study's best).
    final = rows[rows["stage"].isin(["default", "best", "tuned"])]
    note = ""
    if not final.empty:
        title += ": defaults vs tuned"
        order = {"default": 0, "best": 1, "tuned": 1}
        rows = final.assign(label=final["stage"] + ": " + final["label"])
        rows = rows.sort_values("stage", key=lambda s: s.map(order), kind="stable")
        rows = rows.assign(stage="final")  # default and best are paired below
        note = (
            "The study's best_value is the optimistic maximum over trials of a validation "
            "score (the best of many noisy tries), not what the best settings will score. The "
            "table re-measures defaults and best on test rows the study never saw, over the "
            "same seeds and splits; the paired tests below say whether they differ.\n\n"
        )
    rows = by_headline(rows, metric)
    summary = ranges.summarize(rows, ranges.load_claims(claims), predictions)
    reps = repeat_rows(rows)
    pair_metrics = tuple(dict.fromkeys((metric, *PAIRED_METRICS)))
    pairs = pd.DataFrame()
    if rows["label"].nunique() > 1:
        pairs = paired_comparisons(rows, pair_metrics, predictions=predictions)
    shown = tuple(dict.fromkeys((*report_html.HEADLINE, metric)))
    table = ranges.summarize(rows, None, predictions, shown)
    answer = verdict.sentences(table, pairs, rows, metric)
    md = f"## {title}\n\n{note}"
    md += f"### The answer\n\n{answer}\n### The table\n\n" if answer else ""
    md += ranges.to_markdown(summary)
    # The same intervals for the metrics the practical's table leaves out (report.html's table).
    more = [m for m in dict.fromkeys((*MORE_METRICS, metric)) if m in rows]
    md += ranges.more_markdown(table, [m for m in more if m not in ranges.TABLE_METRICS])
    files = {"ranges.md": out_dir / "ranges.md", "ranges.csv": out_dir / "ranges.csv"}
    if not stopped.empty:
        md += "\n### Units that did not finish\n\n" + stopped_units.to_markdown(stopped)
        files["stopped_units.csv"] = out_dir / "stopped_units.csv"
        stopped.to_csv(files["stopped_units.csv"], index=False)
    if "predicted_positives" in rows:
        none = reps[reps["predicted_positives"] == 0].groupby("label").size()
        if not none.empty:
            md += (
                "\nSeeds where the model predicted no minority row on the test rows: "
                + (", ".join(f"{k}: {v}" for k, v in none.items()))
                + ".\n"
            )
    if rows["label"].nunique() > 1:
        if not pairs.empty:
            files["paired.csv"] = out_dir / "paired.csv"
            pairs.to_csv(files["paired.csv"], index=False)
            if rows["dataset"].nunique() <= 3:  # per-dataset tables; the benchmark has the CSV
                head = "Best vs default, paired" if not final.empty else "Paired comparisons"
                md += f"\n## {head}\n\n" + paired_markdown(pairs, metric)
        effects = remedies.remedy_effects(rows, pair_metrics, predictions)
        if not effects.empty:
            files["remedy_effects.csv"] = out_dir / "remedy_effects.csv"
            effects.to_csv(files["remedy_effects.csv"], index=False)
            across = remedies.across_datasets(effects)
            if not across.empty:
                files["remedy_effects_across.csv"] = out_dir / "remedy_effects_across.csv"
                across.to_csv(files["remedy_effects_across.csv"], index=False)
            text = remedies.to_markdown(effects, across, metric)
            md += "\n## The remedy's own effect\n\n" + text if text else ""
    if rows["dataset"].nunique() > 1 and rows["label"].nunique() > 1:
        # A benchmark across datasets: how the methods rank, the literature's summary table.
        metrics = [m for m in dict.fromkeys((metric, *cross_dataset.REPORT_METRICS)) if m in rows]
        by_label = reps.assign(method=reps["label"])
        ranks, wtl = cross_dataset.cross_dataset_summary(by_label, metrics)
        md += "\n## Across datasets\n\n" + cross_dataset.to_markdown(ranks, wtl, metric)
        files["ranks.csv"] = out_dir / "ranks.csv"
        files["win_tie_loss.csv"] = out_dir / "win_tie_loss.csv"
        ranks.to_csv(files["ranks.csv"])
        wtl.to_csv(files["win_tie_loss.csv"], index=False)
        md += _significance(by_label, metrics, out_dir, files, do_plot)
        md += _within_families(by_label, metric, out_dir, files)
    files["ranges.md"].write_text(md)
    summary.to_csv(files["ranges.csv"], index=False)
    if do_plot and not rows.empty:
        files["ranges.png"] = ranges.plot(reps, out_dir / "ranges.png")
        n_ds = rows["dataset"].nunique()
        if "run_id" not in rows:
            pass
        elif len(rows) > MAX_RELIABILITY_RUNS or n_ds > MAX_RELIABILITY_PANELS:
            log.info(
                "reliability diagram skipped: more than %d runs or %d datasets",
                MAX_RELIABILITY_RUNS,
                MAX_RELIABILITY_PANELS,
            )
        elif n_ds == 1:
            data = reliability_data(rows)
            if data:
                files["reliability.png"] = reliability_plot(data, out_dir / "reliability.png")
        else:
            per = {str(d): reliability_data(g) for d, g in rows.groupby("dataset", sort=False)}
            per = {d: v for d, v in per.items() if v}
            if per:
                files["reliability.png"] = reliability_grid(per, out_dir / "reliability.png")
    if not rows.empty:
        files["report.html"] = report_html.write(
            rows,
            out_dir,
            files,
            title,
            note.strip(),
            plots=do_plot,
            summary=table,
            answer=answer,
            metric=metric,
        )
    print("\n" + md, flush=True)
    return files


def _within_families(rows: pd.DataFrame, metric: str, out_dir: Path, files: dict) -> str:
    """Rank tests among the methods of one model family (the net with and without remedies,
    the forests): across families a rank says as much about the model as about the remedy."""
    fam = {lab: remedies.family(g.iloc[0].to_dict()) for lab, g in rows.groupby("label")}
    parts, tables = [], []
    for name in dict.fromkeys(fam.values()):
        members = [lab for lab, f in fam.items() if f == name]
        if len(members) < 2:
            continue
        sub = rows[rows["label"].isin(members)]
        try:
            sig = cross_dataset.significance(sub, metric)
        except ValueError:
            continue
        f = sig["friedman"]
        ranks = ", ".join(f"{m} {r:.2f}" for m, r in f.avg_ranks.sort_values().items())
        if np.isfinite(f.pvalue):
            test = f"Friedman p = {f.pvalue:.3g}"
        else:
            w = sig["wilcoxon"].iloc[0]
            test = f"Wilcoxon p = {w['p_wilcoxon']:.3g}"
        parts.append(f"- {name}: mean ranks {ranks} over {f.n_datasets} datasets ({test}).")
        tables.append(sig["wilcoxon"].assign(family=name, friedman_p=f.pvalue))
    if not parts:
        return ""
    files["family_significance.csv"] = out_dir / "family_significance.csv"
    pd.concat(tables, ignore_index=True).to_csv(files["family_significance.csv"], index=False)
    return (
        f"\nWithin each model family on {metric} (the remedy's effect on its own model; the "
        "ranking above mixes remedies with models):\n\n" + "\n".join(parts) + "\n"
    )


def _significance(rows, metrics, out_dir: Path, files: dict, do_plot: bool) -> str:
    """Demsar's tests for each metric; Markdown for the first, CSV for all, the CD diagram."""
    md, tables = "", []
    for i, m in enumerate(metrics):
        try:
            sig = cross_dataset.significance(rows, m)
        except ValueError as exc:  # fewer than 2 complete datasets
            md += f"\nNo significance tests on {m}: {exc}.\n" if i == 0 else ""
            continue
        f = sig["friedman"]
        t = sig["wilcoxon"].assign(
            friedman_chi2=f.chi2,
            friedman_p=f.pvalue,
            iman_davenport_f=f.iman_davenport,
            iman_davenport_p=f.pvalue_id,
            nemenyi_cd=sig["cd"],
            p_nemenyi=[
                sig["nemenyi"].loc[a, b]
                for a, b in zip(sig["wilcoxon"]["method"], sig["wilcoxon"]["opponent"], strict=True)
            ],
        )
        tables.append(t)
        if i == 0:
            md += "\n" + cross_dataset.significance_markdown(sig)
            if do_plot:
                files["cd_diagram.png"] = stats.cd_diagram(
                    f.avg_ranks,
                    sig["nemenyi"],
                    out_dir / "cd_diagram.png",
                    f"{m}: mean rank over {f.n_datasets} datasets; bars join methods "
                    "Nemenyi does not separate",
                    sig["cd"],
                )
    if tables:
        files["significance.csv"] = out_dir / "significance.csv"
        pd.concat(tables, ignore_index=True).to_csv(files["significance.csv"], index=False)
    return md
