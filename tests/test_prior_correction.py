"""Prior-corrected probabilities: Bayes' rule for a model fitted at another minority share
(Saerens et al. 2002; Elkan 2001), the share each remedy implies, and the logged figures."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from conftest import SMALL, compose_cfg
from imblearn.under_sampling import RandomUnderSampler
from scipy.stats import norm
from sklearn.metrics import brier_score_loss, log_loss

from imbsweep import tracking
from imbsweep.data import load_dataset, split_dataset
from imbsweep.evaluation import prior_corrected
from imbsweep.methods import fit_method
from imbsweep.methods.data_aware import under_sampled_counts
from imbsweep.runner import run_job, run_seed


def _by_hand(p, prior, fit_prior):
    """Elkan (2001), Theorem 2 as odds: o' = o * [prior / (1 - prior)] / [b / (1 - b)]."""
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = p / (1 - p) * (prior / (1 - prior)) / (fit_prior / (1 - fit_prior))
        return np.where(p >= 1, 1.0, odds / (1 + odds))


def test_the_correction_is_bayes_rule_with_the_class_densities_unchanged():
    # Two Gaussian classes: the exact posterior at a 50% prior, moved to 5%, is the exact
    # posterior at 5%.
    x = np.linspace(-4, 6, 201)
    f0, f1 = norm.pdf(x, 0, 1), norm.pdf(x, 1.5, 1)

    def posterior(pi):
        return pi * f1 / (pi * f1 + (1 - pi) * f0)

    np.testing.assert_allclose(prior_corrected(posterior(0.5), 0.05, 0.5), posterior(0.05))
    np.testing.assert_allclose(prior_corrected(posterior(0.3), 0.12, 0.3), posterior(0.12))
    p = np.random.default_rng(0).uniform(0.001, 0.999, 500)
    np.testing.assert_allclose(prior_corrected(p, 0.07, 0.5), _by_hand(p, 0.07, 0.5))
    np.testing.assert_allclose(prior_corrected(p, 0.4, 0.1), _by_hand(p, 0.4, 0.1))
    # No shift, no change; certainty stays certain; the ranking is kept (ROC-AUC unchanged).
    np.testing.assert_allclose(prior_corrected(p, 0.2, 0.2), p)
    np.testing.assert_array_equal(prior_corrected([0.0, 1.0], 0.05, 0.5), [0.0, 1.0])
    assert np.array_equal(np.argsort(prior_corrected(p, 0.05, 0.5)), np.argsort(p))


def test_a_smote_run_logs_calibration_as_fitted_and_as_corrected(store):
    cfg = compose_cfg(["method=smote_rf", "seeds=[0]", "tracking.log_models=false", *SMALL])
    run_job(cfg, tracking.Tracker(log_models=False))
    (run,) = mlflow.search_runs(
        search_all_experiments=True, filter_string="tags.run_level = 'seed'", output_format="list"
    )
    m = run.data.metrics
    assert m["fit_prior"] == 0.5  # SMOTE's "auto": as many minority rows as majority
    # The same fit again, corrected by hand to the training rows' share.
    ds = load_dataset(cfg["dataset"])
    split = split_dataset(ds, cfg["split"], 0)
    score = fit_method(cfg["method"], ds, split.train, 0).score(ds.X.iloc[split.test])
    y = ds.y[split.test]
    prior = ds.y[split.train].mean()
    assert m["train_class1"] / (m["train_class0"] + m["train_class1"]) == pytest.approx(prior)
    fixed = _by_hand(score, prior, 0.5)
    assert m["brier"] == pytest.approx(brier_score_loss(y, score))
    assert m["brier_prior_corrected"] == pytest.approx(brier_score_loss(y, fixed))
    clipped = np.clip(fixed, 1e-15, 1 - 1e-15)  # as evaluation.calibration, documented there
    assert m["log_loss_prior_corrected"] == pytest.approx(log_loss(y, clipped))
    assert m["brier_prior_corrected"] < m["brier"]  # the shift was most of the error


@pytest.mark.parametrize("strategy", ["auto", "all", "majority", "not minority", "not majority"])
def test_the_implied_share_is_what_imbalanced_learns_under_sampler_leaves(strategy):
    y = np.r_[np.zeros(90, int), np.ones(10, int)]
    X = np.arange(100).reshape(-1, 1)
    for s in (strategy, 0.25, 0.5):
        _, yr = RandomUnderSampler(sampling_strategy=s, random_state=0).fit_resample(X, y)
        assert under_sampled_counts(s, 10, 90) == tuple(np.bincount(yr)), s


def test_models_that_balance_internally_get_the_share_their_sampling_implies():
    base = compose_cfg(SMALL)
    ds = load_dataset(base["dataset"])
    prior = ds.y[split_dataset(ds, base["split"], 0).train].mean()
    cases = [
        (["method=brf"], 0.5),
        (["method=balanced_bagging", "method.sampling_strategy=0.5"], 1 / 3),
        (["method=easy_ensemble", "method.n_estimators=3"], 0.5),
        (["method=rusboost", "method.n_estimators=5"], 0.5),
        (["method=balanced_bagging", "method.sampling_strategy=not majority"], prior),
    ]
    for overrides, share in cases:
        cfg = compose_cfg([*overrides, *SMALL])
        m, _ = run_seed(cfg, ds, 0, tracking.Tracker(enabled=False), None, {})
        assert m["fit_prior"] == pytest.approx(share), overrides
        # A corrected figure exactly when the model was fitted at another share.
        assert ("brier_prior_corrected" in m) == (share != prior), overrides
