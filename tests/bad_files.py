"""A corpus of the odd CSV files users really have, written on the fly (no binary fixtures).

``ODD_FILES`` maps a case to (write the file into a directory -> its name and extra dataset
keys, what must happen): ``None`` means it loads; a regex is the one message it must give.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

N = 60  # rows: 48 majority "no", 12 minority "yes"


def frame(n: int = N, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_pos = n // 5
    return pd.DataFrame(
        {
            "amount": rng.normal(100, 30, n).round(2),
            "city": rng.choice(["Köln", "Zürich", "Málaga"], n),
            "label": ["no"] * (n - n_pos) + ["yes"] * n_pos,
        }
    )


def _csv(name: str, df: pd.DataFrame | None = None, **kw) -> Callable[[Path], str]:
    def write(d: Path) -> str:
        (frame() if df is None else df).to_csv(d / name, index=False, **kw)
        return name

    return write


def _bytes(name: str, data: bytes) -> Callable[[Path], str]:
    def write(d: Path) -> str:
        (d / name).write_bytes(data)
        return name

    return write


def _text(df: pd.DataFrame, **kw) -> str:
    return df.to_csv(index=False, **kw)


def _with(**cols) -> pd.DataFrame:
    return frame().assign(**cols)


_LABELS = ["no"] * 48 + ["yes"] * 6 + ["Yes"] * 3 + ["yes "] * 3
_ONE_MINORITY = ["no"] * 59 + ["yes"]
_BLANK = ["no"] * 46 + ["", " "] + ["yes"] * 12
_INF = [np.inf, -np.inf] + [1.0] * 58

# case -> (writer, extra dataset keys, None (loads) or the message's regex)
ODD_FILES: dict[str, tuple[Callable[[Path], str], dict, str | None]] = {
    "utf8_bom": (_bytes("bom.csv", b"\xef\xbb\xbf" + _text(frame()).encode()), {}, None),
    "semicolons": (_csv("semi.csv", sep=";"), {}, None),
    "semicolons_decimal_comma": (_csv("excel.csv", sep=";", decimal=","), {}, None),
    "tabs_in_a_csv": (_csv("tabs.csv", sep="\t"), {}, None),
    "gzip": (_bytes("data.csv.gz", gzip.compress(_text(frame()).encode())), {}, None),
    "gzip_named_csv": (_bytes("data.csv", gzip.compress(_text(frame()).encode())), {}, None),
    "latin1_with_encoding": (
        _bytes("latin.csv", _text(frame()).encode("latin-1")),
        {"encoding": "latin-1"},
        None,
    ),
    "empty": (_bytes("empty.csv", b""), {}, r"the file is empty"),
    "blank_lines_only": (_bytes("blank.csv", b"\n\n  \n"), {}, r"the file is empty"),
    "header_only": (_bytes("header.csv", b"amount,city,label\n"), {}, r"a header but no rows"),
    "duplicate_columns": (
        _bytes("dup.csv", _text(frame()).replace("city", "amount", 1).encode()),
        {},
        r"repeated column names: 'amount' \(2 times\); rename them",
    ),
    "latin1": (
        _bytes("latin.csv", _text(frame()).encode("latin-1")),
        {},
        r"is not utf-8: line \d+ has the byte 0x[0-9a-f]{2}.*dataset.encoding=cp1252",
    ),
    "blank_labels": (
        _csv("blank_labels.csv", _with(label=_BLANK)),
        {},
        r"2 of 60 rows have no label \(empty or blank\)",
    ),
    "labels_differ_in_case_or_spaces": (
        _csv("case.csv", _with(label=_LABELS)),
        {},
        r"'yes' \(6 rows\), 'Yes' \(3 rows\), 'yes ' \(3 rows\).*normalize_labels=true",
    ),
    "single_minority_row": (
        _csv("one.csv", _with(label=_ONE_MINORITY)),
        {},
        r"label 'yes' has 1 row\(s\)",
    ),
    "infinities": (
        _csv("inf.csv", _with(amount=_INF)),
        {},
        r"infinite values per column: 'amount' \(2\)",
    ),
    "several_problems_at_once": (
        _csv("many.csv", _with(label=_BLANK, amount=_INF)),
        {},
        r"2 problems, each with its fix:\n  1\. .*no label.*\n  2\. .*infinite values",
    ),
}
