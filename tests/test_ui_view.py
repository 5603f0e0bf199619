"""The runs page opened on the answer (imbsweep.ui_view): the shared view, the URL, the best."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from imbsweep import ui_view


def _rows(values: dict[tuple[str, str], list[float]], metric="minority_f1") -> pd.DataFrame:
    recs = []
    for (ds, label), vs in values.items():
        for seed, v in enumerate(vs):
            recs.append({"dataset": ds, "label": label, "seed": seed, "fold": np.nan, metric: v})
    return pd.DataFrame(recs)


def test_view_state_shows_the_headline_and_sorts_best_first():
    v = ui_view.view_state("average_precision")
    assert v["selectedColumns"][:2] == ["tags.`best_method`", "metrics.`average_precision`"]
    assert "metrics.`minority_f1`" in v["selectedColumns"]
    assert v["orderByKey"] == "metrics.`average_precision`" and v["orderByAsc"] is False
    assert ui_view.view_state("brier")["orderByAsc"] is True  # lower is better


def test_best_on_one_dataset_and_on_several():
    one = _rows({("d", "a"): [0.5, 0.7], ("d", "b"): [0.65, 0.65]})
    assert ui_view.best(one, "minority_f1") == ("b", 0.65)
    several = _rows(
        {
            ("d1", "a"): [0.9],
            ("d1", "b"): [0.1],
            ("d2", "a"): [0.4],
            ("d2", "b"): [0.5],
            ("d3", "a"): [0.6],
            ("d3", "b"): [0.5],
        }
    )
    label, value = ui_view.best(several, "minority_f1")  # a ranks first on 2 of 3
    assert label == "a" and value == (0.9 + 0.4 + 0.6) / 3
    brier = _rows({("d", "a"): [0.2], ("d", "b"): [0.1]}, "brier")
    assert ui_view.best(brier, "brier") == ("b", 0.1)


def test_the_view_is_an_experiment_tag_and_main_prints_its_url(tmp_path, capsys):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    c = MlflowClient(uri)
    exp = c.create_experiment("imbsweep", artifact_location=(tmp_path / "a").as_uri())
    ui_view.set_view(c, exp, "minority_f1")
    tag = c.get_experiment(exp).tags["mlflow.sharedViewState.imbsweep"]
    assert json.loads(tag) == ui_view.view_state("minority_f1")
    assert ui_view.main(["--tracking-uri", uri]) == 0
    assert capsys.readouterr().out.strip() == (
        f"http://127.0.0.1:5000/#/experiments/{exp}/runs?viewStateShareKey=imbsweep"
    )
    # No store yet: the base URL, and no store created by asking.
    missing = tmp_path / "none.db"
    assert ui_view.main(["--tracking-uri", f"sqlite:///{missing}"]) == 0
    assert "run a sweep first" in capsys.readouterr().out and not missing.exists()
