"""GAN oversampling: a small Keras GAN learns the minority rows and generates new ones.

As in the notebook seed: a Dense generator and discriminator trained with adam and binary
cross-entropy, with noisy labels for stability. TensorFlow is imported only when a GAN is fitted.
"""

from __future__ import annotations

import os
import random
from numbers import Integral, Real

import numpy as np
from imblearn.over_sampling.base import BaseOverSampler
from sklearn.utils._param_validation import Interval

from imbsweep.fidelity import c2st_auc

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Label noise: real rows labelled U(1 - LABEL_NOISE, 1), generated rows U(0, LABEL_NOISE).
LABEL_NOISE = 0.1


class GANOverSampler(BaseOverSampler):
    """Generate minority rows with a GAN trained on the minority training rows only.

    Generator: latent N(0, I) -> Dense(hidden_units, relu) x 2 -> Dense(n_features).
    Discriminator: Dense(hidden_units, leaky relu) x 2 -> Dense(1) (logits). Both adam
    (``learning_rate``, beta_1 = 0.5). The rows are standardised per feature for training (so
    unscaled data trains the same) and generated rows mapped back. One epoch is
    ceil(n_rows / batch_size) steps on random mini-batches of the real rows.

    Seeded by ``random_state`` (weights, latent draws, batches): same seed, same rows.
    After ``fit_resample``, ``info_`` holds the last epoch's mean ``gan_generator_loss`` and
    ``gan_discriminator_loss``, and ``synthetic_c2st_auc`` (see :mod:`imbsweep.fidelity`);
    ``history_`` the per-epoch losses.
    """

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_units": [Interval(Integral, 1, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        sampling_strategy="auto",
        latent_dim=16,
        hidden_units=32,
        epochs=100,
        learning_rate=0.001,
        batch_size=64,
        random_state=None,
    ):
        super().__init__(sampling_strategy=sampling_strategy)
        self.latent_dim = latent_dim
        self.hidden_units = hidden_units
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.random_state = random_state

    def _fit_resample(self, X, y):
        X_parts, y_parts = [X], [y]
        self.info_, self.history_ = {}, {}
        for cls, n_new in self.sampling_strategy_.items():
            if n_new == 0:
                continue
            real = np.asarray(X[y == cls], dtype=np.float32)
            generate = self._train(real)
            new = generate(n_new).astype(X.dtype, copy=False)
            X_parts.append(new)
            y_parts.append(np.full(n_new, cls, dtype=y.dtype))
            # Fresh draws the size of the real rows: the test sees as many of each kind.
            self.info_["synthetic_c2st_auc"] = c2st_auc(real, generate(len(real)), self._seed())
        return np.vstack(X_parts), np.concatenate(y_parts)

    def _seed(self) -> int:
        return int(self.random_state or 0)

    def _train(self, real: np.ndarray):
        """Train on ``real`` (one class's rows); return ``generate(n) -> rows``."""
        from imbsweep.keras_model import dense, deterministic_tf

        deterministic_tf()  # before any TF op: same rows for a seed wherever this runs
        import keras
        import tensorflow as tf

        keras.backend.clear_session()
        keras.utils.set_random_seed(self._seed())
        draws = random.Random(self._seed())  # initial weights: see keras_model.dense
        mu, sd = real.mean(axis=0), real.std(axis=0)
        sd[sd == 0] = 1.0
        Z = tf.constant((real - mu) / sd, dtype=tf.float32)
        n, d = real.shape
        h, latent = int(self.hidden_units), int(self.latent_dim)
        gen = keras.Sequential(
            [
                keras.Input(shape=(latent,)),
                dense(h, "relu", draws),
                dense(h, "relu", draws),
                dense(d, None, draws),
            ]
        )
        disc = keras.Sequential(
            [
                keras.Input(shape=(d,)),
                dense(h, "leaky_relu", draws),
                dense(h, "leaky_relu", draws),
                dense(1, None, draws),
            ]
        )
        g_opt = keras.optimizers.Adam(learning_rate=self.learning_rate, beta_1=0.5)
        d_opt = keras.optimizers.Adam(learning_rate=self.learning_rate, beta_1=0.5)
        g_opt.build(gen.trainable_variables)
        d_opt.build(disc.trainable_variables)
        bce = keras.losses.BinaryCrossentropy(from_logits=True)
        rng = tf.random.Generator.from_seed(self._seed())
        batch = min(int(self.batch_size), n)
        steps = -(-n // batch)

        @tf.function
        def epoch():
            # All steps of an epoch in one graph call: the nets are tiny, Python calls are not.
            d_sum, g_sum = tf.constant(0.0), tf.constant(0.0)
            for _ in tf.range(steps):
                idx = rng.uniform([batch], 0, n, dtype=tf.int32)
                x = tf.gather(Z, idx)
                z = rng.normal([batch, latent])
                real_lab = 1.0 - LABEL_NOISE * rng.uniform([batch, 1])
                fake_lab = LABEL_NOISE * rng.uniform([batch, 1])
                with tf.GradientTape() as tape:
                    fake = gen(z, training=True)
                    d_loss = bce(real_lab, disc(x, training=True)) + bce(
                        fake_lab, disc(fake, training=True)
                    )
                grads = tape.gradient(d_loss, disc.trainable_variables)
                d_opt.apply_gradients(zip(grads, disc.trainable_variables, strict=True))
                z = rng.normal([batch, latent])
                with tf.GradientTape() as tape:
                    # The generator wants its rows called real.
                    g_loss = bce(tf.ones([batch, 1]), disc(gen(z, training=True), training=True))
                grads = tape.gradient(g_loss, gen.trainable_variables)
                g_opt.apply_gradients(zip(grads, gen.trainable_variables, strict=True))
                d_sum += d_loss
                g_sum += g_loss
            return d_sum / steps, g_sum / steps

        d_hist, g_hist = [], []
        for _ in range(int(self.epochs)):
            d_loss, g_loss = epoch()
            d_hist.append(float(d_loss))
            g_hist.append(float(g_loss))
        self.history_ = {"discriminator_loss": d_hist, "generator_loss": g_hist}
        self.info_["gan_discriminator_loss"] = d_hist[-1]
        self.info_["gan_generator_loss"] = g_hist[-1]

        def generate(k: int) -> np.ndarray:
            out = gen(rng.normal([k, latent]), training=False)
            return np.asarray(out) * sd + mu

        return generate
