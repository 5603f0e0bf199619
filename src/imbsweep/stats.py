"""The statistics behind every table: spread, confidence intervals and significance tests.

One convention everywhere: the sample standard deviation (``ddof=1``).

Within one dataset (repeated splits / seeds, paired by seed):

- :func:`mean_ci`: Student-t confidence interval of a mean.
- :func:`corrected_ttest`: Nadeau & Bengio's (2003) corrected resampled t-test. With resampled
  train/test splits the per-split differences are correlated (training sets overlap), so the
  plain paired t-test is anti-conservative; the correction multiplies the variance of the mean
  difference by ``1/J + n_test/n_train`` instead of ``1/J``. With ``test_train_ratio=0`` it is
  the plain paired t-test (right when only the model seed varied: one split, no overlap issue,
  but then the answer holds for that split only).
- :func:`wilcoxon`: Wilcoxon signed-rank test (scipy).
- :func:`holm`: Holm's step-down adjustment of a family of p-values (statsmodels).

Across datasets (Demsar 2006, JMLR 7:1-30):

- :func:`friedman`: average ranks, Friedman's chi-square (scipy) and the Iman-Davenport F.
- :func:`nemenyi`: all-pairs Nemenyi p-values (scikit-posthocs) and the critical difference.
- :func:`holm_vs_control`: each method against the best-ranked one, z-tests on ranks, Holm.
- :func:`cd_diagram`: the critical-difference diagram (scikit-posthocs) as a PNG.
- :func:`bayes_signed_rank`: Benavoli et al.'s (2017) Bayesian signed-rank test per pair
  (baycomp): probabilities that one method is better, that both are practically equal (within a
  ROPE), or that the other is better; unlike a p-value, it can say "equivalent".

scikit-posthocs was chosen over autorank (which decides for the user which test to run, by
normality checks, and draws its own diagram) and baycomp (Bayesian tests only): it exposes each
frequentist test as a function we can check against the paper, and draws the CD diagram from
any significance matrix; baycomp is used beside it for the Bayesian signed-rank test only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps


def sample_std(values) -> float:
    """Sample standard deviation (ddof=1); 0 for fewer than two values."""
    v = np.asarray(values, dtype=float)
    return float(v.std(ddof=1)) if v.size > 1 else 0.0


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: Student-t interval with the sample std; NaN bounds for n < 2."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if v.size < 2:
        return m, math.nan, math.nan
    half = float(sps.t.ppf(0.5 + confidence / 2, v.size - 1) * sample_std(v) / math.sqrt(v.size))
    return m, m - half, m + half


@dataclass(frozen=True)
class TTest:
    statistic: float
    pvalue: float
    df: int


def corrected_ttest(a, b, test_train_ratio: float) -> TTest:
    """Two-sided corrected resampled t-test of paired scores ``a`` vs ``b`` (Nadeau & Bengio).

    ``test_train_ratio`` is n_test / n_train of one resample (0: the plain paired t-test).
    Constant differences have no variance: identical scores give p = 1, a constant non-zero
    shift p = 0 (as consistent as a difference gets).
    """
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    d = d[np.isfinite(d)]
    j = d.size
    if j < 2:
        return TTest(math.nan, math.nan, max(j - 1, 0))
    var = d.var(ddof=1)
    if np.isclose(var, 0.0, atol=1e-24):
        same = np.isclose(d.mean(), 0.0, atol=1e-12)
        return TTest(
            0.0 if same else math.copysign(math.inf, d.mean()), 1.0 if same else 0.0, j - 1
        )
    t = d.mean() / math.sqrt((1.0 / j + float(test_train_ratio)) * var)
    return TTest(float(t), float(2 * sps.t.sf(abs(t), j - 1)), j - 1)


def wilcoxon(a, b) -> float:
    """Two-sided Wilcoxon signed-rank p-value (scipy); 1.0 when every difference is zero."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0 or np.allclose(d, 0.0, atol=1e-12):
        return 1.0
    return float(sps.wilcoxon(d).pvalue)


def bayes_signed_rank(
    a, b, rope: float = 0.01, higher_is_better: bool = True, nsamples: int = 20000, seed: int = 0
) -> tuple[float, float, float]:
    """``(P(a better), P(practically equal), P(b better))`` across datasets (baycomp).

    Benavoli et al. (2017)'s Bayesian signed-rank test on paired per-dataset scores: the
    posterior of the differences lying left of, within, or right of the region of practical
    equivalence ``[-rope, rope]`` (in the metric's units). Sampled with a fixed seed, so the
    same scores give the same probabilities.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not higher_is_better:
        x, y = -x, -y
    # baycomp's SignedRankTest.sample (with a ROPE), its draws and arithmetic, as one matrix
    # product instead of a Python loop over samples: 117 datasets x 15 pairs took minutes.
    # "Left" is x > y (the test samples y - x); tests/test_stats.py compares with baycomp.
    diff = np.concatenate(([0.0], y - x))
    sums = diff[:, None] + diff[None, :]

    def share(values: np.ndarray) -> np.ndarray:  # baycomp's heaviside: ties count half
        return (values > 2 * rope) + 0.5 * (values == 2 * rope)

    weights = np.ones(len(diff))
    weights[0] = 0.5  # baycomp's prior
    w = np.random.RandomState(seed).dirichlet(weights, nsamples)
    samples = np.zeros((nsamples, 3))
    samples[:, 0] = ((w @ share(-sums)) * w).sum(axis=1)
    samples[:, 2] = ((w @ share(sums)) * w).sum(axis=1)
    samples[:, 1] = 1 - samples[:, 0] - samples[:, 2]
    left, within, right = np.bincount(samples.argmax(axis=1), minlength=3) / nsamples
    return float(left), float(within), float(right)


def holm(pvalues) -> np.ndarray:
    """Holm-adjusted p-values; NaNs stay NaN, out of the family.

    Holm's step-down in three lines, checked against statsmodels' ``multipletests`` in the
    tests: that function runs a full garbage collection on every call, 0.2-0.3 s each in a
    sweep's process (most of the time the report took).
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    q = p[ok]
    if q.size:
        order = np.argsort(q, kind="stable")
        m = q.size
        adj = np.minimum(np.maximum.accumulate((m - np.arange(m)) * q[order]), 1.0)
        res = np.empty(m)
        res[order] = adj
        out[ok] = res
    return out


# ---------------------------------------------------------------- across datasets


@dataclass(frozen=True)
class Friedman:
    avg_ranks: pd.Series  # per method, 1 = best
    n_datasets: int
    chi2: float
    pvalue: float
    iman_davenport: float
    pvalue_id: float


def _complete(scores: pd.DataFrame) -> pd.DataFrame:
    s = scores.dropna(axis=0, how="any")
    if s.shape[1] < 2 or s.shape[0] < 2:
        raise ValueError(
            f"need >= 2 methods and >= 2 datasets where every method has a value; "
            f"got {s.shape[1]} method(s) on {s.shape[0]} complete dataset(s)"
        )
    return s


def ranks(scores: pd.DataFrame, higher_is_better: bool = True) -> pd.DataFrame:
    """Per-dataset ranks (1 = best, ties share the average rank), scipy's ``rankdata``."""
    vals = -scores.to_numpy(float) if higher_is_better else scores.to_numpy(float)
    return pd.DataFrame(sps.rankdata(vals, axis=1), index=scores.index, columns=scores.columns)


def friedman(scores: pd.DataFrame, higher_is_better: bool = True) -> Friedman:
    """Friedman test on a dataset x method table (complete rows only).

    chi2 is scipy's ``friedmanchisquare`` (with its correction for ties); the Iman-Davenport
    statistic F = (N-1) chi2 / (N (k-1) - chi2) follows F(k-1, (k-1)(N-1)) and is less
    conservative than chi2 (Demsar 2006, section 3.2.2).
    """
    s = _complete(scores)
    n, k = s.shape
    r = ranks(s, higher_is_better)
    if k < 3:
        # scipy's Friedman needs 3 groups; with 2 the Wilcoxon test is the one to use.
        return Friedman(r.mean(), n, math.nan, math.nan, math.nan, math.nan)
    if (r.nunique(axis=1) == 1).all():  # every dataset ties every method: nothing to test
        return Friedman(r.mean(), n, 0.0, 1.0, 0.0, 1.0)
    res = sps.friedmanchisquare(*[s[c].to_numpy(float) for c in s.columns])
    chi2 = float(res.statistic)
    ff, p_ff = iman_davenport(chi2, n, k)
    return Friedman(r.mean(), n, chi2, float(res.pvalue), ff, p_ff)


def iman_davenport(chi2: float, n: int, k: int) -> tuple[float, float]:
    """``(F, p)``: F = (N-1) chi2 / (N (k-1) - chi2) on F(k-1, (k-1)(N-1))."""
    denom = n * (k - 1) - chi2
    if denom <= 0:  # every dataset ranks the methods the same way
        return math.inf, 0.0
    ff = (n - 1) * chi2 / denom
    return float(ff), float(sps.f.sf(ff, k - 1, (k - 1) * (n - 1)))


def critical_difference(k: int, n: int, alpha: float = 0.05) -> float:
    """Nemenyi's CD = q_alpha sqrt(k(k+1)/(6N)), q_alpha the studentized range / sqrt(2)."""
    q = sps.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6.0 * n)))


def nemenyi(
    scores: pd.DataFrame, higher_is_better: bool = True, alpha: float = 0.05
) -> tuple[pd.DataFrame, float]:
    """All-pairs Nemenyi p-values (scikit-posthocs) and the critical difference of mean ranks."""
    import scikit_posthocs as sp

    s = _complete(scores)
    # scikit-posthocs ranks ascending; negate so rank 1 is the best method.
    data = -s if higher_is_better else s
    p = sp.posthoc_nemenyi_friedman(data.reset_index(drop=True))
    p = p.reindex(index=list(s.columns), columns=list(s.columns))  # it may sort the names
    return p, critical_difference(s.shape[1], s.shape[0], alpha)


def holm_vs_control(avg_ranks: pd.Series, n_datasets: int, control: str | None = None):
    """Each method against ``control`` (default: the best mean rank), Demsar's z-test on
    mean ranks, z = (R_i - R_0) / sqrt(k(k+1)/(6N)), with Holm-adjusted p-values."""
    k = len(avg_ranks)
    control = control or str(avg_ranks.idxmin())
    se = math.sqrt(k * (k + 1) / (6.0 * n_datasets))
    others = avg_ranks.drop(control)
    z = (others - avg_ranks[control]) / se  # > 0: ranked worse than the control
    p = 2 * sps.norm.sf(np.abs(z.to_numpy(float)))
    return pd.DataFrame(
        {
            "control": control,
            "method": others.index,
            "rank_diff": (others - avg_ranks[control]).to_numpy(float),
            "z": z.to_numpy(float),
            "p": p,
            "p_holm": holm(p),
        }
    )


def cd_diagram(
    avg_ranks: pd.Series, sig: pd.DataFrame, path: Path, title: str, cd: float | None = None
) -> Path:
    """Critical-difference diagram: methods on the mean-rank axis, bars join methods whose
    difference is not significant in ``sig`` (a p-value matrix, e.g. Nemenyi's)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import scikit_posthocs as sp

    fig, ax = plt.subplots(figsize=(8, 0.35 * len(avg_ranks) + 1.8))
    sp.critical_difference_diagram(avg_ranks.to_dict(), sig, ax=ax)
    if cd is not None:
        title += f"\n(Nemenyi CD = {cd:.2f})"
    ax.set_title(title, fontsize=10, pad=22)  # above the rank axis labels
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
