"""A Keras net with its fitted encoder, as one MLflow pyfunc model that takes raw rows.

Logged as MLflow *models from code*: this file is copied into the model and run when the model is
loaded; the encoder (joblib) and the net (``.keras``) are the model's artifacts. Nothing pickles
this class, so MLflow does not warn about CloudPickle on every run, and nothing here imports
imbsweep, so a logged model loads where imbsweep is not installed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


class EncodedNet(PythonModel):
    """Encode raw rows with the encoder fitted on the training split, then run the net.

    ``predict`` returns the probability of the positive (minority) class, like the Keras flavor.
    """

    def load_context(self, context) -> None:
        import joblib
        import keras

        self.preprocessor = joblib.load(context.artifacts["preprocessor"])
        # The loss is only needed to train; compiling would need focal-loss settings back.
        self.net = keras.saving.load_model(context.artifacts["net"], compile=False)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        X = np.asarray(self.preprocessor.transform(model_input), dtype=np.float32)
        return np.asarray(self.net(X, training=False)).reshape(-1)


# What MLflow loads from this file (models from code).
mlflow.models.set_model(EncodedNet())


def log_encoded_net(
    run_id: str, preprocessor: Any, net: Any, signature: Any, pip_requirements: list[str]
) -> None:
    """Log ``preprocessor`` + ``net`` to run ``run_id`` as a pyfunc model named ``model``."""
    import joblib
    from mlflow.models import Model

    with tempfile.TemporaryDirectory() as tmp:
        pre_path, net_path = Path(tmp) / "preprocessor.joblib", Path(tmp) / "net.keras"
        joblib.dump(preprocessor, pre_path)
        net.save(net_path)
        Model.log(
            artifact_path=None,
            name="model",
            flavor=mlflow.pyfunc,
            run_id=run_id,
            python_model=Path(__file__),
            artifacts={"preprocessor": str(pre_path), "net": str(net_path)},
            signature=signature,
            pip_requirements=pip_requirements,
        )
