"""Packaging a fitted method as an MLflow model: the flavour, signature and pinned requirements
for each kind of model (scikit-learn pipelines, the Keras net, the net behind preprocessing)."""

from __future__ import annotations

import functools
import logging
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np


@functools.cache
def pip_requirements(flavor: str, extra: tuple[str, ...] = ()) -> list[str]:
    """Pinned requirements for logged models; MLflow's own inference costs ~5 s per model.
    ``extra``: the model's own library (e.g. xgboost-cpu), see ``FittedMethod.packages``."""
    pkgs = ["mlflow", "numpy", "pandas", "scikit-learn", "imbalanced-learn", "cloudpickle"]
    if flavor == "keras":
        pkgs += ["keras", "tensorflow-cpu"]
    pkgs += list(extra)
    return [f"{p}=={version(p)}" for p in pkgs]


class _PickleNotice(logging.Filter):
    # MLflow repeats this caution for every model; docs/shared-setup.md says it once instead.
    def filter(self, record: logging.LogRecord) -> bool:
        return "pickle or cloudpickle format" not in record.getMessage()


logging.getLogger("mlflow.sklearn").addFilter(_PickleNotice())


def log_model(
    run_id: str, fitted: Any, X_example: Any, sklearn_format: str = "cloudpickle"
) -> None:
    """Log the fitted model to run ``run_id`` with a signature and pinned requirements.

    scikit-learn models are logged with their preprocessing as one pipeline, so they take raw
    rows. A Keras net alone takes encoded features; with preprocessing (categorical columns,
    scaling) it is logged as a pyfunc that encodes, then predicts, so it too takes raw rows.
    Log the model before the run's metrics: MLflow copies every metric already on the run
    to the model, one query per metric.
    """
    from mlflow.models import Model, infer_signature

    from imbsweep.keras_model import KerasMLP

    model, pre = fitted.model, fitted.preprocessor
    # A threshold other than 0.5 (tuned or set) is part of the model: its predict applies it.
    thr = float(getattr(fitted, "threshold", 0.5))
    thr = None if thr == 0.5 else thr
    if isinstance(model, KerasMLP) and (pre is not None or thr is not None):
        from imbsweep.pyfunc_model import log_encoded_net

        # Takes raw rows, like the sklearn models; predict gives labels with a threshold.
        score = fitted.score(X_example)
        out = score if thr is None else (score > thr).astype(np.int64)
        sig = infer_signature(X_example, out)
        log_encoded_net(run_id, pre, model.model_, thr, sig, pip_requirements("keras"))
    elif isinstance(model, KerasMLP):
        import mlflow.keras

        Xe = fitted.transform(X_example)
        sig = infer_signature(Xe, model.predict_proba(Xe)[:, 1:])
        Model.log(
            artifact_path=None,
            name="model",
            flavor=mlflow.keras,
            run_id=run_id,
            model=model.model_,
            signature=sig,
            pip_requirements=pip_requirements("keras"),
        )
    else:
        import mlflow.sklearn

        est, Xe = model, fitted.transform(X_example)
        if pre is not None:
            from sklearn.pipeline import make_pipeline

            est, Xe = make_pipeline(pre, model), X_example
        if thr is not None:
            from imbsweep.threshold import with_threshold

            est = with_threshold(est, thr)
        kw: dict[str, Any] = {}
        if sklearn_format == "skops":
            kw["skops_trusted_types"] = skops_trusted_types(est)
        Model.log(
            artifact_path=None,
            name="model",
            flavor=mlflow.sklearn,
            run_id=run_id,
            sk_model=est,
            signature=infer_signature(Xe, est.predict_proba(Xe)),
            pip_requirements=pip_requirements("sklearn", getattr(fitted, "packages", ())),
            serialization_format=sklearn_format,
            **kw,
        )


_TRUSTED: dict[tuple[type, ...], list[str]] = {}


def skops_trusted_types(est: Any) -> list[str]:
    """The types skops refuses by default but that our own fitted objects contain.

    Found by one trial dump per kind of estimator (cached), not hard-coded, so a new model
    or sampler needs no list to maintain.
    """
    import skops.io as sio

    key = (type(est), *(type(s) for s in getattr(est, "named_steps", {}).values()))
    if key not in _TRUSTED:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "m.skops"
            sio.dump(est, path)
            _TRUSTED[key] = sio.get_untrusted_types(file=path)
    return _TRUSTED[key]


# Packages whose types a model from a shared store may hold when loaded with
# :func:`load_shared_sklearn_model`: the libraries the models are built from.
SHARED_MODEL_PACKAGES = ("sklearn.", "imblearn.", "imbsweep.", "numpy.", "scipy.", "xgboost.")


def load_shared_sklearn_model(model_uri: str, packages: tuple[str, ...] = SHARED_MODEL_PACKAGES):
    """A scikit-learn model logged with skops, loaded from a store other people write to.

    ``mlflow.sklearn.load_model`` trusts the type list stored in the model itself (MLflow 3.17
    therefore asks for ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true`` even for skops). This reads
    the types the file would build and refuses any outside ``packages``, so a crafted model
    cannot name, say, ``os.system``; nothing in the file is unpickled.
    """
    import mlflow
    import skops.io as sio
    from mlflow.models import Model

    from imbsweep.errors import InputError

    local = Path(mlflow.artifacts.download_artifacts(model_uri))
    conf = Model.load(local).flavors.get("sklearn", {})
    if conf.get("serialization_format") != "skops":
        raise InputError(
            f"{model_uri} is saved with {conf.get('serialization_format', 'no sklearn flavor')}, "
            "not skops: loading it runs whatever code its writer put in it. Load it with "
            "mlflow.sklearn.load_model (and MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true) only if "
            "you trust whoever wrote the store."
        )
    path = local / conf["pickled_model"]
    types = sio.get_untrusted_types(file=path)
    foreign = [t for t in types if not t.startswith(packages)]
    if foreign:
        raise InputError(f"{model_uri} holds types outside {list(packages)}: {foreign}; not loaded")
    return sio.load(path, trusted=types)
