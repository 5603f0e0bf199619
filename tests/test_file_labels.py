"""Target labels that differ only in case or surrounding spaces: an error, or merged on request."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from imbsweep.data import load_dataset
from imbsweep.errors import ConfigError

# What a hand-typed survey export looks like: four spellings of "yes" and one "no".
SPELLINGS = ["yes"] * 3 + ["Yes"] * 2 + ["YES"] * 2 + ["yes "] * 2 + ["no"] * 31


def _write(tmp_path, labels) -> str:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=len(labels)), "label": labels})
    path = tmp_path / "survey.csv"
    df.to_csv(path, index=False)
    return str(path)


def _load(path, **cfg):
    return load_dataset({"kind": "file", "path": path, "target": "label", **cfg})


def test_spellings_of_one_label_are_an_error_naming_them_and_the_fix(tmp_path):
    path = _write(tmp_path, SPELLINGS)
    with pytest.raises(ConfigError) as err:
        _load(path)
    msg = str(err.value)
    assert msg.startswith("dataset.target='label' is not valid")
    assert "differ only in case or surrounding spaces" in msg
    for spelling in ("'yes' (3 rows)", "'Yes' (2 rows)", "'YES' (2 rows)", "'yes ' (2 rows)"):
        assert spelling in msg
    assert "dataset.normalize_labels=true" in msg
    # The one-vs-rest advice would train "yes" against other spellings of "yes".
    assert "one-vs-rest" not in msg


def test_an_explicit_positive_does_not_hide_the_spellings(tmp_path):
    path = _write(tmp_path, SPELLINGS)
    with pytest.raises(ConfigError, match="differ only in case"):
        _load(path, positive="yes")


def test_normalize_labels_merges_them_into_one_class(tmp_path):
    path = _write(tmp_path, SPELLINGS)
    ds = _load(path, normalize_labels=True)
    assert ds.positive_label == "yes" and ds.n_minority == 9
    assert ds.extra["class_counts"] == {"no": 31, "yes": 9}
    assert sorted(ds.extra["labels_merged"]["yes"]) == ["YES", "Yes", "yes", "yes "]
    # A positive label given in another spelling is normalised the same way.
    ds = _load(path, normalize_labels=True, positive=" YES")
    assert ds.positive_label == "yes" and ds.n_minority == 9


def test_normalize_labels_must_be_a_bool(tmp_path):
    path = _write(tmp_path, SPELLINGS)
    with pytest.raises(ConfigError, match=r"dataset.normalize_labels='yes'.*true or false"):
        _load(path, normalize_labels="yes")


def test_distinct_labels_and_numbers_are_left_alone(tmp_path):
    ds = _load(_write(tmp_path, ["Yes"] * 6 + ["No"] * 34))
    assert ds.positive_label == "Yes" and "labels_merged" not in ds.extra
    ds = _load(_write(tmp_path, [1] * 6 + [0] * 34), normalize_labels=True)
    assert ds.positive_label == "1" and ds.n_minority == 6
