"""A seed fixes a net's numbers even while other threads draw random numbers.

Dask's event loop and MLflow's retries draw from Python's process-wide ``random`` in their own
threads; Keras seeds unseeded initializers from it. Before the nets drew their initial weights'
seeds from their own ``random.Random(seed)``, a drawing thread changed a net's weights.
"""

from __future__ import annotations

import contextlib
import random
import sys
import threading

import numpy as np
from sklearn.datasets import make_classification

from imbsweep.keras_model import KerasMLP
from imbsweep.methods.gan_sampler import GANOverSampler


@contextlib.contextmanager
def another_thread_drawing_from_random():
    stop = threading.Event()

    def draw():
        while not stop.is_set():
            random.random()

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # hand the GIL over often, so the draws land mid-build
    t = threading.Thread(target=draw, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()
        sys.setswitchinterval(old)


def _xy():
    X, y = make_classification(
        n_samples=300,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        weights=[0.9, 0.1],
        random_state=0,
    )
    return X.astype(np.float32), y


def test_a_nets_weights_ignore_other_threads_draws():
    X, y = _xy()
    alone = KerasMLP(epochs=1, seed=3).fit(X, y).model_.get_weights()
    with another_thread_drawing_from_random():
        busy = [KerasMLP(epochs=1, seed=3).fit(X, y).model_.get_weights() for _ in range(3)]
    for weights in busy:
        for a, b in zip(alone, weights, strict=True):
            np.testing.assert_array_equal(a, b)
    other = KerasMLP(epochs=1, seed=4).fit(X, y).model_.get_weights()
    assert not np.array_equal(alone[0], other[0])


def test_a_gans_rows_ignore_other_threads_draws():
    X, y = _xy()

    def rows():
        return GANOverSampler(epochs=2, random_state=5).fit_resample(X, y)[0]

    alone = rows()
    with another_thread_drawing_from_random():
        busy = [rows() for _ in range(2)]
    for b in busy:
        np.testing.assert_array_equal(alone, b)


def test_a_kept_net_gives_a_new_nets_numbers_and_fitted_nets_stay_their_own():
    from imbsweep import keras_model

    X, y = _xy()
    cw = {0: 1.0, 1: 9.0}

    def fit(seed, **kw):
        return KerasMLP(**{"epochs": 2, "seed": seed, "steps_per_execution": 4, **kw}).fit(X, y)

    keras_model.deterministic_tf()  # its warm-up fit keeps a net too
    keras_model._TRAINERS.clear()
    first = fit(3, class_weight=cw)
    first_w = first.model_.get_weights()
    assert len(keras_model._TRAINERS) == 1
    fit(4)  # trains the kept net further: must not leak into the next fit or into `first`
    again = fit(3, class_weight=cw)
    early = [fit(5, early_stopping=1, epochs=6).model_.get_weights() for _ in range(2)]
    assert len(keras_model._TRAINERS) == 1  # one architecture, one kept net
    keras_model._TRAINERS.clear()
    new = fit(3, class_weight=cw)
    new_early = fit(5, early_stopping=1, epochs=6).model_.get_weights()
    for a, b, c, d in zip(
        first_w,
        again.model_.get_weights(),
        new.model_.get_weights(),
        first.model_.get_weights(),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(a, d)
    for ws in early[1:] + [new_early]:
        for a, b in zip(early[0], ws, strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first.predict_proba(X), new.predict_proba(X))


def test_input_autotuning_is_off_and_changes_no_number():
    """tf.data's autotuner idled a one-core worker ~0.3 s an epoch (_no_input_autotuning).

    The pipeline Keras builds for a fit has autotuning off, and a net trained through it equals
    one trained through Keras' own pipeline, weight for weight (class weights, early stopping).
    """
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    from imbsweep import keras_model

    keras_model.deterministic_tf()
    X, y = _xy()
    wrapped = ArrayDataAdapter.get_tf_dataset
    assert wrapped._imbsweep_no_autotune
    ds = ArrayDataAdapter(X, y, batch_size=32, shuffle=True).get_tf_dataset()
    assert ds.options().autotune.enabled is False

    def weights(**kw):
        return KerasMLP(epochs=3, seed=5, **kw).fit(X, y).model_.get_weights()

    settings = [{}, {"class_weight": {0: 1.0, 1: 4.0}}, {"early_stopping": 1}]
    ours = [weights(**kw) for kw in settings]
    original = wrapped.keras_builder
    try:
        ArrayDataAdapter.get_tf_dataset = original
        own = ArrayDataAdapter(X, y, batch_size=32).get_tf_dataset()
        assert own.options().autotune.enabled is not False  # unset: on
        kerases = [weights(**kw) for kw in settings]
    finally:
        ArrayDataAdapter.get_tf_dataset = wrapped
    for a, b in zip(ours, kerases, strict=True):
        for x, z in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, z)
