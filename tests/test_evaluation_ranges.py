"""Metrics agree with scikit-learn's report; the ranges table is right on known inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from imblearn.metrics import geometric_mean_score
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    classification_report,
    log_loss,
    matthews_corrcoef,
    roc_auc_score,
)

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
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    # MCC and G-mean come from imbsweep's own count formulas: the libraries' functions agree.
    assert m["mcc"] == pytest.approx(matthews_corrcoef(y, pred))
    assert m["gmean"] == pytest.approx(geometric_mean_score(y, pred))
    assert 0 < m["mcc"] < 1 and 0 < m["gmean"] < 1  # not a degenerate case
    assert set(METRICS) <= set(m)
    assert m["brier"] == pytest.approx(brier_score_loss(y, score))
    assert m["log_loss"] == pytest.approx(log_loss(y, score))
    assert m["predicted_positives"] == pred.sum()


def test_reliability_bins_add_up():
    from sklearn.calibration import calibration_curve

    from imbsweep.evaluation import reliability

    rng = np.random.default_rng(1)
    y = (rng.random(400) < 0.2).astype(int)
    score = np.clip(0.3 * y + 0.7 * rng.random(400), 0, 1)
    r = reliability(y, score, 5)
    assert sum(r["count"]) == 400 and sum(r["positives"]) == y.sum()
    cnt = np.array(r["count"])
    ok = cnt > 0
    frac, mean = calibration_curve(y, score, n_bins=5, strategy="uniform")
    np.testing.assert_allclose(np.array(r["positives"])[ok] / cnt[ok], frac)
    np.testing.assert_allclose(np.array(r["score_sum"])[ok] / cnt[ok], mean)


def test_majority_baseline_has_zero_minority_scores_without_warnings():
    y = np.array([0] * 95 + [1] * 5)
    with np.errstate(all="raise"):
        m = evaluate(y, np.zeros(100, int), np.zeros(100))
    assert (m["minority_precision"], m["minority_recall"], m["minority_f1"]) == (0, 0, 0)
    assert m["accuracy"] == pytest.approx(0.95)
    assert m["roc_auc"] == 0.5
    pred = np.zeros(100, int)
    assert m["mcc"] == matthews_corrcoef(y, pred) == 0  # an empty margin: 0, as scikit-learn
    assert m["gmean"] == geometric_mean_score(y, pred) == 0


def rows(**params) -> pd.DataFrame:
    """Seed rows as report.seed_rows gives them, logged in the practical's own setting."""
    df = pd.DataFrame(
        {
            "label": ["a k=5"] * 3 + ["b"] * 2,
            "method": ["smote_ann"] * 3 + ["brf"] * 2,
            "minority_precision": [0.40, 0.50, 0.45, 0.3, 0.3],
            "minority_recall": [0.8, 0.9, 0.7, 0.85, 0.95],
            "minority_f1": [0.5, 0.6, 0.55, 0.45, 0.46],
            "accuracy": [0.9, 0.91, 0.92, 0.8, 0.8],
        }
    )
    claims = load_claims("practical")
    setting = {**claims["applies_to"], **params}
    for method in ("smote_ann", "brf"):
        for k, v in {**setting, **claims["methods"][method]["applies_to"]}.items():
            if f"params.{k}" not in df:
                df[f"params.{k}"] = None
            df.loc[df["method"] == method, f"params.{k}"] = str(v)  # MLflow params are text
    return df


def test_summary_of_known_inputs():
    s = summarize(rows(), load_claims("practical")).set_index(["label", "metric"])
    r = s.loc[("a k=5", "minority_precision")]
    assert (r["n_seeds"], r["min"], r["max"]) == (3, 0.40, 0.50)
    assert r["mean"] == pytest.approx(0.45)
    assert r["std"] == pytest.approx(0.05)  # sample std of .40 .50 .45
    # 95% t-interval: 0.45 +- t(0.975, 2) * 0.05 / sqrt(3) = 0.45 +- 0.1242
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((0.3258, 0.5742), abs=1e-4)
    assert r["varied"] == "model seed (one split)"
    # The verdict compares the CI of the mean (not min-max) with the claim.
    assert r["vs_claim"] == "overlaps"  # CI 0.33-0.57 vs claim 0.40-0.55
    assert s.loc[("b", "minority_precision"), "vs_claim"] == "outside"  # 0.3 vs 0.45-0.60
    assert s.loc[("b", "minority_recall"), "vs_claim"] == "overlaps"  # CI 0.26-1.54 vs 0.80-0.90


def test_verdicts_compare_the_ci_of_the_mean():
    assert verdict(0.5, 0.6, [0.5, 0.6]) == "inside"
    assert verdict(0.1, 0.2, [0.5, 0.6]) == "outside"
    assert verdict(0.4, 0.55, [0.5, 0.6]) == "overlaps"
    assert verdict(0.4, 0.55, None) == "-"
    assert verdict(float("nan"), float("nan"), [0.5, 0.6], mean=0.55) == "inside"  # one seed
    # More seeds narrow the CI: the verdict becomes more decisive, never stricter by chance.
    wide = summarize(rows(), load_claims("practical"))
    assert set(wide["vs_claim"]) <= {"inside", "overlaps", "outside"}


def test_claims_are_skipped_for_other_data_and_other_settings():
    claims = load_claims("practical")
    for other, said in (
        ({"data.digest": "0123456789abcdef"}, False),  # a user's CSV, a KEEL set: not its data
        ({"data.digest": "0123456789abcdef", "split.vary_with_seed": "True"}, False),
        ({"split.vary_with_seed": "True"}, True),  # the claim's data, split per seed
    ):
        s = summarize(rows(**other), claims)
        assert (s["vs_claim"] == "-").all(), other
        assert s["claim_low"].isna().all()
        md = to_markdown(s)
        # Printed only for the data the claim belongs to; on other data, not a word of it.
        assert ("Claims not applied" in md) == said, (other, md)
        assert ("split.vary_with_seed" in md) == said
    # Another method setting (e.g. the benchmark's epochs) gets no verdict either.
    r = rows()
    r.loc[r["method"] == "smote_ann", "params.method.epochs"] = "200"
    s = summarize(r, claims).set_index(["label", "metric"])
    assert s.loc[("a k=5", "minority_f1"), "vs_claim"] == "-"
    assert s.loc[("b", "minority_f1"), "vs_claim"] != "-"
    # Rows without params (e.g. an old sweep) are not matched: no verdict, never a wrong one.
    plain = rows()[["label", "method", "minority_f1"]]
    assert (summarize(plain, claims)["vs_claim"] == "-").all()


def test_markdown_shows_ranges_ci_what_varied_and_claims():
    md = to_markdown(summarize(rows(), load_claims("practical")))
    assert "| a k=5 | 3 | 0.400–0.500 (0.450 ± 0.050; CI 0.326–0.574)" in md
    assert "only the model's seed varied" in md
    assert "0.40–0.55: overlaps" in md


def test_claims_are_data_and_unknown_names_are_refused():
    claims = load_claims("practical")
    assert claims["methods"]["brf"]["minority_recall"] == [0.80, 0.90]
    assert set(claims["methods"]) == {"naive", "smote_ann", "weighted_ann", "brf"}
    assert claims["applies_to"]["split.vary_with_seed"] is False
    with pytest.raises(ConfigError, match="report.claims"):
        load_claims("nonexistent")


def test_the_practical_claims_name_the_practical_data():
    from conftest import compose_cfg

    from imbsweep.data import load_dataset

    digest = load_dataset(compose_cfg()["dataset"]).digest()
    assert load_claims("practical")["applies_to"]["data.digest"] == digest


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


def test_pr_curve_is_sklearns_envelope_on_a_recall_grid():
    from sklearn.metrics import precision_recall_curve

    from imbsweep.evaluation import pr_curve

    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.1).astype(int)
    score = np.clip(y * 0.3 + rng.random(300) * 0.7, 0, 1)
    c = pr_curve(y, score)
    p, r, _ = precision_recall_curve(y, score)
    assert len(c["recall"]) == 101 and c["recall"][0] == 0.0 and c["recall"][-1] == 1.0
    for rec, prec in zip(c["recall"], c["precision"], strict=True):
        # Interpolated precision: the best precision at any recall >= this one.
        assert prec == pytest.approx(p[r >= rec].max(), abs=1e-4)
