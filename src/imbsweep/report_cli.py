"""``imbsweep-report``: rebuild a sweep's ranges table from MLflow, for any past sweep."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imbsweep import credentials, export, report, stopped_units, tracking
from imbsweep.errors import InputError, exit_bad_input

PROG = "imbsweep-report"


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except InputError as exc:
        exit_bad_input(PROG, exc)


def _check_args(args: argparse.Namespace, uri: str) -> None:
    """What the arguments can get wrong, before MLflow is read (or a store created)."""
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise InputError(f"--out {args.out}: is a file, not a directory; pass a directory")
    if args.claims not in (None, "none", ""):
        from imbsweep.ranges import load_claims

        try:
            load_claims(args.claims)
        except InputError as exc:
            raise InputError(f"--claims {args.claims}: {exc}") from None
    db = tracking.sqlite_path(uri)
    if db is not None and not db.is_file():
        # MLflow would create an empty store there (and its directories).
        raise InputError(
            f"no MLflow store at {db} (from {uri}); pass --tracking-uri or set "
            "MLFLOW_TRACKING_URI to the store `imbsweep` wrote"
        )


def _main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="imbsweep-report",
        description="Rebuild the ranges table of a sweep from its runs in MLflow.",
    )
    ap.add_argument("sweep_id", nargs="?", help="the sweep run's id (default: the latest sweep)")
    ap.add_argument("--experiment", default="imbsweep")
    ap.add_argument(
        "--tracking-uri",
        default=None,
        help="default: $MLFLOW_TRACKING_URI or the project's sqlite store",
    )
    ap.add_argument(
        "--claims",
        default=None,
        help="claimed ranges to compare ('none' for none; default: what the sweep used)",
    )
    ap.add_argument(
        "--out",
        default=None,
        help="directory for ranges.md/.csv/.png (default: reports/<sweep id>)",
    )
    ap.add_argument(
        "--metric",
        default=None,
        help="headline metric of the paired and remedy tables (default: what the sweep used)",
    )
    ap.add_argument(
        "--format",
        choices=export.FORMATS,
        default=None,
        help="also write the tables for a paper: tables.tex (booktabs) or tables.md, and the "
        "critical-difference diagram as PDF and SVG (sweeps over several datasets)",
    )
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--list", action="store_true", help="list recent sweeps and exit")
    args = ap.parse_args(argv)

    uri = args.tracking_uri or tracking.default_tracking_uri()
    _check_args(args, uri)
    import mlflow
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(uri)
    try:
        exp = mlflow.get_experiment_by_name(args.experiment)
    except MlflowException as exc:  # an unsupported URI, a server that does not answer
        raise InputError(
            f"cannot read the MLflow store {credentials.redact(uri)}: "
            f"{str(exc).strip().splitlines()[0][:300]}"
        ) from None
    if exp is None:
        print(
            f"imbsweep-report: no experiment '{args.experiment}' in {credentials.redact(uri)}. "
            "Run `imbsweep` "
            "first, or pass --experiment/--tracking-uri.",
            file=sys.stderr,
        )
        return 2
    sweeps = mlflow.search_runs(
        [exp.experiment_id],
        filter_string=f"tags.{tracking.TAG_LEVEL} = 'sweep'",
        order_by=["attributes.start_time DESC"],
        max_results=20 if args.list else 1000,
    )
    if args.list:
        for _, r in sweeps.iterrows():
            print(f"{r['run_id']}  {r['status']:<9} {r.get('tags.mlflow.runName', '')}")
        return 0
    sweep_id = args.sweep_id
    if sweep_id is None:
        if sweeps.empty:
            print(
                f"imbsweep-report: no sweep runs in experiment '{args.experiment}'.",
                file=sys.stderr,
            )
            return 2
        sweep_id = sweeps.iloc[0]["run_id"]
    rows = report.seed_rows(sweep_id, [exp.experiment_id])
    if rows.empty:
        print(
            f"imbsweep-report: sweep {sweep_id} has no finished seed runs "
            "(see `imbsweep-report --list`).",
            file=sys.stderr,
        )
        return 2
    out = Path(args.out) if args.out else Path("reports") / sweep_id
    # What the sweep itself used, unless the command line says otherwise.
    row = sweeps[sweeps["run_id"] == sweep_id]

    def used(tag: str) -> str | None:
        col = f"tags.{tag}"
        return row[col].iloc[0] if col in row and len(row) and row[col].notna().iloc[0] else None

    claims = args.claims if args.claims is not None else used("report_claims") or "practical"
    claims = None if claims in ("none", "") else claims
    metric = args.metric or used("report_metric") or "minority_f1"
    if metric not in rows:
        known = sorted(c for c in rows.columns if c in report.KNOWN_METRICS)
        print(f"imbsweep-report: --metric {metric}: not a metric of this sweep; one of {known}")
        return 2
    files = report.report(
        rows,
        out,
        claims,
        not args.no_plot,
        title=f"Ranges over seeds, sweep {sweep_id}",
        metric=metric,
        unfinished=stopped_units.unfinished_rows(sweep_id, [exp.experiment_id]),
    )
    written = list(files.values())
    if args.format:
        written += export.write(files, out, args.format, metric)
    print(f"written: {', '.join(str(p) for p in written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
