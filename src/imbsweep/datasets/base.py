"""A dataset as every loader returns it, and the registry of loaders by ``dataset.kind``.

Every loader returns a :class:`Dataset` with a pandas feature frame and ``y`` in {0, 1}, where 1 is
the positive (minority) class.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from imbsweep.errors import ConfigError


@dataclass(frozen=True)
class Dataset:
    """A binary classification problem, ready to split."""

    name: str
    X: pd.DataFrame
    y: np.ndarray
    categorical: tuple[str, ...] = ()
    positive_label: str = "1"
    source: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def n_minority(self) -> int:
        return int(self.y.sum())

    @property
    def imbalance_ratio(self) -> float:
        return float((len(self.y) - self.n_minority) / max(self.n_minority, 1))

    def digest(self) -> str:
        """Content hash of features and labels: the same data gives the same digest anywhere."""
        cached = self.__dict__.get("_digest")
        if cached is None:
            h = hashlib.sha256()
            h.update(pd.util.hash_pandas_object(self.X, index=False).values.tobytes())
            h.update(np.ascontiguousarray(self.y).tobytes())
            cached = h.hexdigest()[:16]
            object.__setattr__(self, "_digest", cached)  # frozen: computed once per dataset
        return cached


Loader = Callable[[dict], Dataset]
LOADERS: dict[str, Loader] = {}


# kind -> its config schema (a dataclass): the one place its keys and their defaults are stated.
# conf/dataset/<kind>.yaml extends it (config.py registers each as dataset_<kind>_schema).
SCHEMAS: dict[str, type] = {}


def register(kind: str, schema: type) -> Callable[[Loader], Loader]:
    def deco(fn: Loader) -> Loader:
        LOADERS[kind] = fn
        SCHEMAS[kind] = schema
        return fn

    return deco


def with_defaults(cfg: dict) -> dict:
    """``cfg`` merged over its kind's schema: every key there, with the schema's defaults for
    the keys it lacks (a composed config already has them all) and a typo named at once."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        merged = OmegaConf.merge(OmegaConf.structured(SCHEMAS[cfg["kind"]]), cfg)
    except OmegaConfBaseException as exc:
        key = str(getattr(exc, "full_key", "") or "")
        raise ConfigError(
            f"dataset.{key}",
            cfg.get(key.split(".")[0]),
            f"a key and value of dataset={cfg['kind']}",
            str(getattr(exc, "msg", exc)).splitlines()[0],
        ) from None
    return OmegaConf.to_container(merged)


def load_dataset(cfg: dict) -> Dataset:
    """Load the dataset described by a resolved ``dataset`` config node.

    A process keeps the datasets it used last, up to :data:`CACHE_BYTES` in all: a sweep's
    driver checks the data once and a warm worker runs many seeds and methods on it, so each
    file is read once per process, also when a cross-dataset sweep interleaves 100+ sets (its
    units go longest first, not set by set). A file that changed on disk (size or
    modification time) is read again.
    """
    kind = cfg.get("kind")
    if kind not in LOADERS:
        raise ConfigError("dataset.kind", kind, f"one of {sorted(LOADERS)}")
    cfg = with_defaults(cfg)
    key = json.dumps(cfg, sort_keys=True, default=str)
    path = cfg.get("path")
    if path:
        try:
            st = os.stat(path)
            key += f"|{st.st_size}|{st.st_mtime_ns}"
        except OSError:
            pass  # the loader reports a missing file with the fix
    hit = _CACHE.pop(key, None)
    if hit is None:
        ds = LOADERS[kind](cfg)
        check_binary(ds)
        hit = (ds, int(ds.X.memory_usage(deep=True).sum()) + ds.y.nbytes)
    _CACHE[key] = hit  # most recently used last
    used = sum(n for _, n in _CACHE.values())
    while used > CACHE_BYTES and len(_CACHE) > 1:
        used -= _CACHE.pop(next(iter(_CACHE)))[1]
    return hit[0]


_CACHE: dict[str, tuple[Dataset, int]] = {}  # key -> (dataset, bytes)
# Per process (each worker has its own); all 117 bundled KEEL sets take 41 MB.
CACHE_BYTES = 1 << 30


def check_binary(ds: Dataset) -> None:
    classes = np.unique(ds.y)
    if len(classes) != 2:
        raise ConfigError(
            "dataset",
            ds.name,
            "two classes in the target",
            f"found {len(classes)} class(es): {classes.tolist()}",
        )
