"""The user's own table: ``dataset=file dataset.path=data.csv dataset.target=label``.

CSV (also ``.tsv``/``.txt``, compressed ones recognised by content) or Parquet. Every problem with
the file is found at load time, before any MLflow run opens, and reported in one ConfigError
(:class:`FileProblems` for several), each naming the problem and the fix. What was done to which
column (categorical, dropped, converted, imputed) is logged once, by the process the user started.

Keys (``conf/dataset/file.yaml``; defaults in :class:`FileConf`):

- ``path``: relative paths resolve against the directory ``imbsweep`` was launched from (Hydra 1.3
  with ``hydra.job.chdir=false``, this project's setting, keeps that as the working directory; if a
  user turns chdir on, Hydra's original cwd is used instead).
- ``target``: the label column; strings, ints, floats or bools (none missing or blank).
- ``positive``: the label that becomes class 1. ``null``: the rarer class (a tie is an error).
  With more than two classes an explicit ``positive`` means one-vs-rest (that class against all
  the others); without one it is an error listing the classes.
- ``sep``, ``decimal``: ``null`` guesses them from the first lines (:func:`guess_format`).
- ``encoding``: ``null`` is UTF-8 (a byte-order mark is skipped); another encoding is an error
  naming the first byte that does not decode, and ``cp1252``/``latin-1`` as the likely fix.
- ``categorical``: columns to one-hot encode (fitted on training rows only, by
  ``methods.build_preprocessor``). ``null``: the string, category and bool columns.
- ``drop``: columns to ignore (ids, free text). Columns without any value are dropped too.
- ``impute``: missing feature values are left in ``Dataset.X`` and filled by an imputer inside the
  pipeline, fitted on training rows only (``numeric``: median, ``categorical``: most frequent by
  default); ``null`` refuses them. Infinities are always an error.
- ``dates``: date/time columns become numbers (:func:`date_features`) or, with ``drop``, are
  dropped.
- ``max_categories``: a categorical column with more distinct values is an error (an id column
  one-hot encoded would be one dense column per row).
- ``normalize_labels``: ``true`` strips surrounding spaces from text labels and ignores their case
  (``yes``, ``Yes``, ``YES``, ``yes `` become one class ``yes``). ``false`` (default): labels that
  differ only that way are an error, never merged silently.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd
from omegaconf import MISSING
from pandas.api import types as pdt

from imbsweep.datasets.base import Dataset, register
from imbsweep.errors import ConfigError

log = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
COMPRESSION = (".gz", ".bz2", ".xz", ".zip", ".zst")
_DATE_LIKE = re.compile(r"^\s*(\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{1,2}:\d{2})")


def _base_dir() -> Path:
    """Where the user launched from (see the module docstring)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            from hydra.utils import get_original_cwd

            return Path(get_original_cwd())
    except (ImportError, ValueError):
        pass
    return Path(os.getcwd())


USAGE = "e.g. dataset=file dataset.path=data.csv dataset.target=label"


def resolve_path(path: object) -> Path:
    if not isinstance(path, str | os.PathLike) or str(path).strip() in ("", "???"):
        raise ConfigError("dataset.path", path, f"the path of a CSV or Parquet file, {USAGE}")
    p = Path(path).expanduser()
    base = _base_dir()
    full = p if p.is_absolute() else base / p
    if not full.is_file():
        where = "" if p.is_absolute() else f" (relative paths resolve against {base})"
        raise ConfigError(
            "dataset.path",
            str(path),
            "an existing CSV or Parquet file",
            f"{full} {'is a directory' if full.is_dir() else 'does not exist'}{where}; "
            "fix the path or pass an absolute one",
        )
    return full


def file_format(path: Path) -> str:
    """``parquet``, ``csv`` or ``tsv`` from the name; anything else is a ConfigError."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSION:
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in PARQUET_SUFFIXES and len(suffixes) == len(path.suffixes):
        return "parquet"
    if last in CSV_SUFFIXES:
        return "tsv" if last == ".tsv" else "csv"
    raise ConfigError(
        "dataset.path",
        str(path),
        f"a file ending in one of {list(CSV_SUFFIXES + PARQUET_SUFFIXES)} "
        f"(CSV ones optionally compressed: {list(COMPRESSION)})",
        f"'{path.name}' has an unsupported extension; export it as CSV or Parquet",
    )


# Compressed files recognised by content, so that e.g. a gzip'd file named data.csv reads too.
_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bz2",
    b"\xfd7zXZ\x00": "xz",
    b"PK\x03\x04": "zip",
    b"\x28\xb5\x2f\xfd": "zstd",
}
_SEPARATORS = {",": ",", ";": ";", "\t": "\\t", "|": "|"}
_COMMA_DECIMAL = re.compile(r"^\s*[-+]?\d+,\d+\s*$")
_POINT_DECIMAL = re.compile(r"^\s*[-+]?\d*\.\d+\s*$")


def _compression(path: Path) -> str | None:
    with open(path, "rb") as fh:
        head = fh.read(8)
    return next((kind for magic, kind in _MAGIC.items() if head.startswith(magic)), None)


def _head_bytes(path: Path, compression: str | None, n: int = 1 << 16) -> bytes | None:
    """The first ``n`` bytes of the (decompressed) file; None if it cannot be decompressed here."""
    import bz2
    import gzip
    import lzma
    import zipfile

    try:
        if compression is None:
            with open(path, "rb") as fh:
                return fh.read(n)
        if compression == "zip":
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
                if len(names) != 1:
                    return None  # pandas says what is wrong with it
                with zf.open(names[0]) as fh:
                    return fh.read(n)
        opener = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}.get(compression)
        if opener is None:
            return None
        with opener(path, "rb") as fh:
            return fh.read(n)
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile):
        return None


def _encoding_problem(data: bytes, encoding: str) -> str | None:
    """Where ``data`` stops decoding as ``encoding``: the line and its bytes, or None."""
    for i, line in enumerate(data.split(b"\n")[:-1] or [data], start=1):
        try:
            line.decode(encoding)
        except UnicodeDecodeError as exc:
            bad = line[exc.start : exc.start + 1]
            return f"line {i} has the byte 0x{bad.hex()} ({line[:60]!r})"
        except LookupError:
            return None
    return None


def _sample_rows(text: str, sep: str) -> list[list[str]]:
    import csv

    lines = text.splitlines()[:50]
    if len(lines) > 1:
        lines = lines[:-1]  # the last may be cut off mid-line
    try:
        return list(csv.reader(lines, delimiter=sep))
    except csv.Error:
        return []


def guess_format(text: str, default_sep: str) -> tuple[str, str]:
    """``(sep, decimal)`` for a CSV whose first lines are ``text``.

    The default separator when it splits the header into several columns and every sampled row
    into as many; else the first of ``; \\t |`` that does; else the default (the loader then says
    what it read). A decimal comma when the separator is not a comma and sampled values are
    numbers such as ``1,5`` but none such as ``1.5``.
    """
    sep = default_sep
    for cand in dict.fromkeys([default_sep, *_SEPARATORS]):
        rows = [r for r in _sample_rows(text, cand) if r]
        if rows and len(rows[0]) > 1 and all(len(r) == len(rows[0]) for r in rows):
            sep = cand
            break
    decimal = "."
    if sep != ",":
        cells = [c for r in _sample_rows(text, sep)[1:] for c in r]
        if any(_COMMA_DECIMAL.match(c) for c in cells) and not any(
            _POINT_DECIMAL.match(c) for c in cells
        ):
            decimal = ","
    return sep, decimal


def read_table(path: Path, cfg: dict, notes: list[str] | None = None) -> pd.DataFrame:
    """The file as a frame; what could not be read is a ConfigError naming the fix.

    ``cfg`` keys used: ``sep`` and ``decimal`` (null: guessed from the first lines),
    ``encoding`` (null: UTF-8, a byte-order mark is skipped). ``notes`` gets what was guessed.
    """
    fmt = file_format(path)
    shown = str(cfg.get("path", path))
    if fmt == "parquet":
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                "dataset.path",
                shown,
                "a readable Parquet file",
                f"reading it failed: {type(exc).__name__}: {str(exc)[:300]}",
            ) from exc
    encoding = cfg.get("encoding") or "utf-8"
    compression = _compression(path)
    head = _head_bytes(path, compression)
    if head is not None and not head.strip():
        raise ConfigError(
            "dataset.path", shown, "a file with a header and rows", "the file is empty"
        )
    sep, decimal = cfg.get("sep"), cfg.get("decimal")
    default_sep = "\t" if fmt == "tsv" else ","
    if head is not None and (sep is None or decimal is None):
        text = head.decode(encoding, errors="replace")
        guessed_sep, guessed_decimal = guess_format(text, sep or default_sep)
        if sep is None and guessed_sep != default_sep:
            notes is None or notes.append(
                f"separator {_SEPARATORS[guessed_sep]!r} (set dataset.sep to choose)"
            )
        if decimal is None and guessed_decimal != ".":
            notes is None or notes.append("decimal comma (set dataset.decimal to choose)")
        sep, decimal = sep or guessed_sep, decimal or guessed_decimal
    sep, decimal = sep or default_sep, decimal or "."
    kw = {
        "sep": sep,
        "decimal": decimal,
        "encoding": encoding,
        "compression": compression or "infer",
    }
    try:
        df = pd.read_csv(path, **kw)
        if any(re.search(r"\.\d+$", str(c)) for c in df.columns):
            # pandas renames a repeated name `a` to `a.1`: read the header as written.
            raw = pd.read_csv(path, header=None, nrows=1, dtype=str, **kw).iloc[0]
            counts = pd.Series([str(v) for v in raw]).value_counts()
            df.attrs["duplicate_columns"] = {str(k): int(v) for k, v in counts.items() if v > 1}
        return df
    except pd.errors.EmptyDataError as exc:
        raise ConfigError(
            "dataset.path", shown, "a file with a header and rows", "the file is empty"
        ) from exc
    except UnicodeDecodeError as exc:
        where = _encoding_problem(_head_bytes(path, compression, 1 << 30) or b"", encoding)
        raise ConfigError(
            "dataset.encoding",
            cfg.get("encoding"),
            "the file's text encoding (null: UTF-8)",
            f"{shown} is not {encoding}: {where or exc.reason}. A file saved by Excel or an older "
            "system is often Windows-1252/Latin-1: set dataset.encoding=cp1252 (or latin-1), "
            "or save the file as UTF-8",
        ) from exc
    except LookupError as exc:
        raise ConfigError(
            "dataset.encoding", encoding, "a Python codec name, e.g. utf-8, cp1252, latin-1"
        ) from exc
    except (pd.errors.ParserError, OSError, ValueError, EOFError) as exc:
        raise ConfigError(
            "dataset.path",
            shown,
            f"a readable {fmt.upper()} file",
            f"reading it failed: {type(exc).__name__}: {str(exc)[:300]}; check dataset.sep "
            f"(read with {_SEPARATORS.get(sep, sep)!r})",
        ) from exc


def _columns_text(cols) -> str:
    cols = [str(c) for c in cols]
    shown = ", ".join(repr(c) for c in cols[:30])
    return shown + (f", ... ({len(cols)} in all)" if len(cols) > 30 else "")


def _sep_hint(df: pd.DataFrame) -> str:
    if df.shape[1] == 1:
        head = str(df.columns[0])
        for s, name in ((";", ";"), ("\t", "\\t"), ("|", "|")):
            if s in head:
                return f"; the file was read as one column: try dataset.sep='{name}'"
    return ""


def _labels_text(counts: pd.Series) -> str:
    return ", ".join(f"{k!r}: {int(v)} rows" for k, v in counts.items())


def _match_label(labels: list, positive: object):
    """The label equal to ``positive``: exact, then as text, then as a number (1 == 1.0)."""
    for lab in labels:
        if type(lab) is type(positive) and lab == positive:
            return lab
    for lab in labels:
        if str(lab) == str(positive):
            return lab
    try:
        p = float(positive)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    for lab in labels:
        try:
            if float(lab) == p:
                return lab
        except (TypeError, ValueError):
            continue
    return None


def _py(v):
    return v.item() if isinstance(v, np.generic) else v


def _label_key(v: object) -> object:
    return v.strip().casefold() if isinstance(v, str) else v


def spelling_groups(labels: list) -> list[list]:
    """Labels that differ only in case or surrounding spaces, as groups of two or more."""
    groups: dict[object, list] = {}
    for lab in labels:
        groups.setdefault(_label_key(lab), []).append(lab)
    return [g for g in groups.values() if len(g) > 1]


def normalize_labels(col: pd.Series) -> tuple[pd.Series, dict[str, list[str]]]:
    """Text labels stripped and case-folded; returns the column and what was merged into what."""
    out = col.map(_label_key)
    groups = spelling_groups([_py(v) for v in col.dropna().unique()])
    merged = {str(_label_key(g[0])): [str(v) for v in g] for g in groups}
    return out, merged


def _spellings_error(target: str, counts: pd.Series, groups: list[list]) -> ConfigError:
    shown = "; ".join(", ".join(f"{v!r} ({int(counts[v])} rows)" for v in g) for g in groups)
    return ConfigError(
        "dataset.target",
        target,
        "labels that are distinct classes, not spellings of one label",
        f"column {target!r} has labels that differ only in case or surrounding spaces: {shown}. "
        "They would be counted as different classes. Fix the spelling in the file, or set "
        "dataset.normalize_labels=true to strip spaces and ignore case (each group becomes one "
        "class)",
    )


def encode_target(
    col: pd.Series, target: str, positive: object, normalize: bool = False
) -> tuple[np.ndarray, str, dict]:
    """``y`` in {0, 1}, the positive label as text, and facts to record.

    ``normalize``: strip and case-fold text labels first (``dataset.normalize_labels``); without
    it, labels that would merge that way are an error.
    """
    blank = col.map(lambda v: isinstance(v, str) and not v.strip()).astype(bool)
    n_missing = int((col.isna() | blank).sum())
    if n_missing:
        raise ConfigError(
            "dataset.target",
            target,
            "a label column without missing values",
            f"{n_missing} of {len(col)} rows have no label (empty or blank); drop those rows from "
            "the file (rows without a label cannot be trained on or scored)",
        )
    merged: dict[str, list[str]] = {}
    if normalize:
        col, merged = normalize_labels(col)
        positive = _label_key(positive)
        for into, spellings in merged.items():
            _say(f"target {target!r}: labels {spellings} merged into {into!r}")
    counts = col.value_counts(sort=True)
    counts.index = [_py(v) for v in counts.index]
    labels = list(counts.index)
    groups = spelling_groups(labels)
    if groups:
        raise _spellings_error(target, counts, groups)
    if len(labels) < 2:
        raise ConfigError(
            "dataset.target",
            target,
            "a column with two classes",
            f"every row has the label {labels[0]!r}: nothing to classify; check dataset.target",
        )
    one_vs_rest = False
    if positive is None:
        if len(labels) > 2:
            raise ConfigError(
                "dataset.positive",
                None,
                "a label to treat as positive when the target has more than two classes",
                f"column {target!r} has {len(labels)} classes ({_labels_text(counts)}); "
                f"set e.g. dataset.positive={labels[-1]!r} to classify that class against all the "
                "others (one-vs-rest)",
            )
        if counts.iloc[0] == counts.iloc[1]:
            raise ConfigError(
                "dataset.positive",
                None,
                "an explicit positive label when both classes are equally frequent",
                f"{_labels_text(counts)}; set dataset.positive to one of {labels}",
            )
        pos = labels[-1]  # the rarer class
        how = "inferred (rarer class)"
    else:
        pos = _match_label(labels, positive)
        if pos is None:
            raise ConfigError(
                "dataset.positive",
                positive,
                f"one of the labels in column {target!r}: {labels}",
                f"{_labels_text(counts)}; or null to use the rarer class",
            )
        how = "explicit"
        one_vs_rest = len(labels) > 2
        if one_vs_rest:
            _say(f"target {target!r}: {pos!r} against the other {len(labels) - 1} classes")
    y = (col == pos).to_numpy(dtype=np.int64)
    n_pos = int(y.sum())
    if n_pos < 2:
        raise ConfigError(
            "dataset.positive",
            positive,
            "a positive class with at least 2 rows (one for training, one for testing)",
            f"label {pos!r} has {n_pos} row(s)",
        )
    extra = {
        "positive_from": how,
        "one_vs_rest": one_vs_rest,
        "class_counts": {str(k): int(v) for k, v in counts.items()},
    }
    if merged:
        extra["labels_merged"] = merged
    if n_pos > len(y) - n_pos:
        # Every minority_* metric would describe the majority class: refuse, and say the fix.
        raise ConfigError(
            "dataset.positive",
            positive,
            "the rarer class (the metrics are named minority_*)",
            f"label {pos!r} is the majority ({n_pos} of {len(y)} rows; {_labels_text(counts)}); "
            f"set dataset.positive={labels[-1]!r} or null (the rarer class)",
        )
    return y, str(pos), extra


_TIME_ONLY = re.compile(r"^\s*\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*$")
_ISO_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}")
NUMERIC_IMPUTE = ("median", "mean", "most_frequent", "zero")
CATEGORICAL_IMPUTE = ("most_frequent", "missing")
DATES = ("numeric", "drop")


def _is_date_dtype(col: pd.Series) -> bool:
    return (
        pdt.is_datetime64_any_dtype(col)
        or isinstance(col.dtype, pd.PeriodDtype)
        or pdt.is_timedelta64_dtype(col)
    )


def _date_like(col: pd.Series) -> bool:
    sample = col.dropna().astype(str).head(200)
    return len(sample) > 0 and bool(sample.map(lambda s: bool(_DATE_LIKE.match(s))).all())


def is_date_column(col: pd.Series) -> bool:
    """Dates or times: by dtype (Parquet) or as text (``2024-01-31``, ``31/01/2024``, ``12:30``)."""
    if _is_date_dtype(col):
        return True
    kind = pdt.infer_dtype(col, skipna=True)
    if kind in ("datetime", "datetime64", "date", "time", "timedelta", "period"):
        return True
    return kind == "string" and _date_like(col)


def date_features(col: pd.Series, name: str) -> tuple[dict[str, pd.Series], str | None]:
    """Numeric columns for a date/time column, or a problem naming values that are no dates.

    Dates become ``<name>_days`` (days since 1970-01-01, fractional with a time),
    ``<name>_month`` and ``<name>_weekday`` (0 = Monday), plus ``<name>_hour`` when any value
    has a time of day; times alone ``<name>_hours``, durations ``<name>_seconds``. A missing
    date is missing in each (imputed like any missing value).
    """
    import warnings

    if pdt.is_timedelta64_dtype(col):
        return {f"{name}_seconds": col.dt.total_seconds()}, None
    present = col.notna()
    if col.dtype == object or pdt.is_string_dtype(col):
        text = col.astype("string").str.strip()
        if text[present].map(lambda v: bool(_TIME_ONLY.match(v))).all():
            padded = text.where(text.str.count(":") != 1, text + ":00")
            hours = pd.to_timedelta(padded, errors="coerce").dt.total_seconds() / 3600
            return {f"{name}_hours": hours.astype(np.float64)}, None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "could not infer format"
            iso = bool(_ISO_DATE.match(str(text[present].iloc[0])))
            when = pd.to_datetime(text, errors="coerce", format="ISO8601" if iso else None)
            if not iso and (when.isna() & present).any():
                when = pd.to_datetime(text, errors="coerce", dayfirst=True)
        bad = when.isna() & present
        if bad.any():
            odd = ", ".join(repr(v) for v in col[bad].unique()[:3])
            return {}, (
                f"holds dates/times as text, but {int(bad.sum())} value(s) are not dates in its "
                f"format (e.g. {odd}); fix them in the file or drop the column with "
                f"dataset.drop=[{name}]"
            )
    elif isinstance(col.dtype, pd.PeriodDtype):
        when = col.dt.to_timestamp()
    else:
        when = pd.to_datetime(col, errors="coerce")
    if getattr(when.dt, "tz", None) is not None:
        when = when.dt.tz_convert("UTC").dt.tz_localize(None)
    days = (when - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
    out = {
        f"{name}_days": days.astype(np.float64),
        f"{name}_month": when.dt.month.astype(np.float64),
        f"{name}_weekday": when.dt.day_of_week.astype(np.float64),
    }
    minutes = when.dt.hour * 60 + when.dt.minute
    if (minutes.fillna(0) != 0).any():
        out[f"{name}_hour"] = (minutes / 60).astype(np.float64)
    return out, None


def _problem(col: pd.Series, categorical: bool) -> str | None:
    """Why the encoder or the scaler cannot take this column, or None."""
    kind = pdt.infer_dtype(col, skipna=True)
    if kind.startswith("mixed") or kind in ("bytes", "complex", "decimal", "interval"):
        types = sorted({type(v).__name__ for v in col.dropna().head(1000)})
        return f"holds values of mixed or unsupported types ({', '.join(types)})"
    if not categorical and not (pdt.is_numeric_dtype(col) or pdt.is_bool_dtype(col)):
        return "is not numeric"
    return None


def _mostly_numbers(col: pd.Series) -> str | None:
    """A text column whose values are numbers but for a few: a missing-value code or a typo."""
    values = col.dropna()
    num = pd.to_numeric(values, errors="coerce")
    n_bad = int(num.isna().sum())
    if len(values) == 0 or n_bad == 0 or n_bad > 0.2 * len(values):
        return None
    odd = ", ".join(repr(v) for v in values[num.isna()].unique()[:5])
    return f"holds numbers except for {n_bad} row(s) with {odd}"


def _list_key(cfg: dict, key: str) -> list[str] | None:
    v = cfg.get(key)
    if v is None:
        return None
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list | tuple) or not all(isinstance(c, str) for c in v):
        raise ConfigError(f"dataset.{key}", v, "a list of column names, e.g. [colA, colB]")
    return list(v)


def impute_strategies(cfg: dict) -> dict[str, str] | None:
    """``dataset.impute`` checked: ``{"numeric": ..., "categorical": ...}``, or None (refuse)."""
    imp = cfg.get("impute")
    if imp is None:
        return None
    if not isinstance(imp, dict):
        raise ConfigError(
            "dataset.impute", imp, "null or {numeric: median, categorical: most_frequent}"
        )
    out = {"numeric": imp.get("numeric", "median"), "categorical": imp.get("categorical")}
    out["categorical"] = out["categorical"] or "most_frequent"
    if out["numeric"] not in NUMERIC_IMPUTE:
        raise ConfigError("dataset.impute.numeric", out["numeric"], f"one of {NUMERIC_IMPUTE}")
    if out["categorical"] not in CATEGORICAL_IMPUTE:
        raise ConfigError(
            "dataset.impute.categorical", out["categorical"], f"one of {CATEGORICAL_IMPUTE}"
        )
    return out


class FileProblems(ConfigError):
    """Every problem found in one file, reported together (each with its own fix)."""

    def __init__(self, path: str, problems: list[ConfigError]):
        self.key, self.value, self.allowed = "dataset.path", path, "a file imbsweep can use"
        self.problems = problems
        lines = "\n".join(f"  {i}. {p}" for i, p in enumerate(problems, start=1))
        ValueError.__init__(
            self, f"dataset.path={path!r}: {len(problems)} problems, each with its fix:\n{lines}"
        )


def _missing_text(per_col: pd.Series) -> str:
    return ", ".join(f"{c!r} ({int(n)})" for c, n in per_col.items())


def build_features(
    df: pd.DataFrame,
    cfg: dict,
    target: str,
    path: str,
    problems: list[ConfigError] | None = None,
    notes: dict[str, list[str]] | None = None,
):
    """The feature frame and its categorical columns.

    Date/time columns become numbers (or are dropped, ``dataset.dates``); missing values are
    left for the pipeline's imputer (``dataset.impute``). Every column the encoders cannot take
    is a ConfigError appended to ``problems`` (raised at once without that list); ``notes``
    collects what was done to which columns, for the console.
    """
    raise_now = problems is None
    problems = [] if problems is None else problems
    notes = {} if notes is None else notes

    def fail(err: ConfigError) -> None:
        if raise_now:
            raise err
        problems.append(err)

    drop = _list_key(cfg, "drop") or []
    unknown = [c for c in drop if c not in df.columns]
    if unknown:
        fail(
            ConfigError(
                "dataset.drop",
                drop,
                f"columns of the file: {_columns_text(df.columns)}",
                f"not found: {unknown}",
            )
        )
    if target in drop:
        fail(
            ConfigError(
                "dataset.drop", drop, "columns other than the target", f"{target!r} is the target"
            )
        )
    drop = [c for c in drop if c in df.columns and c != target]
    if drop:
        notes.setdefault("dropped", []).extend(f"{c} (dataset.drop)" for c in drop)
    X = df.drop(columns=[c for c in [target, *drop] if c in df.columns]).reset_index(drop=True)
    empty = [c for c in X.columns if X[c].isna().all()]
    if empty:
        X = X.drop(columns=empty)
        notes.setdefault("dropped", []).extend(f"{c} (no values)" for c in empty)
    if X.shape[1] == 0:
        fail(ConfigError("dataset.drop", drop, "to leave at least one feature column"))
        return X, ()
    explicit = _list_key(cfg, "categorical")
    if explicit is not None:
        unknown = [c for c in explicit if c not in X.columns]
        if unknown:
            fail(
                ConfigError(
                    "dataset.categorical",
                    explicit,
                    f"feature columns of the file: {_columns_text(X.columns)}",
                    f"not found among the features: {unknown}",
                )
            )
        explicit = [c for c in explicit if c in X.columns]

    # Missing values and infinities, counted in the file's own columns.
    num = X.select_dtypes("number")
    inf = np.isinf(num.astype("float64")).sum()
    inf = inf[inf > 0]
    if len(inf):
        fail(
            ConfigError(
                "dataset.path",
                path,
                "features without infinite values",
                f"infinite values per column: {_missing_text(inf)}; replace them in the file "
                "(an empty cell is imputed) or drop the columns with dataset.drop=[...]",
            )
        )
    missing = X.isna().sum()
    missing = missing[missing > 0]
    strategies = impute_strategies(cfg)
    if len(missing) and strategies is None:
        n_rows = int(X.isna().any(axis=1).sum())
        fail(
            ConfigError(
                "dataset.impute",
                None,
                "imputation for features with missing values",
                f"{n_rows} of {len(X)} rows have missing values, per column: "
                f"{_missing_text(missing)}. Leave dataset.impute at its default (median for "
                "numbers, the most frequent value for categories, fitted on training rows only), "
                "or drop those rows or columns (dataset.drop=[...])",
            )
        )

    # Dates and times: numbers (or dropped), before the categorical columns are chosen.
    dates = cfg.get("dates") or "numeric"
    if dates not in DATES:
        fail(ConfigError("dataset.dates", dates, f"one of {DATES}"))
        dates = "numeric"
    columns: dict[str, pd.Series] = {}
    for c in X.columns:
        if (explicit is not None and c in explicit) or not is_date_column(X[c]):
            columns[c] = X[c]
            continue
        if dates == "drop":
            notes.setdefault("dropped", []).append(f"{c} (dates; dataset.dates=drop)")
            continue
        made, why = date_features(X[c], c)
        if why is not None:
            fail(
                ConfigError(
                    "dataset.path",
                    path,
                    "feature columns that are numbers or categories",
                    f"column {c!r} {why}",
                )
            )
            continue
        columns.update(made)
        notes.setdefault("converted", []).append(f"{c} -> {', '.join(made)}")
    X = pd.DataFrame(columns)
    if len(missing):
        kept = [c for c in missing.index if c in df.columns and c not in empty]
        by_kind: dict[str, list[str]] = {}
        for c in kept:
            is_num = c not in X.columns or pdt.is_numeric_dtype(X[c])
            by_kind.setdefault("numeric" if is_num else "categorical", []).append(
                f"{c} ({int(missing[c])})"
            )
        if strategies is not None:
            key = "imputed in the pipeline (fitted on training rows)"
            for kind, cols in by_kind.items():
                notes.setdefault(key, []).append(f"{strategies[kind]}: {', '.join(cols)}")

    if explicit is not None:
        categorical = list(explicit)
    else:
        categorical = [
            c
            for c in X.columns
            if pdt.is_string_dtype(X[c])
            or pdt.is_object_dtype(X[c])
            or isinstance(X[c].dtype, pd.CategoricalDtype)
            or pdt.is_bool_dtype(X[c])
        ]
    bad: set[str] = set()  # columns already reported
    for c in X.columns:
        why = _problem(X[c], c in categorical)
        if why is None and explicit is None and c in categorical and pdt.is_string_dtype(X[c]):
            odd = _mostly_numbers(X[c])
            if odd is not None:
                fail(
                    ConfigError(
                        "dataset.path",
                        path,
                        "feature columns that are numbers or categories",
                        f"column {c!r} {odd}: fix those values in the file or make them empty "
                        "(missing), or list the column in dataset.categorical to treat every "
                        "value as a category",
                    )
                )
                bad.add(c)
                continue
        if why is None:
            continue
        bad.add(c)
        if c not in categorical and why == "is not numeric":
            fix = (
                "list it in dataset.categorical to one-hot encode it, or drop it with "
                f"dataset.drop=[{c}]"
            )
        else:
            fix = (
                "store one plain type per column in the file (all numbers or all text) or "
                f"drop it with dataset.drop=[{c}]"
            )
        fail(
            ConfigError(
                "dataset.path",
                path,
                "feature columns that are numbers or categories",
                f"column {c!r} {why}; {fix}",
            )
        )
    max_cat = cfg.get("max_categories")
    for c in categorical:
        if c in bad:
            continue
        n = int(X[c].nunique())
        if max_cat is not None and n > int(max_cat):
            fail(
                ConfigError(
                    "dataset.max_categories",
                    max_cat,
                    f"at least the {n} distinct values of categorical column {c!r}",
                    f"one-hot encoding it makes {n} columns: if it is an id or free text drop "
                    f"it with dataset.drop=[{c}], else raise dataset.max_categories",
                )
            )
    if categorical:
        notes.setdefault("categorical (one-hot)", []).extend(categorical)
    if problems:
        return X, tuple(categorical)  # the caller reports them; nothing more to convert
    for c in X.columns:
        if c not in categorical and pdt.is_bool_dtype(X[c]):
            X[c] = X[c].astype(np.int64)
        elif c not in categorical and isinstance(X[c].dtype, pd.api.extensions.ExtensionDtype):
            # nullable Int64/Float64: float, a missing value as NaN
            X[c] = X[c].to_numpy(dtype=np.float64, na_value=np.nan)
    return X, tuple(categorical)


@dataclass
class ImputeConf:
    """``dataset.impute``: how the pipeline fills missing feature values (training rows only)."""

    numeric: str = "median"  # median | mean | most_frequent | zero
    categorical: str = "most_frequent"  # most_frequent | missing (a category of its own)


@dataclass
class FileConf:
    """``dataset=file``: the user's CSV or Parquet file (conf/dataset/file.yaml shows usage)."""

    kind: str = "file"
    name: Optional[str] = None  # noqa: UP045  null: the file name without extensions
    path: Any = MISSING  # relative paths resolve against the directory imbsweep was launched from
    target: Any = MISSING  # the label column (strings, ints, floats or bools)
    # The label that becomes class 1; null: the rarer class. With more than two classes,
    # setting it means that class vs all the others.
    positive: Any = None
    sep: Optional[str] = None  # noqa: UP045  CSV separator; null: guessed (, ; tab |)
    decimal: Optional[str] = None  # noqa: UP045  null: a comma if the numbers use one
    encoding: Optional[str] = None  # noqa: UP045  null: UTF-8 (a byte-order mark is skipped)
    categorical: Any = None  # columns to one-hot encode; null: string, category, bool columns
    drop: Any = field(default_factory=list)  # columns to ignore (ids, free text)
    # Missing feature values: imputed in the pipeline; null refuses them.
    impute: Optional[ImputeConf] = field(default_factory=ImputeConf)  # noqa: UP045
    dates: str = "numeric"  # date/time columns: numeric (days, month, weekday, hour) | drop
    # true: strip spaces, ignore case in text labels (Any: the loader names a non-bool itself,
    # where a bool field would take "yes" for true)
    normalize_labels: Any = False
    max_categories: Optional[int] = 100  # noqa: UP045  more distinct values in a column: error
    standardize: bool = True


def _say(message: str) -> None:
    # Worker processes load the file again for their units; the console needs it once, from
    # the process the user started.
    import multiprocessing

    child = multiprocessing.parent_process() is not None
    log.log(logging.DEBUG if child else logging.INFO, message)


@register("file", FileConf)
def load_file(cfg: dict) -> Dataset:
    """``dataset=file``: a CSV or Parquet file with a binary (or one-vs-rest) target.

    Every problem of the file is reported in one ConfigError (:class:`FileProblems` when there
    are several), each with its fix.
    """
    full = resolve_path(cfg.get("path"))
    shown = str(cfg.get("path"))
    read_notes: list[str] = []
    df = read_table(full, cfg, read_notes)
    df.columns = [str(c) for c in df.columns]
    problems: list[ConfigError] = []
    dups = df.attrs.get("duplicate_columns") or {}
    if dups:
        problems.append(
            ConfigError(
                "dataset.path",
                shown,
                "a header that names each column once",
                "repeated column names: "
                + ", ".join(f"{k!r} ({n} times)" for k, n in dups.items())
                + "; rename them in the file",
            )
        )
    target = cfg.get("target")
    if target in (None, "???"):
        raise ConfigError(
            "dataset.target", target, f"the label column, one of {_columns_text(df.columns)}", USAGE
        )
    if not isinstance(target, str) or target not in df.columns:
        raise ConfigError(
            "dataset.target",
            target,
            f"a column of {full.name}: {_columns_text(df.columns)}",
            "check the spelling" + _sep_hint(df),
        )
    if len(df) < 4:
        what = "a header but no rows" if len(df) == 0 else f"{len(df)} row(s)"
        raise ConfigError("dataset.path", shown, "a file with at least 4 rows", f"it has {what}")
    normalize = cfg["normalize_labels"]
    if not isinstance(normalize, bool):
        raise ConfigError("dataset.normalize_labels", normalize, "true or false")
    y = pos = extra = None
    try:
        y, pos, extra = encode_target(df[target], target, cfg.get("positive"), normalize)
    except ConfigError as exc:
        problems.append(exc)
    notes: dict[str, list[str]] = {}
    X, categorical = build_features(df, cfg, target, shown, problems, notes)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise FileProblems(shown, problems)
    name = cfg.get("name") or full.name.split(".")[0]
    lines = [f"{full.name}: {len(df)} rows, {X.shape[1]} features"]
    if read_notes:
        lines.append("read with: " + "; ".join(read_notes))
    lines += [f"{kind}: {'; '.join(cols)}" for kind, cols in notes.items()]
    _say("\n  ".join(lines))
    impute = impute_strategies(cfg) if X.isna().to_numpy().any() else None
    return Dataset(
        name=name,
        X=X,
        y=y,
        categorical=categorical,
        positive_label=pos,
        source=str(full),
        extra={
            "kind": "file",
            "target": target,
            **extra,
            **({"impute": impute} if impute else {}),
        },
    )
