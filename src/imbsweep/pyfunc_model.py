"""A Keras net with its fitted encoder and threshold, as one MLflow pyfunc model on raw rows.

Logged as MLflow *models from code*: this file is copied into the model and run when the model is
loaded; the encoder (joblib, if any) and the net (``.keras``) are the model's artifacts and the
threshold is its model config. Nothing pickles this class, so MLflow does not warn about
CloudPickle on every run, and nothing here imports imbsweep, so a logged model loads where
imbsweep is not installed.
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

    ``predict`` returns the probability of the positive (minority) class, like the Keras flavor;
    with a ``threshold`` (a tuned or non-default one) it returns the labels ``score > threshold``.
    """

    def load_context(self, context) -> None:
        import joblib
        import keras

        pre = context.artifacts.get("preprocessor")
        self.preprocessor = joblib.load(pre) if pre else None
        # The loss is only needed to train; compiling would need focal-loss settings back.
        self.net = keras.saving.load_model(context.artifacts["net"], compile=False)
        self.threshold = (context.model_config or {}).get("threshold")

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        if self.preprocessor is None:
            X = np.asarray(model_input, dtype=np.float32)
        else:
            X = np.asarray(self.preprocessor.transform(model_input), dtype=np.float32)
        p = np.asarray(self.net(X, training=False)).reshape(-1)
        return p if self.threshold is None else (p > self.threshold).astype(np.int64)


# What MLflow loads from this file (models from code).
mlflow.models.set_model(EncodedNet())


def log_encoded_net(
    run_id: str,
    preprocessor: Any,
    net: Any,
    threshold: float | None,
    signature: Any,
    pip_requirements: list[str],
) -> None:
    """Log ``preprocessor`` (or None) + ``net`` (+ threshold) to ``run_id`` as pyfunc ``model``."""
    import joblib
    from mlflow.models import Model

    with tempfile.TemporaryDirectory() as tmp:
        artifacts = {"net": str(Path(tmp) / "net.keras")}
        net.save(artifacts["net"])
        if preprocessor is not None:
            artifacts["preprocessor"] = str(Path(tmp) / "preprocessor.joblib")
            joblib.dump(preprocessor, artifacts["preprocessor"])
        Model.log(
            artifact_path=None,
            name="model",
            flavor=mlflow.pyfunc,
            run_id=run_id,
            python_model=Path(__file__),
            artifacts=artifacts,
            model_config={"threshold": threshold},
            signature=signature,
            pip_requirements=pip_requirements,
        )
