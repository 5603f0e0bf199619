"""Each statistic against scipy / scikit-posthocs on fixed inputs and against Demsar (2006)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from imbsweep import stats

# Demsar, J. (2006). Statistical Comparisons of Classifiers over Multiple Data Sets. JMLR 7:1-30,
# Table 6 (AUC of four C4.5 variants on 14 UCI sets) and section 3.2.2's worked example.
# The paper ranks "voting" C4.5+cf 2nd and C4.5+m+cf 3rd although both print as 0.975 (the
# unrounded values differ): 0.9751 reproduces its ranks.
DEMSAR = pd.DataFrame(
    [
        [0.763, 0.768, 0.771, 0.798],
        [0.599, 0.591, 0.590, 0.569],
        [0.954, 0.971, 0.968, 0.967],
        [0.628, 0.661, 0.654, 0.657],
        [0.882, 0.888, 0.886, 0.898],
        [0.936, 0.931, 0.916, 0.931],
        [0.661, 0.668, 0.609, 0.685],
        [0.583, 0.583, 0.563, 0.625],
        [0.775, 0.838, 0.866, 0.875],
        [1.000, 1.000, 1.000, 1.000],
        [0.940, 0.962, 0.965, 0.962],
        [0.619, 0.666, 0.614, 0.669],
        [0.972, 0.981, 0.9751, 0.975],
        [0.957, 0.978, 0.946, 0.970],
    ],
    columns=["C4.5", "C4.5+m", "C4.5+cf", "C4.5+m+cf"],
)


def test_demsar_average_ranks_and_friedman():
    f = stats.friedman(DEMSAR)
    # The paper's average ranks: 3.143, 2.000, 2.893, 1.964.
    assert f.avg_ranks.round(3).tolist() == [3.143, 2.000, 2.893, 1.964]
    n, k = DEMSAR.shape
    # The paper's chi2_F = 9.28 has no correction for ties; F_F = 3.69 follows from it.
    r = f.avg_ranks.to_numpy()
    chi2_paper = 12 * n / (k * (k + 1)) * ((r**2).sum() - k * (k + 1) ** 2 / 4)
    assert chi2_paper == pytest.approx(9.28, abs=0.005)
    ff, p_ff = stats.iman_davenport(chi2_paper, n, k)
    assert ff == pytest.approx(3.69, abs=0.005)
    # "The critical value of F(3, 39) for alpha = 0.05 is 2.85, so we reject the null-hypothesis."
    assert sps.f.ppf(0.95, 3, 39) == pytest.approx(2.85, abs=0.005)
    assert p_ff < 0.05
    # Ours is scipy's tie-corrected chi2: the paper's divided by scipy's tie correction factor.
    ranks = stats.ranks(DEMSAR).to_numpy()
    ties = sum((c**3 - c).sum() for c in (np.unique(row, return_counts=True)[1] for row in ranks))
    corr = 1 - ties / (n * k * (k**2 - 1))
    assert f.chi2 == pytest.approx(chi2_paper / corr, rel=1e-3)
    assert f.chi2 == pytest.approx(sps.friedmanchisquare(*DEMSAR.to_numpy().T).statistic)
    assert f.iman_davenport == pytest.approx(stats.iman_davenport(f.chi2, n, k)[0])


def test_demsar_nemenyi_critical_difference():
    p, cd = stats.nemenyi(DEMSAR)
    # q_0.05 = 2.569 for k = 4 and CD = 1.25; at alpha 0.10, q = 2.291 and CD = 1.12.
    assert cd == pytest.approx(1.25, abs=0.005)
    assert stats.critical_difference(4, 14, 0.10) == pytest.approx(1.12, abs=0.005)
    # "even the difference between the best and the worst ... is smaller": nothing significant.
    assert (p.to_numpy() > 0.05).all()
    # The matrix keeps our column order and agrees with the CD: largest rank gap 1.179 < 1.25.
    assert list(p.columns) == list(DEMSAR.columns)
    assert p.loc["C4.5", "C4.5+m+cf"] == p.loc["C4.5+m+cf", "C4.5"]


def test_demsar_holm_against_control():
    f = stats.friedman(DEMSAR)
    h = stats.holm_vs_control(f.avg_ranks, 14, control="C4.5").set_index("method")
    # The paper's table: z = 2.416, 2.342, 0.512; p = 0.016, 0.019, 0.607 (C4.5 as control).
    assert (-h["z"]).round(2).to_dict() == {"C4.5+m": 2.34, "C4.5+cf": 0.51, "C4.5+m+cf": 2.42}
    # (The paper rounds SE to 0.488; unrounded, 0.607 comes out as 0.608.)
    expected = {"C4.5+m": 0.019, "C4.5+cf": 0.607, "C4.5+m+cf": 0.016}
    assert h["p"].to_dict() == pytest.approx(expected, abs=0.0015)
    # Holm rejects the first two at 0.05 (p < alpha/i), not the third.
    assert (h["p_holm"] < 0.05).to_dict() == {"C4.5+m": True, "C4.5+cf": False, "C4.5+m+cf": True}


def test_mean_ci_matches_scipy_t_interval():
    v = np.array([0.61, 0.55, 0.58, 0.60, 0.57, 0.59])
    m, lo, hi = stats.mean_ci(v)
    ref = sps.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=sps.sem(v))
    assert m == pytest.approx(v.mean())
    assert (lo, hi) == pytest.approx(ref)
    assert stats.sample_std(v) == pytest.approx(v.std(ddof=1))
    assert math.isnan(stats.mean_ci([0.5])[1])
    assert stats.sample_std([0.5]) == 0.0


def test_corrected_ttest():
    rng = np.random.default_rng(0)
    a = rng.normal(0.6, 0.03, 10)
    b = a - rng.normal(0.01, 0.02, 10)
    plain = stats.corrected_ttest(a, b, 0.0)
    ref = sps.ttest_rel(a, b)
    assert plain.statistic == pytest.approx(ref.statistic)
    assert plain.pvalue == pytest.approx(ref.pvalue)
    # Nadeau & Bengio: variance x (1/J + n_test/n_train); test_size 0.2 -> ratio 0.25.
    c = stats.corrected_ttest(a, b, 0.25)
    d = a - b
    t = d.mean() / math.sqrt((1 / 10 + 0.25) * d.var(ddof=1))
    assert c.statistic == pytest.approx(t)
    assert c.pvalue == pytest.approx(2 * sps.t.sf(abs(t), 9))
    assert c.pvalue > plain.pvalue  # the correction is more conservative
    assert stats.corrected_ttest(a, a, 0.25).pvalue == 1.0
    assert stats.corrected_ttest(a + 0.1, a, 0.25).pvalue == 0.0


def test_wilcoxon_and_holm_match_libraries():
    a = np.array([0.8, 0.7, 0.9, 0.65, 0.72, 0.81, 0.77, 0.69])
    b = np.array([0.75, 0.71, 0.85, 0.6, 0.7, 0.8, 0.7, 0.66])
    assert stats.wilcoxon(a, b) == pytest.approx(sps.wilcoxon(a, b).pvalue)
    assert stats.wilcoxon(a, a) == 1.0
    from statsmodels.stats.multitest import multipletests

    p = [0.01, 0.04, 0.03, np.nan, 0.2]
    adj = stats.holm(p)
    ref = multipletests([0.01, 0.04, 0.03, 0.2], method="holm")[1]
    assert np.isnan(adj[3])
    assert adj[[0, 1, 2, 4]] == pytest.approx(ref)
    # By hand: sorted 0.01, 0.03, 0.04, 0.2 -> x4, x3, x2, x1 with the running maximum.
    assert adj[[0, 2, 1, 4]] == pytest.approx([0.04, 0.09, 0.09, 0.2])
    # Ties, values capped at 1, families of 1 to 30: identical to statsmodels.
    rng = np.random.default_rng(0)
    for m in [1, 2, 5, 30]:
        for _ in range(20):
            q = np.round(rng.uniform(0, 0.6, m), 2)
            assert stats.holm(q) == pytest.approx(multipletests(q, method="holm")[1], abs=1e-12)


def test_nemenyi_matches_scikit_posthocs_and_cd_diagram(tmp_path):
    import scikit_posthocs as sp

    rng = np.random.default_rng(1)
    scores = pd.DataFrame(rng.uniform(size=(12, 5)), columns=list("edcba"))
    scores["a"] += 0.4
    p, _ = stats.nemenyi(scores)
    ref = sp.posthoc_nemenyi_friedman(-scores)
    for x in scores.columns:
        for y in scores.columns:
            assert p.loc[x, y] == pytest.approx(ref.loc[x, y])
    f = stats.friedman(scores)
    assert f.avg_ranks.idxmin() == "a"
    png = stats.cd_diagram(f.avg_ranks, p, tmp_path / "cd.png", "test", 1.0)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_too_few_datasets_is_one_clear_error():
    with pytest.raises(ValueError, match="complete dataset"):
        stats.friedman(DEMSAR.iloc[:1])


def test_bayesian_signed_rank_matches_baycomp_and_reads_right():
    from baycomp import SignedRankTest

    rng = np.random.default_rng(0)
    b = rng.uniform(0.5, 0.9, 20)
    a = b + 0.05 + rng.normal(0, 0.01, 20)  # a better on every set, beyond the ROPE
    got = stats.bayes_signed_rank(a, b, rope=0.01, nsamples=5000, seed=3)
    ref = SignedRankTest.probs(a, b, rope=0.01, nsamples=5000, random_state=3)
    assert got == pytest.approx(tuple(ref))
    assert got[0] > 0.95 and sum(got) == pytest.approx(1.0)
    assert stats.bayes_signed_rank(a, b, nsamples=5000, seed=3) == got  # seeded: repeatable
    # the other way round, or lower-is-better: the mass moves to the other side
    assert stats.bayes_signed_rank(b, a, nsamples=5000)[2] > 0.95
    assert stats.bayes_signed_rank(a, b, higher_is_better=False, nsamples=5000)[2] > 0.95
    # differences well inside the ROPE: practically equal, which no p-value can say
    near = b + rng.normal(0, 0.001, 20)
    assert stats.bayes_signed_rank(near, b, rope=0.01, nsamples=5000)[1] > 0.95


@pytest.mark.parametrize("n", [5, 30, 117])
def test_bayesian_signed_rank_gives_baycomps_probabilities_exactly(n):
    # Our vectorised sampler draws what baycomp draws: the same probabilities, not close ones,
    # on close calls and ties (scores rounded to 0.01, ROPE 0.01) too.
    from baycomp import SignedRankTest

    rng = np.random.default_rng(n)
    for shift in (0.0, 0.004, 0.02):
        b = np.round(rng.uniform(0.4, 0.9, n), 2)
        a = np.round(b + shift + rng.normal(0, 0.02, n), 2)
        for rope in (0.0, 0.01):
            got = stats.bayes_signed_rank(a, b, rope=rope, nsamples=3000, seed=7)
            ref = SignedRankTest(a, b, rope=rope, nsamples=3000, random_state=7).probs()
            assert got == tuple(float(v) for v in ref)


def test_significance_carries_the_bayesian_test_per_pair():
    from imbsweep.cross_dataset import significance, significance_markdown

    rng = np.random.default_rng(1)
    rows = []
    for d in range(8):
        base = rng.uniform(0.4, 0.8)
        for m, shift in (("x", 0.1), ("y", 0.0), ("z", 0.001)):
            rows.append({"dataset": f"d{d}", "method": m, "seed": 0, "minority_f1": base + shift})
    sig = significance(pd.DataFrame(rows), "minority_f1", rope=0.01)
    w = sig["wilcoxon"].set_index(["method", "opponent"])
    assert w.loc[("x", "y"), "p_bayes_better"] > 0.9
    assert w.loc[("y", "z"), "p_bayes_rope"] > 0.9
    assert "P(better/equal/worse)" in significance_markdown(sig)
