"""The GAN and noise samplers: minority training rows only, seeded, their figures logged; and
TensorFlow stays unimported by runs that fit no net."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.utils._param_validation import InvalidParameterError

from imbsweep.config import MethodConf, check_method_values
from imbsweep.data import Dataset
from imbsweep.errors import ConfigError
from imbsweep.methods import SAMPLERS, fit_method, method_keys
from imbsweep.methods.gan_sampler import GANOverSampler
from imbsweep.methods.noise_sampler import GaussianNoiseOverSampler


def mcfg(**kw) -> dict:
    base = dataclasses.asdict(MethodConf(name="t", model="logreg"))
    return {**base, "gan_epochs": 5, **kw}


@pytest.fixture(scope="module")
def xy():
    X, y = make_classification(
        n_samples=600, n_features=5, n_informative=3, weights=[0.9, 0.1], random_state=0
    )
    return X.astype(np.float32), y


def _gan(cfg, seed, y):
    sampler, _ = SAMPLERS["gan"].build(cfg, seed, y)
    return sampler


def test_gan_learns_from_the_minority_rows_only_and_appends_rows(xy, monkeypatch):
    X, y = xy
    seen = []
    orig = GANOverSampler._train

    def spy(self, real):
        seen.append(real.copy())
        return orig(self, real)

    monkeypatch.setattr(GANOverSampler, "_train", spy)
    Xa, ya = _gan(mcfg(), 0, y).fit_resample(X, y)
    (real,) = seen
    np.testing.assert_array_equal(real, X[y == 1])
    n = len(y)
    np.testing.assert_array_equal(Xa[:n], X)  # originals first, unchanged
    assert (ya[n:] == 1).all() and (ya == 0).sum() == (y == 0).sum() == (ya == 1).sum()


def test_gan_same_seed_same_rows_other_seed_other_rows(xy):
    X, y = xy
    a, _ = _gan(mcfg(), 3, y).fit_resample(X, y)
    b, _ = _gan(mcfg(), 3, y).fit_resample(X, y)
    c, _ = _gan(mcfg(), 4, y).fit_resample(X, y)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[len(y) :], c[len(y) :])


def test_gan_ratio_and_figures(xy):
    X, y = xy
    s = _gan(mcfg(sampling_strategy=0.5), 0, y)
    _, ya = s.fit_resample(X, y)
    assert (ya == 1).sum() == int(0.5 * (y == 0).sum())
    assert set(s.info_) == {"gan_generator_loss", "gan_discriminator_loss", "synthetic_c2st_auc"}
    assert all(math.isfinite(v) for v in s.info_.values())
    assert 0 <= s.info_["synthetic_c2st_auc"] <= 1
    assert len(s.history_["generator_loss"]) == 5


def test_gan_figures_become_seed_metrics_and_keys_params(xy):
    X, y = xy
    ds = Dataset(name="t", X=pd.DataFrame(X), y=y.astype(np.int64))
    f = fit_method(mcfg(sampler="gan"), ds, np.arange(len(y)), seed=0)
    assert {"gan_generator_loss", "gan_discriminator_loss", "synthetic_c2st_auc"} <= set(f.info)
    keys = method_keys(mcfg(sampler="gan", model="mlp"))
    assert {"gan_latent_dim", "gan_hidden_units", "gan_epochs", "gan_learning_rate"} <= set(keys)
    assert {"hidden_units", "epochs"} <= set(keys)  # the classifier's own, separate


def test_two_sample_figure_tells_copies_from_strangers(xy):
    """The C2ST AUC is readable: rows from elsewhere score near 1, near-copies below 0.5."""
    from imbsweep.fidelity import c2st_auc

    X, y = xy
    real = X[y == 1]
    far = real + 5.0
    assert c2st_auc(real, far, 0) > 0.95
    near = GaussianNoiseOverSampler(noise_scale=0.01, random_state=0)
    Xn, yn = near.fit_resample(X, y)
    assert near.info_["synthetic_c2st_auc"] < 0.5


def test_noise_jitter_follows_each_features_spread(xy):
    X, y = xy
    X = X.copy()
    X[:, 0] *= 1000.0  # one feature on another scale
    s = GaussianNoiseOverSampler(noise_scale=0.1, random_state=0)
    Xa, ya = s.fit_resample(X, y)
    real, new = X[y == 1], Xa[len(y) :]
    # Each new row is a jittered copy: its nearest real row is within a few noise stds.
    sd = real.std(axis=0)
    z = (new[:, None, :] - real[None, :, :]) / sd
    nearest = real[np.argmin((z**2).sum(-1), axis=1)]
    jitter = (new - nearest) / (0.1 * sd)
    assert np.all(np.abs(jitter.std(axis=0) - 1) < 0.15)  # std of jitter ~ noise_scale x spread
    b, _ = GaussianNoiseOverSampler(noise_scale=0.1, random_state=0).fit_resample(X, y)
    np.testing.assert_array_equal(Xa, b)


@pytest.mark.parametrize(
    ("over", "head", "allowed"),
    [
        ({"sampler": "gan", "gan_epochs": 0}, "method.gan_epochs=0", "in the range [1, inf)"),
        ({"sampler": "gan", "gan_latent_dim": 0}, "method.gan_latent_dim=0", "[1, inf)"),
        ({"sampler": "gan", "gan_hidden_units": -1}, "method.gan_hidden_units=-1", "[1, inf)"),
        ({"sampler": "gan", "gan_batch_size": 0}, "method.gan_batch_size=0", "[1, inf)"),
        ({"sampler": "gan", "gan_learning_rate": 0.0}, "method.gan_learning_rate=0.0", "(0"),
        ({"sampler": "noise", "noise_scale": -0.1}, "method.noise_scale=-0.1", "(0"),
        ({"sampler": "kmeans_smote", "kmeans_clusters": 0}, "method.kmeans_clusters=0", "[1,"),
        (
            {"sampler": "kmeans_smote", "cluster_balance_threshold": 2.0},
            "method.cluster_bal",
            "[0, 1]",
        ),
        ({"model": "svm", "svm_kernel": "rbff"}, "method.svm_kernel='rbff'", "'rbf'"),
        ({"model": "svm", "svm_c": -1.0}, "method.svm_c=-1.0", "(0.0, inf]"),
        ({"model": "rusboost", "n_estimators": 0}, "method.n_estimators=0", ">= 1"),
    ],
    ids=lambda v: str(v),
)
def test_bad_values_fail_at_start_naming_the_key(over, head, allowed):
    """Our checks or the libraries' declared ones, run before anything is fitted."""
    with pytest.raises(ConfigError) as err:
        check_method_values(mcfg(**over))
    assert str(err.value).startswith(head) and allowed in str(err.value), str(err.value)


def test_keys_of_components_not_chosen_are_not_checked():
    check_method_values(mcfg(sampler="smote", gan_epochs=0, svm_kernel="rbff"))


def test_samplers_declare_their_constraints_for_direct_use(xy):
    X, y = xy
    with pytest.raises(InvalidParameterError, match="'epochs' parameter of GANOverSampler"):
        GANOverSampler(epochs=0).fit_resample(X, y)
    with pytest.raises(InvalidParameterError, match="'noise_scale'"):
        GaussianNoiseOverSampler(noise_scale=0).fit_resample(X, y)


def test_runs_without_a_net_never_import_tensorflow():
    """The start-time checks, and forests, boosting, SVMs and the noise sampler fit without
    loading TensorFlow (3-5 s a process); a GAN does load it (so the check can fail)."""
    code = """
import sys
import numpy as np, pandas as pd
from sklearn.datasets import make_classification
from imbsweep import runner  # noqa: F401  (the seed runner and tracking, imported as in a job)
from imbsweep.config import MethodConf
from imbsweep.data import Dataset
from imbsweep.methods import fit_method
import dataclasses
X, y = make_classification(n_samples=300, weights=[0.9, 0.1], random_state=0)
ds = Dataset(name="t", X=pd.DataFrame(X), y=y)
base = {**dataclasses.asdict(MethodConf(name="t", model="brf")), "n_estimators": 5,
        "gan_epochs": 2}
from imbsweep.config import check_method_values
for over in [{"sampler": "gan", "model": "mlp"}, {"model": "xgboost"}, {"model": "svm"}]:
    check_method_values({**base, **over})  # the start-time checks build, but do not fit
for over in [{"model": "brf"}, {"model": "xgboost", "class_weight": "balanced"},
             {"model": "lightgbm"}, {"model": "svm"}, {"model": "rusboost"},
             {"model": "logreg", "sampler": "noise"}, {"model": "logreg", "sampler": "smote"}]:
    fit_method({**base, **over}, ds, np.arange(300), seed=0)
print("before-gan", "tensorflow" in sys.modules, "keras" in sys.modules)
fit_method({**base, "model": "logreg", "sampler": "gan"}, ds, np.arange(300), seed=0)
print("after-gan", "tensorflow" in sys.modules)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    ).stdout.split("\n")
    assert "before-gan False False" in out and "after-gan True" in out
