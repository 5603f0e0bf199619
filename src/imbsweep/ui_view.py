"""The MLflow UI's runs page opened on the answer: headline columns shown, best first.

MLflow 3.17's runs page keeps its columns in the browser, not in the URL; the URL carries only
the search (``searchFilter``, ``orderByKey``, ``orderByAsc``, ...) or a ``viewStateShareKey``
naming an experiment tag ``mlflow.sharedViewState.<key>`` that holds the whole view as JSON
(what the UI's own "Share" button writes). The sweep writes that tag for its experiment, and the
URL printed at its end and by ``make ui`` opens on it:

- columns: the headline metric (``report.metric``), the practical's class-1 metrics and balanced
  accuracy, and the tag ``best_method`` (set on sweep runs by :func:`record_best`);
- sorted on the headline metric, best first: sweep rows by their best method's value, each
  sweep's job runs best first when expanded.
"""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

SHARE_KEY = "imbsweep"  # the URL's viewStateShareKey and the tag's suffix
TAG_PREFIX = "mlflow.sharedViewState."
TAG_BEST_METHOD = "best_method"  # on the sweep run: the best label on the headline metric
DEFAULT_URL = "http://127.0.0.1:5000"
# Shown after the headline metric, when they are not it.
COLUMNS = ("minority_f1", "minority_precision", "minority_recall", "balanced_accuracy")
LOWER_IS_BETTER = ("brier", "log_loss")


def _key(kind: str, name: str) -> str:
    return f"{kind}.`{name}`"  # the UI's canonical column key


def view_state(metric: str) -> dict:
    """The runs page's shared view: columns and sort for ``metric``."""
    metrics = list(dict.fromkeys((metric, *COLUMNS)))
    return {
        "selectedColumns": [_key("tags", TAG_BEST_METHOD), *(_key("metrics", m) for m in metrics)],
        "orderByKey": _key("metrics", metric),
        "orderByAsc": metric in LOWER_IS_BETTER,
    }


def set_view(client, experiment_id: str, metric: str) -> None:
    """Write the shared view on the experiment (the latest sweep's headline wins)."""
    client.set_experiment_tag(experiment_id, TAG_PREFIX + SHARE_KEY, json.dumps(view_state(metric)))


def runs_url(experiment_id: str, base: str = DEFAULT_URL) -> str:
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?viewStateShareKey={SHARE_KEY}"


def best(rows: pd.DataFrame, metric: str) -> tuple[str, float] | None:
    """The best label on ``metric`` and its value.

    One dataset: the best mean over seeds (k-fold repeats pooled). Several: the lowest mean rank
    over datasets, with the mean of its per-dataset means.
    """
    from imbsweep.pooling import repeat_rows

    if rows.empty or metric not in rows:
        return None
    means = repeat_rows(rows).groupby(["dataset", "label"], sort=False)[metric].mean().dropna()
    if means.empty:
        return None
    asc = metric in LOWER_IS_BETTER
    if means.index.get_level_values("dataset").nunique() == 1:
        s = means.droplevel("dataset")
        label = s.idxmin() if asc else s.idxmax()
        return str(label), float(s[label])
    ranks = means.groupby(level="dataset").rank(ascending=asc).groupby(level="label").mean()
    label = ranks.idxmin()
    return str(label), float(means.xs(label, level="label").mean())


def record_best(tracker, sweep_id: str, rows: pd.DataFrame, metric: str) -> None:
    """The sweep run's answer in the runs table: tag ``best_method`` and the headline metric
    under its own name (the best method's value), so the sweep row is not "-"."""
    b = best(rows, metric)
    if b is not None:
        tracker.set_tags(sweep_id, {TAG_BEST_METHOD: b[0]})
        tracker.log_metrics(sweep_id, {metric: b[1]})


def main(argv: list[str] | None = None) -> int:
    """Print the runs-page URL of an experiment (``make ui``)."""
    p = argparse.ArgumentParser(prog="python -m imbsweep.ui_view", description=main.__doc__)
    p.add_argument("--tracking-uri", required=True)
    p.add_argument("--experiment", default="imbsweep")
    p.add_argument("--base", default=DEFAULT_URL)
    args = p.parse_args(argv)
    from pathlib import Path

    from mlflow import MlflowClient

    db = args.tracking_uri.removeprefix("sqlite:///")
    if db != args.tracking_uri and not Path(db).exists():  # reading would create the store
        print(f"{args.base}  (no store at {db} yet: run a sweep first)")
        return 0
    try:
        exp = MlflowClient(args.tracking_uri).get_experiment_by_name(args.experiment)
    except Exception as exc:  # no store yet: the UI still opens
        exp = None
        print(f"(no store at {args.tracking_uri}: {exc})", file=sys.stderr)
    if exp is None:
        print(f"{args.base}  (no experiment '{args.experiment}' yet: run a sweep first)")
        return 0
    print(runs_url(exp.experiment_id, args.base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
