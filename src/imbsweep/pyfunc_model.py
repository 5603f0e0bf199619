"""A Keras net with its fitted encoder, as one MLflow pyfunc model that takes raw rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


class EncodedNet(PythonModel):
    """Encode raw rows with the encoder fitted on the training split, then run the net.

    ``predict`` returns the probability of the positive (minority) class, like the Keras flavor.
    The encoder and net are pickled with the model (Keras 3 models pickle via their .keras form).
    """

    def __init__(self, preprocessor, net):
        self.preprocessor = preprocessor
        self.net = net

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        X = np.asarray(self.preprocessor.transform(model_input), dtype=np.float32)
        return np.asarray(self.net(X, training=False)).reshape(-1)
