"""Gaussian-noise oversampling: copies of minority rows, each feature jittered by a fraction of
its spread among the minority rows (the notebook seed's "noise injection")."""

from __future__ import annotations

from numbers import Real

import numpy as np
from imblearn.over_sampling.base import BaseOverSampler
from sklearn.utils._param_validation import Interval

from imbsweep.fidelity import c2st_auc


class GaussianNoiseOverSampler(BaseOverSampler):
    """Draw minority rows with replacement and add N(0, (noise_scale * std_j)^2) to feature j.

    ``std_j`` is feature j's standard deviation over the class's training rows, so the jitter
    follows each feature's own scale (no scaling of the data is needed). A feature constant
    within the class gets no jitter; with a single minority row every copy is exact.
    After ``fit_resample``, ``info_`` holds ``synthetic_c2st_auc`` (see :mod:`imbsweep.fidelity`).
    """

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "noise_scale": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, *, sampling_strategy="auto", noise_scale=0.1, random_state=None):
        super().__init__(sampling_strategy=sampling_strategy)
        self.noise_scale = noise_scale
        self.random_state = random_state

    def _fit_resample(self, X, y):
        rng = np.random.default_rng(self.random_state)
        X_parts, y_parts = [X], [y]
        self.info_ = {}
        for cls, n_new in self.sampling_strategy_.items():
            if n_new == 0:
                continue
            real = X[y == cls]
            pick = rng.integers(0, len(real), size=n_new)
            spread = real.std(axis=0)
            noise = rng.standard_normal((n_new, X.shape[1])) * (self.noise_scale * spread)
            new = (real[pick] + noise).astype(X.dtype, copy=False)
            X_parts.append(new)
            y_parts.append(np.full(n_new, cls, dtype=y.dtype))
            if len(real) >= 2:
                self.info_["synthetic_c2st_auc"] = c2st_auc(real, new, int(rng.integers(2**31)))
        return np.vstack(X_parts), np.concatenate(y_parts)
