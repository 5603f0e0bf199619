"""The practical's small Keras net behind a scikit-learn-like ``fit`` / ``predict_proba``."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
from collections import OrderedDict

import numpy as np

# Keep TensorFlow's start-up chatter out of users' consoles; set before the first import.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

log = logging.getLogger(__name__)


_TF_READY = False

# Compiled nets kept for reuse, by architecture: Keras traces a new model's train step (~1 s,
# most of a small set's fit); a kept net gets the new seed's initial weights and a reset
# optimizer instead, which gives the same numbers bit for bit (tests/test_net_seeding.py).
_TRAINERS: OrderedDict[tuple, tuple] = OrderedDict()
_TRAINERS_MAX = 64  # architectures (a cross-dataset sweep has one per feature count)
_TRAINERS_LOCK = threading.Lock()


def dense(units: int, activation: str | None, draws: random.Random):
    """A Dense layer whose initial weights come from ``draws``, not from Python's global ``random``.

    Keras seeds an unseeded initializer from the process-wide ``random`` module, which any
    thread may draw from between seeding and building the net (Dask's event loop, MLflow's
    retries): the same seed then gave other weights, now and then, in a Dask worker. ``draws``
    is ``random.Random(seed)``, so the seeds are those Keras drew after ``set_random_seed``.
    """
    import keras

    init = keras.initializers.GlorotUniform(seed=draws.randint(1, int(1e9)))
    return keras.layers.Dense(units, activation=activation, kernel_initializer=init)


def deterministic_tf() -> None:
    """Make a seed give the same numbers wherever TensorFlow runs (call before any TF op).

    Deterministic kernels, and one thread for them: oneDNN's results depend on how many threads
    split the work, so a unit run in the driver, on a local Dask worker (where Dask sets
    OMP_NUM_THREADS=1) or on a cluster machine with other cores would otherwise differ.
    Nets here are small: one thread costs little, and a sweep runs one worker per core anyway.
    (Initial weights are seeded per net, see ``dense``.)
    """
    global _TF_READY
    if _TF_READY:
        return
    _TF_READY = True
    os.environ["OMP_NUM_THREADS"] = "1"
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError as exc:  # TF already ran ops in this process (outside imbsweep)
        log.warning("TensorFlow threads already fixed, results may depend on them: %s", exc)
    tf.config.experimental.enable_op_determinism()
    _no_input_autotuning(tf)
    # One tiny fit loads what Keras imports lazily (trainer, data adapters, optimizer), so the
    # heap frozen below holds it too.
    KerasMLP(epochs=1, seed=0, class_weight={0: 1.0, 1: 2.0}).fit(
        np.zeros((8, 2), dtype=np.float32), np.array([0, 1] * 4)
    )
    import gc

    import keras  # noqa: F401

    # Full garbage collections (Python's own, and one per Keras clear_session in the GAN) took
    # ~0.3 s each over TensorFlow's millions of long-lived objects, a fifth of a small net's
    # fit. Frozen, they are no longer scanned; what is garbage now is collected first.
    gc.collect()
    gc.freeze()


def _no_input_autotuning(tf) -> None:
    """Turn tf.data's autotuning off in the input pipeline Keras builds for ``fit`` (arrays).

    In a process kept to one core (a pinned Dask worker, ``taskset``), every epoch after the
    first waited ~0.3 s with the core idle for the autotuner's background thread, which sleeps
    on a growing timer: measured here, a 5-epoch fit of 10,000 rows took 3.1 s for 1.6 s of
    CPU. Autotuning only sizes buffers and parallel calls; rows, order and weights stay the
    same (tests/test_net_seeding.py). Keras offers no option for it, so its builder is wrapped.
    """
    try:
        from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter
    except ImportError:  # another Keras layout: keep its defaults
        log.warning("Keras' array data adapter not found: tf.data autotuning stays on")
        return
    build = ArrayDataAdapter.get_tf_dataset
    if getattr(build, "_imbsweep_no_autotune", False):
        return

    def get_tf_dataset(self):
        options = tf.data.Options()
        options.autotune.enabled = False
        return build(self).with_options(options)

    get_tf_dataset._imbsweep_no_autotune = True
    get_tf_dataset.keras_builder = build  # Keras' own, for comparing against it
    ArrayDataAdapter.get_tf_dataset = get_tf_dataset


class KerasMLP:
    """Dense(hidden_units, relu) -> Dense(1, sigmoid), adam, binary cross-entropy.

    ``steps_per_execution`` only batches optimizer steps per graph call (same updates, about
    twice as fast on this CPU); ``class_weight`` is passed to ``fit`` as in the practical.
    ``loss="focal"``: Keras' BinaryFocalCrossentropy with class balancing; ``focal_alpha`` is
    the positive (minority) class's weight (1 - alpha the majority's), ``focal_gamma`` the focus
    on hard rows (0 = weighted cross-entropy).
    ``early_stopping`` > 0: hold out a stratified 10% of the rows it is given, stop when their
    loss has not improved for that many epochs (``epochs`` is then the cap) and keep the best
    weights; ``epochs_run_`` says how many ran.
    ``min_steps`` > 0: at least that many optimizer steps in all, whatever the data's size (5
    epochs of 300 rows are 50 steps; of 8,000 rows, 1,250). The rows are repeated within each
    epoch rather than running more epochs: the same number of updates with far fewer Keras epoch
    boundaries, which dominate the cost on small sets. ``passes_`` is the passes over the rows.
    """

    def __init__(
        self,
        hidden_units: int = 16,
        epochs: int = 5,
        batch_size: int = 32,
        learning_rate: float = 0.001,
        steps_per_execution: int = 1,
        seed: int = 0,
        class_weight: dict[int, float] | None = None,
        loss: str = "bce",
        focal_gamma: float = 2.0,
        focal_alpha: float = 0.25,
        early_stopping: int = 0,
        min_steps: int = 0,
    ):
        self.hidden_units = hidden_units
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.steps_per_execution = steps_per_execution
        self.seed = seed
        self.class_weight = class_weight
        self.loss = loss
        self.focal_gamma = focal_gamma
        self.focal_alpha = focal_alpha
        self.early_stopping = early_stopping
        self.min_steps = min_steps
        self.epochs_run_: int | None = None
        self.passes_: int | None = None

    def _loss(self):
        import keras

        if self.loss == "focal":
            return keras.losses.BinaryFocalCrossentropy(
                apply_class_balancing=True, alpha=self.focal_alpha, gamma=self.focal_gamma
            )
        return "binary_crossentropy"

    def _build(self, n_features: int, draws: random.Random):
        import keras

        model = keras.Sequential(
            [
                keras.Input(shape=(n_features,)),
                dense(self.hidden_units, "relu", draws),
                dense(1, "sigmoid", draws),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=self.learning_rate),
            loss=self._loss(),
            steps_per_execution=self.steps_per_execution,
        )
        return model

    @contextlib.contextmanager
    def _trainer(self, n_features: int, start: list):
        """A compiled net of this architecture with weights ``start`` and a fresh optimizer."""
        import keras

        key = (
            n_features,
            self.hidden_units,
            float(self.learning_rate),
            self.loss,
            float(self.focal_gamma),
            float(self.focal_alpha),
            self.steps_per_execution,
        )
        with _TRAINERS_LOCK:
            kept = _TRAINERS.pop(key, None)  # out of the cache while in use: threads never share
        if kept is None:
            model = self._build(n_features, random.Random(int(self.seed)))
            model.optimizer.build(model.trainable_variables)
            fresh = [v.numpy() for v in model.optimizer.variables]
        else:
            model, fresh = kept
            for v, value in zip(model.optimizer.variables, fresh, strict=True):
                v.assign(value)
        model.set_weights(start)
        keras.utils.set_random_seed(int(self.seed))  # the data pipeline's shuffling
        yield model
        with _TRAINERS_LOCK:
            _TRAINERS[key] = (model, fresh)
            while len(_TRAINERS) > _TRAINERS_MAX:
                _TRAINERS.popitem(last=False)

    def fit(self, X: np.ndarray, y: np.ndarray) -> KerasMLP:
        import keras

        # Seeded RNGs: same seed -> same weights -> same predictions, whatever ran before in
        # this process and however loaded the machine is (deterministic op kernels; on this CPU
        # they give the same numbers as the defaults). The net returned is its own: the one
        # trained is kept for the next fit of this architecture.
        deterministic_tf()
        # No clear_session: the nets do not depend on Keras' global state, and its full garbage
        # collection took a fifth of a worker's time on a cross-dataset sweep.
        keras.utils.set_random_seed(int(self.seed))
        model = self._build(X.shape[1], random.Random(int(self.seed)))
        y = np.asarray(y, dtype=np.float32)
        kw: dict = {}
        if self.early_stopping > 0:
            from sklearn.model_selection import train_test_split

            # Stratified and shuffled (Keras' validation_split takes the last rows: after a
            # sampler those are all synthetic minority rows).
            fit_i, val_i = train_test_split(
                np.arange(len(y)), test_size=0.1, stratify=y, random_state=int(self.seed)
            )
            X, y, Xv, yv = X[fit_i], y[fit_i], X[val_i], y[val_i]
            stop = keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=self.early_stopping, restore_best_weights=True
            )
            kw = {"validation_data": (Xv, yv), "callbacks": [stop]}
        if self.min_steps > 0:
            import math

            passes = math.ceil(self.min_steps / math.ceil(len(y) / self.batch_size))
            reps = max(1, math.ceil(passes / self.epochs))
            if reps > 1:
                X, y = np.tile(X, (reps, 1)), np.tile(y, reps)
            self.passes_ = reps * self.epochs
        with self._trainer(X.shape[1], model.get_weights()) as trainer:
            hist = trainer.fit(
                X,
                y,
                epochs=self.epochs,
                batch_size=self.batch_size,
                class_weight=self.class_weight,
                verbose=0,
                **kw,
            )
            model.set_weights(trainer.get_weights())
        if self.early_stopping > 0:
            self.epochs_run_ = len(hist.history["loss"])
        self.model_ = model
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        # A direct call, not `predict`: no tf.function retracing per new model or input size.
        p = np.asarray(self.model_(np.asarray(X, dtype=np.float32), training=False)).reshape(-1)
        return np.column_stack([1.0 - p, p])
