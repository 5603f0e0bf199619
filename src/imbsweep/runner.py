"""One job: a (dataset, method) config evaluated over its seeds, one MLflow run per seed.

Everything that can be checked is checked before the first run is opened: the config, the data,
the method pairing.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from imbsweep import tracking, unit_guard
from imbsweep.config import check_config, method_label, resolve_seeds
from imbsweep.data import Dataset, halve, load_dataset, split_dataset
from imbsweep.evaluation import (
    CALIBRATION_METRICS,
    METRICS,
    calibration,
    confusion,
    evaluate,
    pr_curve,
    prior_corrected,
    reliability,
    report_dict,
    report_text,
)
from imbsweep.intervals import PREDICTIONS, write_predictions
from imbsweep.methods import SkipMethod, check_method_data, fit_method, method_values
from imbsweep.naming import job_run_params, seed_run_name
from imbsweep.pooling import repeat_rows
from imbsweep.stats import sample_std
from imbsweep.threshold import oof_threshold

log = logging.getLogger(__name__)


@dataclass
class JobResult:
    """Per-seed metrics of one job, and its id in MLflow."""

    label: str
    method: str
    dataset: str
    seeds: list[int]
    metrics: list[dict[str, float]] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)
    run_id: str | None = None

    def objective(self, metric: str, statistic: str, split: str) -> float:
        return objective_value(self.metrics, metric, statistic, split)


def objective_value(
    metrics: list[dict[str, float]], metric: str, statistic: str, split: str
) -> float:
    """One objective from a job's per-seed (k-fold: per-repeat) metrics; NaN if none has it."""
    key = f"val_{metric}" if split == "validation" else metric
    vals = np.array([m[key] for m in metrics if key in m], dtype=float)
    if vals.size == 0:
        return math.nan
    if statistic == "mean_minus_std":
        return float(vals.mean() - sample_std(vals))  # ddof=1, as every table
    return float(vals.mean())


def objectives(
    cfg: dict, metrics: list[dict[str, float]]
) -> tuple[float | list[float], dict[str, float]]:
    """What a sweeper optimises for a job (``cfg.objective``, on validation rows when the split
    has them), and the same as metrics to log on the job run."""
    obj = cfg["objective"]
    split = "validation" if cfg["split"]["validation_size"] > 0 else "test"
    if isinstance(obj["metric"], list):
        # A multi-objective study: one value per metric, in the sweeper's direction order.
        value = [objective_value(metrics, m, obj["statistic"], split) for m in obj["metric"]]
        return value, {f"objective.{m}": v for m, v in zip(obj["metric"], value, strict=True)}
    value = objective_value(metrics, obj["metric"], obj["statistic"], split)
    return value, {"objective": value}


# Config keys that say how a run is bookkept, not what it computes: never logged as params.
BOOKKEEPING_KEYS = ("tracking", "unit", "resume")


def job_params(cfg: dict) -> dict[str, Any]:
    """The resolved config, flattened, with only the method keys this method reads."""
    skip = ("method", *BOOKKEEPING_KEYS)
    params = tracking.flatten({k: v for k, v in cfg.items() if k not in skip})
    params.update({f"method.{k}": v for k, v in method_values(cfg["method"]).items()})
    return params


def data_params(ds: Dataset) -> dict[str, Any]:
    """What was actually loaded: the same digest means the same rows and labels."""
    out = {
        "data.digest": ds.digest(),
        "data.n_rows": len(ds.y),
        "data.n_features": ds.X.shape[1],
        "data.n_minority": ds.n_minority,
        "data.positive_label": ds.positive_label,
    }
    if ds.extra.get("one_vs_rest"):
        out["data.one_vs_rest"] = True
    return out


def aggregate(
    metrics: list[dict[str, float]], intervals: dict[str, tuple[float, float]] | None = None
) -> dict[str, float]:
    """A job run's metrics from its seeds' (docs/tracking.md, "Metrics of a job run").

    Every seed metric's mean under the seed run's own name, so one column of the MLflow UI
    compares job and seed runs. The spread only where it is read: ``_std`` (sample, as the
    ranges table), ``_min``, ``_max`` for the evaluation metrics (and their ``val_`` twins) and
    ``fit_seconds``; ``_ci_low``, ``_ci_high`` where ``intervals`` gives them (the interval that
    matches the protocol, :mod:`imbsweep.intervals`). Under k-fold, ``metrics`` holds one
    pooled row per repeat.
    """
    out: dict[str, float] = {}
    if not metrics:
        return out
    for key in dict.fromkeys(k for m in metrics for k in m):
        vals = np.array([m[key] for m in metrics if key in m], dtype=float)
        out[key] = float(vals.mean())
        evaluated = key.removeprefix("val_") in (*METRICS, *CALIBRATION_METRICS)
        if evaluated or key == "fit_seconds":
            out[f"{key}_std"] = sample_std(vals)
            out[f"{key}_min"] = float(vals.min())
            out[f"{key}_max"] = float(vals.max())
        if key in (intervals or {}):
            out[f"{key}_ci_low"], out[f"{key}_ci_high"] = intervals[key]
    # Seeds whose model predicted no minority row on the test rows (F1 = 0 by default).
    out["n_seeds_no_positive"] = sum(m.get("predicted_positives", 1) == 0 for m in metrics)
    return out


def prepare(cfg: dict) -> Dataset:
    """Every check, then the data: what must pass before any MLflow run opens."""
    check_config(cfg)
    ds = load_dataset(cfg["dataset"])
    check_method_data(cfg["method"], ds)  # pairings that need the data (SMOTE-NC)
    return ds


def run_job(
    cfg: dict,
    tracker: tracking.Tracker,
    sweep_run_id: str | None = None,
    dataset: Dataset | None = None,
    overrides: str = "",
) -> JobResult:
    """Evaluate one config over its seeds. ``cfg`` is the resolved config as a plain dict.

    ``dataset``: data the caller already loaded (e.g. with :func:`prepare`); else
    :func:`prepare` runs here. Either way the data-dependent pairing checks run before any run
    opens (they are in-memory and cheap).
    ``overrides`` (the job's Hydra overrides) tells apart jobs whose labels coincide.
    """
    if dataset is None:
        ds = prepare(cfg)
    else:
        ds = dataset
        check_method_data(cfg["method"], ds)
    seeds = resolve_seeds(cfg["seeds"])
    mcfg = cfg["method"]
    label = method_label(mcfg)
    tags = job_tags(cfg, ds, overrides, sweep_run_id)
    result = JobResult(label=label, method=mcfg["name"], dataset=ds.name, seeds=seeds)
    params = {**job_params(cfg), **data_params(ds)}
    job_id = tracker.create_run(label, {**tags, tracking.TAG_LEVEL: "job"}, sweep_run_id)
    result.run_id = job_id
    try:
        tracker.log_params(job_id, job_run_params(params, overrides))
        t_start = time.perf_counter()
        from imbsweep.driver import unit_folds

        folds = unit_folds(cfg, ds)
        units = (
            [(s, f) for s in seeds for f in range(folds)] if folds else [(s, None) for s in seeds]
        )
        unit_metrics = []
        for i, (seed, fold) in enumerate(units):
            name = seed_run_name(label, seed, fold, seeds, folds)
            stags = {**tags, tracking.TAG_LEVEL: "seed", tracking.TAG_SEED: str(seed)}
            uparams = {**params, "seed": seed}
            if fold is not None:
                stags[tracking.TAG_FOLD] = str(fold)
                uparams["fold"] = fold
            run_id = tracker.create_run(name, stags, job_id)
            try:
                m, log_fn = run_seed(cfg, ds, seed, tracker, run_id, uparams, fold)
            except SkipMethod as exc:
                # Not an error of the code: the method cannot apply to this data.
                log.warning("%s: skipped (%s)", name, exc)
                result.skipped[seed] = str(exc)
                tracker.set_tags(run_id, {"skipped": str(exc)})
                tracker.end_run(run_id)
                continue
            except BaseException as exc:
                tracker.fail_run(run_id, exc)
                raise
            tracker.submit(log_fn, run_id)
            unit_metrics.append({**m, "seed": seed, "fold": fold})
            elapsed = time.perf_counter() - t_start
            eta = elapsed / (i + 1) * (len(units) - i - 1)
            log.info(
                "[%s] %s (%d/%d): F1=%.3f P=%.3f R=%.3f acc=%.3f  %.1fs, eta %.0fs",
                label,
                f"seed {seed}" + ("" if fold is None else f" fold {fold}"),
                i + 1,
                len(units),
                m["minority_f1"],
                m["minority_precision"],
                m["minority_recall"],
                m["accuracy"],
                m["fit_seconds"],
                eta,
            )
        tracker.drain()
        rows = unit_frame(unit_metrics, cfg["split"])
        result.metrics = [
            {k: v for k, v in r.items() if k not in _UNIT_KEYS and not k.startswith("params.")}
            for r in repeat_rows(rows).to_dict("records")
        ]
        agg = aggregate(result.metrics, unit_intervals(rows))
        agg["n_seeds"] = len(result.metrics)
        agg["n_skipped"] = len(result.skipped)
        tracker.log_metrics(job_id, agg)
        if result.skipped:
            tracker.set_tags(job_id, {"skipped": json.dumps(result.skipped)[:5000]})
    except BaseException as exc:
        tracker.close()  # earlier seeds finish logging before the job is marked FAILED
        tracker.fail_run(job_id, exc)
        raise
    tracker.close()
    tracker.end_run(job_id)
    return result


UNIT_KEYS = _UNIT_KEYS = ("seed", "fold", "job_id", "n_folds")


def unit_frame(unit_metrics: list[dict[str, Any]], split: dict) -> Any:
    """Unit metrics as the report's unit rows: seed, fold and the split params that say how
    the test rows were drawn (:func:`imbsweep.intervals.protocol`)."""
    import pandas as pd

    rows = pd.DataFrame(unit_metrics)
    if rows.empty:
        return rows
    rows["job_id"] = "job"
    if rows["fold"].isna().all():
        rows["fold"] = np.nan
    for key in ("vary_with_seed", "holdout", "test_size"):
        rows[f"params.split.{key}"] = str(split.get(key, ""))
    return rows


def unit_intervals(
    rows: Any, predictions: dict | None = None, repeats: Any = None
) -> dict[str, tuple[float, float]]:
    """``metric -> (low, high)``: the interval of each evaluation metric's mean, from one job's
    unit rows (``predictions`` and ``repeats`` as :func:`imbsweep.intervals.estimate` takes)."""
    from imbsweep import intervals

    if rows.empty:
        return {}
    return {
        key: (est.low, est.high)
        for key in METRICS
        if key in rows and (est := intervals.estimate(rows, key, predictions, repeats=repeats)).n
    }


def job_tags(cfg: dict, ds: Dataset, overrides: str, sweep_run_id: str | None) -> dict[str, str]:
    """Tags shared by a job run and its seed runs."""
    mcfg = cfg["method"]
    tags = {
        tracking.TAG_METHOD: mcfg["name"],
        tracking.TAG_DATASET: ds.name,
        tracking.TAG_STAGE: cfg.get("stage", "run"),
        tracking.TAG_LABEL: (cfg.get("tuning") or {}).get("label") or method_label(mcfg),
        tracking.TAG_OVERRIDES: overrides[:5000],
    }
    if sweep_run_id:
        tags[tracking.TAG_SWEEP] = sweep_run_id
    return tags


@functools.cache
def _tracker(settings: str) -> tracking.Tracker:
    # One per worker process and store: set-up (store checks, experiment lookup) happens once.
    return tracking.Tracker(**json.loads(settings))


def run_unit(cfg: dict, overrides: str = "") -> dict[str, Any]:
    """One unit of a sweep: one seed (or one fold of a seed's k-fold repeat) of one config, a
    unit run under the job run in ``cfg.unit``.

    The sweep driver created the job run and checked config and data; this runs in whichever
    process the launcher chose. Returns what the driver needs (status, run id, metrics). A
    failure marks the seed run FAILED (``error`` tag, ``error.txt``) and is raised again, so the
    launcher reports it to the driver.
    """
    unit = cfg["unit"]
    seed = int(unit["seed"])
    fold = None if unit.get("fold") is None else int(unit["fold"])
    ds = load_dataset(cfg["dataset"])
    check_method_data(cfg["method"], ds)
    settings = dict(cfg["tracking"])
    if unit.get("tracking_uri"):
        settings.update(uri=unit["tracking_uri"], experiment_id=unit.get("experiment_id"))
    tracker = _tracker(json.dumps(settings, sort_keys=True))
    tags = job_tags(cfg, ds, overrides, unit.get("sweep_id"))
    tags.update({tracking.TAG_LEVEL: "seed", tracking.TAG_SEED: str(seed)})
    if fold is not None:
        tags[tracking.TAG_FOLD] = str(fold)
    if unit.get("job_key"):
        tags[tracking.TAG_JOB_KEY] = unit["job_key"]
    # The job's seeds and folds: every unit of the job pads its numbers alike.
    from imbsweep.driver import unit_folds

    folds = 0 if fold is None else unit_folds(cfg, ds, warn=False)
    seeds = resolve_seeds(cfg["seeds"])
    name = seed_run_name(tags[tracking.TAG_LABEL], seed, fold, seeds, folds)
    # [issue 21] Once per identity however often Dask starts it; limits (unit_guard).
    tags.update(unit_guard.run_tags())
    if (earlier := unit_guard.begin(tracker, tags)) is not None:
        return earlier
    run_id = tracker.create_run(name, tags, unit.get("job_run_id"))
    unit_guard.started(tracker, run_id)
    params = {**job_params(cfg), **data_params(ds), "seed": seed}
    if fold is not None:
        params["fold"] = fold
    try:
        metrics, log_all = run_seed(cfg, ds, seed, tracker, run_id, params, fold)
    except SkipMethod as exc:
        log.warning("%s: skipped (%s)", name, exc)
        tracker.set_tags(run_id, {"skipped": str(exc)})
        tracker.end_run(run_id)
        return {
            "status": "skipped",
            "run_id": run_id,
            "seed": seed,
            "fold": fold,
            "reason": str(exc),
        }
    except BaseException as exc:
        tracker.fail_run(run_id, exc)
        raise
    try:
        if run_id:
            log_all()
    except BaseException as exc:
        tracker.fail_run(run_id, exc)
        raise
    if run_id and tracker.client.get_run(run_id).info.status != "RUNNING":
        # A resuming driver closed this run while an orphaned worker (of a killed driver) was
        # still finishing it; the resumed sweep runs the unit again, so this one stays closed.
        log.warning(
            "%s: run %s was closed by a resumed sweep; not marking it finished", name, run_id
        )
        return {"status": "superseded", "run_id": run_id, "seed": seed, "fold": fold}
    tracker.end_run(run_id)
    return {"status": "finished", "run_id": run_id, "seed": seed, "fold": fold, "metrics": metrics}


def run_seed(
    cfg: dict,
    ds: Dataset,
    seed: int,
    tracker: tracking.Tracker,
    run_id: str | None,
    params: dict[str, Any],
    fold: int | None = None,
) -> tuple[dict[str, float], Callable[[], None]]:
    """Fit on the training rows of this seed's split (or of ``fold`` of the seed's k-fold
    repeat), evaluate on its test (and validation) rows.

    Returns the metrics and a function that logs everything about this unit to its run.
    """
    split = split_dataset(ds, cfg["split"], seed, cfg.get("stage", "run"), fold)
    thr_rows = score_rows = split.validation
    mcfg = cfg["method"]
    oof = mcfg.get("threshold") == "tuned" and int(mcfg.get("threshold_cv", 0)) >= 2
    if oof:
        # Tuned on out-of-fold scores of the training rows (imbsweep.threshold.oof_threshold).
        mcfg = {**mcfg, "threshold": 0.5}
    elif cfg["method"].get("threshold") == "tuned" and split.validation is not None:
        # A threshold scored on the rows it was chosen on looks better than it is, and a tuning
        # objective would inherit that: choose it on one half, score on the other.
        thr_rows, score_rows = halve(ds, split.validation, seed)
    standardize = bool(cfg["dataset"].get("standardize", False))
    fitted = fit_method(
        mcfg,
        ds,
        split.train,
        seed,
        standardize=standardize,
        validation=thr_rows,  # used only to tune method.threshold=tuned
    )
    if oof:
        fitted.threshold, best = oof_threshold(
            mcfg,
            ds,
            split.train,
            seed,
            standardize,
            int(cfg["method"]["threshold_cv"]),
            cfg["method"].get("threshold_metric", "minority_f1"),
        )
        fitted.info["threshold_oof_score"] = best
    X_test, y_test = ds.X.iloc[split.test], ds.y[split.test]
    score = fitted.score(X_test)
    y_pred = (score > fitted.threshold).astype(np.int64)
    metrics = evaluate(y_test, y_pred, score)
    prior = fitted.counts_before[1] / sum(fitted.counts_before.values())
    fit_prior = fitted.info.get("fit_prior", prior)
    if abs(fit_prior - prior) > 1e-12:
        # The remedy moved the model's probabilities: calibration as fitted and as corrected.
        fixed = calibration(y_test, prior_corrected(score, prior, fit_prior))
        metrics.update({f"{k}_prior_corrected": v for k, v in fixed.items()})
    if score_rows is not None:
        Xv, yv = ds.X.iloc[score_rows], ds.y[score_rows]
        sv = fitted.score(Xv)
        vm = evaluate(yv, (sv > fitted.threshold).astype(np.int64), sv)
        metrics.update({f"val_{k}": v for k, v in vm.items()})
    metrics["fit_seconds"] = fitted.fit_seconds
    metrics.update({f"train_class{c}": n for c, n in fitted.counts_before.items()})
    metrics.update({f"resampled_class{c}": n for c, n in fitted.counts_after.items()})
    metrics.update({f"test_class{c}": int((y_test == c).sum()) for c in (0, 1)})
    metrics.update({k: float(v) for k, v in fitted.info.items()})
    metrics["threshold"] = fitted.threshold
    metrics.update(split.facts())
    example = X_test.iloc[:5]
    sp = cfg["split"]
    fixed_split = sp.get("protocol", "kfold") == "holdout" and not sp.get("vary_with_seed", True)

    def log_all() -> None:
        tracker.log_params(run_id, params)
        tracker.log_model(run_id, fitted, example)  # before the metrics: see log_model
        tracker.log_metrics(run_id, metrics)
        cm = confusion(y_test, y_pred)
        tracker.log_files(
            run_id,
            {
                "classification_report.txt": report_text(y_test, y_pred),
                "classification_report.json": json.dumps(report_dict(y_test, y_pred), indent=2),
                "reliability.json": json.dumps(reliability(y_test, score)),
                "pr_curve.json": json.dumps(pr_curve(y_test, score)),
                # One fixed split: the report's intervals resample these test rows.
                **({PREDICTIONS: write_predictions(y_test, score, y_pred)} if fixed_split else {}),
                "confusion_matrix.json": json.dumps(
                    {
                        "labels": [0, 1],
                        "rows": "true",
                        "columns": "predicted",
                        "matrix": cm.tolist(),
                    },
                    indent=2,
                ),
            },
        )
        tracker.log_dataset(run_id, ds)

    return metrics, log_all


__all__ = ["METRICS", "JobResult", "aggregate", "run_job", "run_seed"]
