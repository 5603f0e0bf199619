"""Intervals matched to the protocol (imbsweep.intervals), against hand-computed formulas,
scikit-learn's weighted metrics, and by simulation where the truth is known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from sklearn.metrics import average_precision_score, brier_score_loss, f1_score, roc_auc_score

from imbsweep import intervals
from imbsweep.evaluation import COUNT_METRICS, count_metrics, evaluate
from imbsweep.pooling import repeat_rows


def _units(values, k=5, ratio=0.25, extra=None):
    """k-fold unit rows: one value per (seed, fold), class counts giving n_test/n_train."""
    recs = []
    for i, v in enumerate(values):
        recs.append(
            {
                "job_id": "j",
                "seed": i // k,
                "fold": i % k,
                "m": v,
                "test_class0": 90,
                "test_class1": 10,
                "train_class0": 90 / ratio,
                "train_class1": 10 / ratio,
                **(extra or {}),
            }
        )
    return pd.DataFrame(recs)


def test_corrected_kfold_t_is_bouckaert_and_franks_formula():
    rng = np.random.default_rng(3)
    v = rng.normal(0.6, 0.05, 10)  # 5 folds x 2 repeats
    est = intervals.estimate(_units(v), "m")
    n, ratio = 10, 0.25
    se = math.sqrt((1 / n + ratio) * v.var(ddof=1))
    q = sps.t.ppf(0.975, n - 1)
    center = v.mean()  # m is not a count metric: a repeat's value is its folds' mean
    assert est.method == intervals.KFOLD and est.n == 10
    assert est.mean == pytest.approx(center)
    assert (est.low, est.high) == pytest.approx((center - q * se, center + q * se))
    assert est.p == pytest.approx(2 * sps.t.sf(abs(center) / se, n - 1))
    # Far wider than the plain t over the same values, which ignores overlapping training sets.
    plain = sps.t.ppf(0.975, n - 1) * v.std(ddof=1) / math.sqrt(n)
    assert est.high - center > 1.7 * plain


def test_holdout_uses_nadeau_bengio_and_held_out_rows_the_larger_ratio():
    v = np.array([0.5, 0.6, 0.55, 0.62, 0.58])
    rows = pd.DataFrame({"seed": range(5), "m": v, "params.split.vary_with_seed": "true"})
    rows[["test_class0", "test_class1", "train_class0", "train_class1"]] = [18, 2, 72, 8]
    est = intervals.estimate(rows, "m")
    se = math.sqrt((1 / 5 + 0.25) * v.var(ddof=1))
    assert est.method == intervals.HOLDOUT
    assert est.high - est.mean == pytest.approx(sps.t.ppf(0.975, 4) * se)
    held = rows.assign(**{"params.split.holdout": "0.4", "params.split.test_size": "0.2"})
    h = intervals.estimate(held, "m")
    assert h.method == intervals.HELD_OUT
    assert h.high - h.mean == pytest.approx(sps.t.ppf(0.975, 4) * math.sqrt(1.2 * v.var(ddof=1)))


def test_paired_kfold_centre_and_interval_agree_with_the_p_value():
    rng = np.random.default_rng(0)
    a = _units(rng.normal(0.70, 0.04, 15))
    b = a.assign(m=a["m"] - rng.normal(0.03, 0.03, 15))
    est = intervals.paired(a, b, "m")
    d = a["m"] - b["m"]
    assert est.mean == pytest.approx(d.mean()) and est.n == 15
    assert (est.low > 0) == (est.p < 0.05)
    # Units pair by (seed, fold): shuffling b's folds breaks the pairing and widens the interval.
    shifted = b.assign(fold=(b["fold"] + 1) % 5)
    other = intervals.paired(a, shifted, "m")
    assert other.high - other.low > 1.5 * (est.high - est.low)


@pytest.mark.parametrize("metric", intervals.BOOTSTRAPPABLE)
def test_weighted_scores_equal_scikit_learn_with_sample_weights(metric):
    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.1).astype(int)
    score = np.round(rng.random(300) * 0.6 + 0.4 * y, 2)  # ties on purpose
    pred = (score > 0.5).astype(int)
    w = rng.multinomial(300, np.full(300, 1 / 300), size=3).astype(float)
    got = intervals.weighted_scores(w, y, pred, score, metric)
    for i in range(3):
        rep = np.repeat(np.arange(300), w[i].astype(int))  # the resample itself
        yr, sr, pr = y[rep], score[rep], pred[rep]
        if metric == "roc_auc":
            want = roc_auc_score(yr, sr)
        elif metric == "average_precision":
            want = average_precision_score(yr, sr)
        elif metric == "brier":
            want = brier_score_loss(yr, sr)
        elif metric == "log_loss":
            want = evaluate(yr, pr, sr)["log_loss"]
        else:
            want = evaluate(yr, pr, sr)[metric]
        assert got[i] == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_count_metrics_match_evaluate_and_pool_like_concatenated_predictions():
    rng = np.random.default_rng(2)
    folds = []
    y_all, p_all = [], []
    for f in range(5):
        y = (rng.random(60) < 0.08).astype(int)
        s = rng.random(60) * 0.7 + 0.3 * y
        p = (s > 0.5).astype(int)
        m = evaluate(y, p, s)
        for key in COUNT_METRICS:
            assert count_metrics(m["test_tp"], m["test_fp"], m["test_fn"], m["test_tn"])[
                key
            ] == pytest.approx(m[key])
        folds.append({**m, "job_id": "j", "seed": 0, "fold": f, "test_class0": (y == 0).sum()})
        folds[-1]["test_class1"] = y.sum()
        y_all.append(y)
        p_all.append(p)
    rep = repeat_rows(pd.DataFrame(folds))
    assert len(rep) == 1 and rep["n_folds"].iloc[0] == 5
    # Pooled counts are the folds' sums; F1 from them equals F1 over all out-of-fold rows.
    assert rep["test_tp"].iloc[0] == sum(f["test_tp"] for f in folds)
    y, p = np.concatenate(y_all), np.concatenate(p_all)
    assert rep["minority_f1"].iloc[0] == pytest.approx(f1_score(y, p, zero_division=0))
    assert rep["minority_f1"].iloc[0] != pytest.approx(np.mean([f["minority_f1"] for f in folds]))


def test_bootstrap_is_reproducible_paired_and_covers_the_point_estimate():
    rng = np.random.default_rng(4)
    y = (rng.random(2000) < 0.06).astype(int)
    models, worse = [], []
    for _ in range(4):
        s = np.clip(rng.random(2000) * 0.6 + 0.45 * y, 0, 1)
        models.append({"y": y, "score": s, "pred": (s > 0.5).astype(int)})
        s2 = np.clip(s - 0.08 * y, 0, 1)
        worse.append({"y": y, "score": s2, "pred": (s2 > 0.5).astype(int)})
    one = intervals.bootstrap(models, "minority_f1", replicates=500)
    assert one == intervals.bootstrap(models, "minority_f1", replicates=500)
    assert one.low < one.mean < one.high and math.isnan(one.p)
    diff = intervals.bootstrap(models, "minority_f1", opponents=worse, replicates=500)
    assert diff.mean > 0 and diff.low > 0 and diff.p < 0.01
    same = intervals.bootstrap(models, "roc_auc", opponents=models, replicates=200)
    assert same.mean == 0 and same.p == 1.0


# ---------------------------------------------------------------------------- coverage
#
# Where the truth is known: a population of 100,000 rows from scikit-learn's generator stands
# for the distribution. Each draw takes n rows from its first half and runs the protocol there;
# the truth is measured on the second half, which no draw touches.


def _population():
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=100_000,
        n_features=10,
        n_informative=5,
        weights=[0.9, 0.1],
        flip_y=0.01,
        class_sep=1.2,
        random_state=0,
    )
    return X, y


def _logreg(X, y):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000).fit(X, y)


def _f1(y, score):
    pred = (score > 0.5).astype(int)
    tp, fp = np.sum(pred * y), np.sum(pred * (1 - y))
    return count_metrics(tp, fp, np.sum((1 - pred) * y), np.sum((1 - pred) * (1 - y)))


@pytest.mark.slow
def test_fixed_split_bootstrap_interval_covers_the_models_population_value():
    """A fixed split's 95% interval covers what the trained model scores on the population."""
    from sklearn.model_selection import train_test_split

    X, y = _population()
    pool, truth_rows = np.arange(50_000), np.arange(50_000, 100_000)
    rng = np.random.default_rng(7)
    hits, draws = 0, 120
    for d in range(draws):
        rows = rng.choice(pool, 1000, replace=False)
        tr, te = train_test_split(rows, test_size=0.2, stratify=y[rows], random_state=d)
        model = _logreg(X[tr], y[tr])
        s = model.predict_proba(X[te])[:, 1]
        truth = _f1(y[truth_rows], model.predict_proba(X[truth_rows])[:, 1])["minority_f1"]
        unit = evaluate(y[te], (s > 0.5).astype(int), s)
        unit.update(seed=0, run_id="r", **{"params.split.vary_with_seed": "false"})
        preds = {"r": {"y": y[te], "score": s, "pred": (s > 0.5).astype(int)}}
        est = intervals.estimate(pd.DataFrame([unit]), "minority_f1", preds)
        assert est.method == intervals.BOOTSTRAP
        hits += est.low <= truth <= est.high
    print(f"fixed split, bootstrap: 95% interval covered the truth in {hits}/{draws} draws")
    assert 0.90 <= hits / draws <= 0.99, f"coverage {hits / draws:.3f}"


@pytest.mark.slow
def test_kfold_interval_covers_the_methods_expected_value():
    """Repeated stratified 5-fold (2 repeats): the 95% interval covers the method's expected F1
    when trained on a training fold's worth of rows (the quantity cross-validation estimates)."""
    from sklearn.model_selection import StratifiedKFold

    X, y = _population()
    pool, truth_rows = np.arange(50_000), np.arange(50_000, 100_000)
    rng = np.random.default_rng(11)
    n, k, r = 1000, 5, 2
    truth = np.mean(
        [
            _f1(y[truth_rows], _logreg(X[tr], y[tr]).predict_proba(X[truth_rows])[:, 1])[
                "minority_f1"
            ]
            for tr in (rng.choice(pool, n * (k - 1) // k, replace=False) for _ in range(60))
        ]
    )
    hits, draws = 0, 120
    for d in range(draws):
        rows = rng.choice(pool, n, replace=False)
        Xd, yd = X[rows], y[rows]
        units = []
        for seed in range(r):
            skf = StratifiedKFold(k, shuffle=True, random_state=1000 * d + seed)
            for fold, (tr, te) in enumerate(skf.split(Xd, yd)):
                s = _logreg(Xd[tr], yd[tr]).predict_proba(Xd[te])[:, 1]
                m = evaluate(yd[te], (s > 0.5).astype(int), s)
                units.append(
                    {
                        **m,
                        "job_id": "j",
                        "seed": seed,
                        "fold": fold,
                        "test_class0": int((yd[te] == 0).sum()),
                        "test_class1": int(yd[te].sum()),
                        "train_class0": int((yd[tr] == 0).sum()),
                        "train_class1": int(yd[tr].sum()),
                    }
                )
        est = intervals.estimate(pd.DataFrame(units), "minority_f1")
        assert est.method == intervals.KFOLD
        hits += est.low <= truth <= est.high
    print(f"5-fold x 2, corrected t: 95% interval covered the truth in {hits}/{draws} draws")
    assert 0.90 <= hits / draws <= 0.99, f"coverage {hits / draws:.3f}"


def test_an_interval_stays_within_what_the_metric_can_be():
    near_one = _units([1.0, 0.95, 1.0, 0.9, 1.0, 1.0, 0.97, 1.0, 1.0, 0.92])
    est = intervals.estimate(near_one, "m")  # bounded in [0, 1] like every rate
    assert est.high <= 1.0 and est.low < est.mean
    mcc = intervals.estimate(
        _units([-0.95, -1.0, -0.9, -1.0, -0.97]).rename(columns={"m": "mcc"}), "mcc"
    )
    assert mcc.low >= -1.0
