"""The user's own table: ``dataset=file dataset.path=data.csv dataset.target=label``.

CSV (also ``.tsv``/``.txt`` and their ``.gz``/``.bz2``/``.xz``/``.zip`` forms) or Parquet. Every
problem with the file is a ConfigError raised here, at load time, before any MLflow run opens; each
message names the problem and the fix.

Keys (``conf/dataset/file.yaml``):

- ``path``: relative paths resolve against the directory ``imbsweep`` was launched from (Hydra 1.3
  with ``hydra.job.chdir=false``, this project's setting, keeps that as the working directory; if a
  user turns chdir on, Hydra's original cwd is used instead).
- ``target``: the label column; strings, ints, floats or bools.
- ``positive``: the label that becomes class 1. ``null``: the rarer class (a tie is an error).
  With more than two classes an explicit ``positive`` means one-vs-rest (that class against all
  the others); without one it is an error listing the classes.
- ``sep``: the CSV separator; ``null``: tab for ``.tsv``, else comma.
- ``categorical``: columns to one-hot encode (fitted on training rows only, by
  ``methods.build_preprocessor``). ``null``: the string, category and bool columns.
- ``drop``: columns to ignore (ids, free text, timestamps).
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


def read_table(path: Path, sep: str | None) -> pd.DataFrame:
    fmt = file_format(path)
    try:
        if fmt == "parquet":
            return pd.read_parquet(path)
        sep = sep if sep else ("\t" if fmt == "tsv" else ",")
        return pd.read_csv(path, sep=sep)
    except pd.errors.EmptyDataError as exc:
        raise ConfigError(
            "dataset.path", str(path), "a file with a header and rows", "the file is empty"
        ) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        hint = "; check dataset.sep" if fmt != "parquet" else ""
        raise ConfigError(
            "dataset.path",
            str(path),
            f"a readable {fmt.upper()} file",
            f"reading it failed: {type(exc).__name__}: {str(exc)[:300]}{hint}",
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
    n_missing = int(col.isna().sum())
    if n_missing:
        raise ConfigError(
            "dataset.target",
            target,
            "a label column without missing values",
            f"{n_missing} of {len(col)} rows have no label; drop those rows from the file",
        )
    merged: dict[str, list[str]] = {}
    if normalize:
        col, merged = normalize_labels(col)
        positive = _label_key(positive)
        for into, spellings in merged.items():
            log.info("target %r: labels %s merged into %r", target, spellings, into)
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
            log.info("target %r: %r against the other %d classes", target, pos, len(labels) - 1)
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


def _check_missing(X: pd.DataFrame, path: str) -> None:
    num = X.select_dtypes("number")
    bad = X.isna() | (np.isinf(num.astype("float64")).reindex(columns=X.columns, fill_value=False))
    per_col = bad.sum()
    per_col = per_col[per_col > 0]
    if len(per_col):
        n_rows = int(bad.any(axis=1).sum())
        cols = ", ".join(f"{c!r} ({int(n)})" for c, n in per_col.items())
        raise ConfigError(
            "dataset.path",
            path,
            "features without missing or infinite values",
            f"{n_rows} of {len(X)} rows have missing/infinite values, per column: {cols}. "
            "Drop those rows or impute them in the file (imbsweep does not impute: an imputer "
            "must be fitted on training rows only), or drop the columns with "
            "dataset.drop=[...]",
        )


def _date_like(col: pd.Series) -> bool:
    sample = col.dropna().astype(str).head(200)
    return len(sample) > 0 and bool(sample.map(lambda s: bool(_DATE_LIKE.match(s))).all())


def _problem(col: pd.Series, categorical: bool) -> str | None:
    """Why the encoder or the scaler cannot take this column, or None."""
    if (
        pdt.is_datetime64_any_dtype(col)
        or isinstance(col.dtype, pd.PeriodDtype)
        or pdt.is_timedelta64_dtype(col)
    ):
        return f"holds dates/times ({col.dtype})"
    kind = pdt.infer_dtype(col, skipna=True)
    if kind in ("datetime", "datetime64", "date", "time", "timedelta", "period"):
        return f"holds dates/times ({kind} values)"
    if kind.startswith("mixed") or kind in ("bytes", "complex", "decimal", "interval"):
        types = sorted({type(v).__name__ for v in col.dropna().head(1000)})
        return f"holds values of mixed or unsupported types ({', '.join(types)})"
    if not categorical and not (pdt.is_numeric_dtype(col) or pdt.is_bool_dtype(col)):
        return "is not numeric"
    if categorical and kind == "string" and _date_like(col):
        return "holds dates/times as text (e.g. " + repr(str(col.dropna().iloc[0])) + ")"
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


def build_features(df: pd.DataFrame, cfg: dict, target: str, path: str):
    """The feature frame and its categorical columns; any column the encoders can't take errs."""
    drop = _list_key(cfg, "drop") or []
    unknown = [c for c in drop if c not in df.columns]
    if unknown:
        raise ConfigError(
            "dataset.drop",
            drop,
            f"columns of the file: {_columns_text(df.columns)}",
            f"not found: {unknown}",
        )
    if target in drop:
        raise ConfigError(
            "dataset.drop", drop, "columns other than the target", f"{target!r} is the target"
        )
    X = df.drop(columns=[target, *drop]).reset_index(drop=True)
    if X.shape[1] == 0:
        raise ConfigError("dataset.drop", drop, "to leave at least one feature column")
    explicit = _list_key(cfg, "categorical")
    if explicit is not None:
        unknown = [c for c in explicit if c not in X.columns]
        if unknown:
            raise ConfigError(
                "dataset.categorical",
                explicit,
                f"feature columns of the file: {_columns_text(X.columns)}",
                f"not found among the features: {unknown}",
            )
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
    _check_missing(X, path)
    for c in X.columns:
        why = _problem(X[c], c in categorical)
        if why is None and explicit is None and c in categorical and pdt.is_string_dtype(X[c]):
            odd = _mostly_numbers(X[c])
            if odd is not None:
                raise ConfigError(
                    "dataset.path",
                    path,
                    "feature columns that are numbers or categories",
                    f"column {c!r} {odd}: fix those values in the file or make them empty "
                    "(missing), or list the column in dataset.categorical to treat every value "
                    "as a category",
                )
        if why is None:
            continue
        if c not in categorical and why == "is not numeric":
            fix = (
                "list it in dataset.categorical to one-hot encode it, or drop it with "
                f"dataset.drop=[{c}]"
            )
        elif "dates/times" in why:
            fix = (
                "convert it to numbers in the file (e.g. hour or day of week from a date) or "
                f"drop it with dataset.drop=[{c}]"
            )
        else:
            fix = (
                "store one plain type per column in the file (all numbers or all text) or "
                f"drop it with dataset.drop=[{c}]"
            )
        raise ConfigError(
            "dataset.path",
            path,
            "feature columns that are numbers or categories",
            f"column {c!r} {why}; {fix}",
        )
    max_cat = cfg["max_categories"]
    for c in categorical:
        n = int(X[c].nunique())
        if max_cat is not None and n > int(max_cat):
            raise ConfigError(
                "dataset.max_categories",
                max_cat,
                f"at least the {n} distinct values of categorical column {c!r}",
                f"one-hot encoding it makes {n} columns: if it is an id or free text drop it with "
                f"dataset.drop=[{c}], else raise dataset.max_categories",
            )
    for c in X.columns:
        if c not in categorical and pdt.is_bool_dtype(X[c]):
            X[c] = X[c].astype(np.int64)
        elif c not in categorical and isinstance(X[c].dtype, pd.api.extensions.ExtensionDtype):
            X[c] = X[c].astype(np.float64)  # nullable Int64/Float64 without missing values
    return X, tuple(categorical)


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
    sep: Optional[str] = None  # noqa: UP045  CSV separator; null: tab for .tsv, else comma
    categorical: Any = None  # columns to one-hot encode; null: string, category, bool columns
    drop: Any = field(default_factory=list)  # columns to ignore (ids, free text, timestamps)
    # true: strip spaces, ignore case in text labels (Any: the loader names a non-bool itself,
    # where a bool field would take "yes" for true)
    normalize_labels: Any = False
    max_categories: Optional[int] = 100  # noqa: UP045  more distinct values in a column: error
    standardize: bool = True


@register("file", FileConf)
def load_file(cfg: dict) -> Dataset:
    """``dataset=file``: a CSV or Parquet file with a binary (or one-vs-rest) target."""
    full = resolve_path(cfg.get("path"))
    shown = str(cfg.get("path"))
    df = read_table(full, cfg.get("sep"))
    df.columns = [str(c) for c in df.columns]
    target = cfg.get("target")
    if target in (None, "???"):
        raise ConfigError(
            "dataset.target",
            target,
            f"the label column, one of {_columns_text(df.columns)}",
            USAGE,
        )
    if not isinstance(target, str) or target not in df.columns:
        raise ConfigError(
            "dataset.target",
            target,
            f"a column of {full.name}: {_columns_text(df.columns)}",
            "check the spelling" + _sep_hint(df),
        )
    if len(df) < 4:
        raise ConfigError("dataset.path", shown, "a file with at least 4 rows", f"it has {len(df)}")
    normalize = cfg["normalize_labels"]
    if not isinstance(normalize, bool):
        raise ConfigError("dataset.normalize_labels", normalize, "true or false")
    y, pos, extra = encode_target(df[target], target, cfg.get("positive"), normalize)
    X, categorical = build_features(df, cfg, target, shown)
    name = cfg.get("name") or full.name.split(".")[0]
    return Dataset(
        name=name,
        X=X,
        y=y,
        categorical=categorical,
        positive_label=pos,
        source=str(full),
        extra={"kind": "file", "target": target, **extra},
    )
