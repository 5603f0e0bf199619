"""Metrics agree with scikit-learn's report; the ranges table is right on known inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, classification_report, roc_auc_score

from imbsweep.errors import ConfigError
from imbsweep.evaluation import METRICS, evaluate
from imbsweep.ranges import load_claims, summarize, to_markdown, verdict


def test_metrics_equal_sklearns_report_on_the_same_predictions():
    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.08).astype(int)
    score = np.clip(y * 0.4 + rng.random(500) * 0.7, 0, 1)
    pred = (score > 0.5).astype(int)
    m = evaluate(y, pred, score)
    rep = classification_report(y, pred, output_dict=True)
    assert m["minority_precision"] == pytest.approx(rep["1"]["precision"])
    assert m["minority_recall"] == pytest.approx(rep["1"]["recall"])
    assert m["minority_f1"] == pytest.approx(rep["1"]["f1-score"])
    assert m["accuracy"] == pytest.approx(rep["accuracy"])
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, score))
    assert m["average_precision"] == pytest.approx(average_precision_score(y, score))
    assert set(m) == set(METRICS)


def test_majority_baseline_has_zero_minority_scores_without_warnings():
    y = np.array([0] * 95 + [1] * 5)
    with np.errstate(all="raise"):
        m = evaluate(y, np.zeros(100, int), np.zeros(100))
    assert (m["minority_precision"], m["minority_recall"], m["minority_f1"]) == (0, 0, 0)
    assert m["accuracy"] == pytest.approx(0.95)
    assert m["roc_auc"] == 0.5


def rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "label": ["a k=5"] * 3 + ["b"] * 2,
            "method": ["smote_ann"] * 3 + ["brf"] * 2,
            "minority_precision": [0.40, 0.50, 0.45, 0.3, 0.3],
            "minority_recall": [0.8, 0.9, 0.7, 0.85, 0.95],
            "minority_f1": [0.5, 0.6, 0.55, 0.45, 0.46],
            "accuracy": [0.9, 0.91, 0.92, 0.8, 0.8],
        }
    )


def test_summary_of_known_inputs():
    s = summarize(rows(), load_claims("practical")).set_index(["label", "metric"])
    r = s.loc[("a k=5", "minority_precision")]
    assert (r["n_seeds"], r["min"], r["max"]) == (3, 0.40, 0.50)
    assert r["mean"] == pytest.approx(0.45)
    assert r["std"] == pytest.approx(0.05)  # sample std of .40 .50 .45
    assert r["vs_claim"] == "inside"  # claim 0.40-0.55
    assert s.loc[("a k=5", "minority_recall"), "vs_claim"] == "overlaps"  # 0.7-0.9 vs 0.75-0.85
    assert s.loc[("b", "minority_precision"), "vs_claim"] == "outside"  # 0.3 vs 0.45-0.60


def test_verdicts():
    assert verdict(0.5, 0.6, [0.5, 0.6]) == "inside"
    assert verdict(0.1, 0.2, [0.5, 0.6]) == "outside"
    assert verdict(0.4, 0.55, [0.5, 0.6]) == "overlaps"
    assert verdict(0.4, 0.55, None) == "-"


def test_markdown_shows_ranges_and_claims():
    md = to_markdown(summarize(rows(), load_claims("practical")))
    assert "| a k=5 | 3 | 0.400–0.500 (0.450 ± 0.050)" in md
    assert "0.40–0.55: inside" in md


def test_claims_are_data_and_unknown_names_are_refused():
    claims = load_claims("practical")
    assert claims["brf"]["minority_recall"] == [0.80, 0.90]
    assert set(claims) == {"naive", "smote_ann", "weighted_ann", "brf"}
    with pytest.raises(ConfigError, match="report.claims"):
        load_claims("nonexistent")


def test_jobs_sharing_a_label_are_never_pooled():
    from imbsweep.report import distinct_labels

    rows = pd.DataFrame(
        {
            "dataset": ["d"] * 4,
            "stage": ["run"] * 4,
            "label": ["smote_ann k=5"] * 4,
            "job_id": ["j1", "j1", "j2", "j2"],
            "overrides": ["method=smote_ann method.epochs=1"] * 2
            + ["method=smote_ann method.epochs=3"] * 2,
        }
    )
    labels = distinct_labels(rows)
    assert (
        list(labels)
        == ["smote_ann k=5 [method.epochs=1]"] * 2 + ["smote_ann k=5 [method.epochs=3]"] * 2
    )
    single = rows.assign(job_id="j1")
    assert list(distinct_labels(single)) == ["smote_ann k=5"] * 4
