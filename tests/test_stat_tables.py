"""The readable statistics tables: verdict first, constant columns said once, Holm p kept."""

from __future__ import annotations

import numpy as np
import pandas as pd

from imbsweep import stat_tables


def _paired(metric="minority_f1", diff=0.1, p_holm=0.01, **kw) -> dict:
    return {
        "dataset": "synthetic",
        "stage": "run",
        "metric": metric,
        "method": "a",
        "opponent": "b",
        "n_seeds": 10,
        "n_units": 50,
        "mean_diff": diff,
        "ci_low": diff - 0.05,
        "ci_high": diff + 0.05,
        "wins": 9,
        "losses": 1,
        "test": "corrected repeated k-fold t",
        "p": p_holm / 2,
        "p_holm": p_holm,
    } | kw


def test_paired_view_verdict_first_and_constant_columns_out():
    df = pd.DataFrame(
        [
            _paired(),
            _paired(opponent="c", diff=-0.2, p_holm=0.001, wins=1, losses=9),
            _paired(opponent="naive", diff=0.01, p_holm=0.3, wins=5, losses=5),
            _paired(metric="brier", opponent="c", diff=-0.02, p_holm=0.02),
        ]
    )
    v = stat_tables.paired(df, "brier")
    assert list(v.frame.columns)[0] == "Verdict"
    assert "p (Holm)" in v.frame.columns
    # Constant across rows: said once, not a column.
    for gone in ("Dataset", "Stage", "Seeds", "Units", "Test"):
        assert gone not in v.frame.columns
    assert v.constant["Dataset"] == "synthetic" and v.constant["Test"].startswith("corrected")
    # The headline metric's rows first; brier is lower-is-better, so a negative diff favours a.
    assert v.frame["Metric"].tolist() == ["brier", "minority_f1", "minority_f1", "minority_f1"]
    assert v.frame["Verdict"].tolist() == [
        "a better",
        "a better",
        "c better",
        "not distinguishable",
    ]
    assert v.frame.loc[0, "Diff (95% CI)"] == "-0.020 (-0.070, +0.030)"


def test_paired_view_keeps_verdict_and_holm_even_when_constant():
    v = stat_tables.paired(pd.DataFrame([_paired(), _paired(opponent="c")]))
    assert list(v.frame.columns) == ["Verdict", "Comparison", "Diff (95% CI)", "p (Holm)"]
    assert "p" in v.constant  # the raw p is the same on both rows: above the table


def test_no_test_when_holm_p_missing():
    v = stat_tables.paired(pd.DataFrame([_paired(p_holm=np.nan), _paired(opponent="c")]))
    assert v.frame["Verdict"].tolist() == ["no test", "a better"]


def test_remedy_view_helps_hurts():
    base = {
        "dataset": "pc1",
        "stage": "run",
        "metric": "minority_f1",
        "method": "smote_ann k=5",
        "remedy": "SMOTE",
        "model": "mlp",
        "base": "ann",
        "threshold": "0.5",
        "ci_low": -1.0,
        "ci_high": 1.0,
        "p": 0.01,
        "n_units": 10,
        "test": "t",
    }
    df = pd.DataFrame(
        [
            base | {"effect": 0.1, "p_holm": 0.01},
            base | {"effect": -0.1, "p_holm": 0.01, "threshold": "tuned"},
            base | {"effect": 0.1, "p_holm": 0.5, "threshold": "tuned"},
        ]
    )
    v = stat_tables.remedy_effects(df)
    assert v.frame.columns[0] == "Verdict"
    assert v.frame["Verdict"].tolist() == ["helps", "hurts", "not distinguishable"]
    assert v.frame["Against"].tolist()[0] == "ann at threshold 0.5"
