"""A Keras net with its fitted encoder, as one MLflow pyfunc model that takes raw rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


class EncodedNet(PythonModel):
    """Encode raw rows with the encoder fitted on the training split, then run the net.

    ``predict`` returns the probability of the positive (minority) class, like the Keras flavor;
    with a ``threshold`` (a tuned or non-default one) it returns the labels ``score > threshold``.
    The encoder and net are pickled with the model (Keras 3 models pickle via their .keras form).
    """

    def __init__(self, preprocessor, net, threshold: float | None = None):
        self.preprocessor = preprocessor
        self.net = net
        self.threshold = threshold

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        if self.preprocessor is None:
            X = np.asarray(model_input, dtype=np.float32)
        else:
            X = np.asarray(self.preprocessor.transform(model_input), dtype=np.float32)
        p = np.asarray(self.net(X, training=False)).reshape(-1)
        thr = getattr(self, "threshold", None)  # models pickled before it existed
        return p if thr is None else (p > thr).astype(np.int64)
