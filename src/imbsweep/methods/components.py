"""Samplers and models, each one YAML file in ``samplers/`` or ``models/``, built with Hydra.

A component file holds its estimator as a Hydra ``_target_`` node whose arguments are
interpolations: ``${method.X}`` (a key of the flat method config), ``${seed}``,
``${categorical}`` (SMOTE-NC's column indices) and the data-aware resolvers of
:mod:`imbsweep.methods.data_aware` (``${minority_k:k_neighbors}``, ``${ratio:over-sampling}``,
``${class_weight:}``, ...). The method keys a component reads, and so logs, are the ones its
estimator node names; nothing else lists them. Adding a sampler is one YAML file here (plus a
resolver in data_aware.py only if it needs the data in a new way).

Other fields of a component file (all optional):

- ``kind`` (samplers): ``over`` adds minority rows, ``under`` removes majority rows to a target
  ratio, ``clean`` removes majority rows near the boundary, ``combine`` = over + clean;
- ``info``: figures worth logging, ``name: estimator parameter`` (deep names, e.g.
  ``smote__k_neighbors``) read from the built estimator, e.g. the k used after shrinking;
- ``needs_categorical`` (samplers): runs on categories, before one-hot encoding (SMOTE-NC);
- ``resamples_internally`` (models): the model balances its own training data; no sampler may
  precede it; ``base``: the model it is without that balancing (the remedy's comparison,
  :mod:`imbsweep.remedies`); ``probabilistic: false``: its scores do not rank rows (no
  threshold to tune);
- ``sample_weight: ${class_weight:}``: its class weights go to ``fit`` as per-row weights;
- ``min_minority: {rows: 2, for: ...}``: fewer minority training rows skip the seed;
- ``packages``: distributions a logged model needs beyond scikit-learn and imbalanced-learn;
- ``keys_when``: keys read only under a condition (``loss=focal: [focal_gamma, ...]``), logged
  only then;
- ``label`` (and ``label_when``, conditional): keys named in run labels, e.g. ``k=5``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError

from imbsweep.methods.data_aware import READS, ROWS, Rows, need_minority

_HERE = Path(__file__).resolve().parent
# Performance knobs, not parameters of the method: never logged.
_UNLOGGED = frozenset({"n_jobs"})
_INTERP = re.compile(r"\$\{(?:method\.(\w+)|(\w+):([^}]*))\}")


@dataclass(frozen=True)
class Component:
    """A sampler or model: its file's fields, the method keys it reads and how to build it.

    ``build(cfg, seed, y, categorical=())`` returns ``(sampler | None, info)`` for a sampler and
    the unfitted estimator for a model; ``y`` are the labels it will be fitted on.
    ``params``: (estimator parameter, method key) pairs, so that the libraries' own parameter
    checks (:func:`imbsweep.methods.pairing.check_params`) can name the key.
    """

    name: str
    keys: tuple[str, ...]
    build: Callable[..., Any]
    resamples_internally: bool = False
    base: str = ""  # the same model without its own balancing (brf: random_forest)
    probabilistic: bool = True
    kind: str = ""
    needs_categorical: bool = False
    packages: tuple[str, ...] = ()
    sample_weighted: bool = False
    params: tuple[tuple[str, str], ...] = ()
    keys_when: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # (method key, estimator class path, parameter): where each key it reads goes.
    feeds: tuple[tuple[str, str, str], ...] = ()
    # Keys named in run labels ("smote_ann k=5"), always or under a condition.
    label: tuple[str, ...] = ()
    label_when: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _reads(node: Any, param: str, out: dict[str, str], feeds: list, target: str = "") -> None:
    """Method keys a node reads (``out``: key -> the estimator parameter it feeds; ``feeds``:
    (key, estimator class path, parameter) for every use)."""
    if isinstance(node, dict):
        target = node.get("_target_", target)
        for k, v in node.items():
            _reads(v, str(k), out, feeds, target)
    elif isinstance(node, list):
        for v in node:
            _reads(v, param, out, feeds, target)
    elif isinstance(node, str):
        for key, resolver, args in _INTERP.findall(node):
            first = args.split(",")[0].strip().strip("'\"")
            reads = (key,) if key else READS[resolver]
            for k in (first,) if reads is None else reads:
                feeds.append((k, target, param))
                if k not in _UNLOGGED:
                    out.setdefault(k, param)


def _unwrap(exc: BaseException) -> BaseException:
    """The resolver's or the constructor's own error (SkipMethod, ValueError), not the wrapper."""
    while isinstance(exc, InterpolationResolutionError | InstantiationException):
        inner = exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    return exc


def _instantiate(spec: DictConfig, cfg: dict, seed: int, y: Any, categorical=(), need=None) -> Any:
    root = OmegaConf.create(
        {"method": cfg, "seed": seed, "categorical": list(categorical), "estimator": spec}
    )
    token = ROWS.set(Rows.of(y))
    try:
        plain = OmegaConf.to_container(root.estimator, resolve=True)
        if need is not None:
            need_minority(ROWS.get().n_min, int(need.rows), str(need["for"]))
        return instantiate(plain, _convert_="all")
    except (InterpolationResolutionError, InstantiationException) as exc:
        raise _unwrap(exc) from None
    finally:
        ROWS.reset(token)


def _load(path: Path, sampler: bool) -> Component:
    spec = OmegaConf.load(path)
    est = spec.get("estimator")
    reads: dict[str, str] = {}
    raw = OmegaConf.to_container(spec, resolve=False)
    feeds: list[tuple[str, str, str]] = []
    _reads(raw.get("estimator"), "", reads, feeds)
    _reads(raw.get("sample_weight"), "sample_weight", reads, feeds)
    params: dict[str, str] = {}
    for k, p in reads.items():
        params.setdefault(p, k)  # the first key that feeds a parameter names it in errors
    need = spec.get("min_minority")
    keys_when = {c: tuple(ks) for c, ks in (spec.get("keys_when") or {}).items()}
    conditional = {k for ks in keys_when.values() for k in ks}
    info = dict(spec.get("info") or {})

    if sampler:

        def build(cfg, seed, y, categorical=()):
            if est is None:
                return None, {}
            s = _instantiate(est, cfg, seed, y, categorical, need)
            params = s.get_params(deep=True) if info else {}
            return s, {name: params[p] for name, p in info.items()}

    else:

        def build(cfg, seed, y):
            return _instantiate(est, cfg, seed, y)

    return Component(
        name=path.stem,
        keys=tuple(k for k in reads if k not in conditional),
        build=build,
        resamples_internally=bool(spec.get("resamples_internally", False)),
        base=str(spec.get("base") or ""),
        probabilistic=bool(spec.get("probabilistic", True)),
        kind=str(spec.get("kind", "")),
        needs_categorical=bool(spec.get("needs_categorical", False)),
        packages=tuple(spec.get("packages") or ()),
        sample_weighted="sample_weight" in spec,
        params=tuple((p, k) for p, k in params.items() if p != k),
        keys_when=keys_when,
        feeds=tuple(feeds),
        label=tuple(spec.get("label") or ()),
        label_when={c: tuple(ks) for c, ks in (spec.get("label_when") or {}).items()},
    )


SAMPLERS: dict[str, Component] = {
    p.stem: _load(p, sampler=True) for p in sorted((_HERE / "samplers").glob("*.yaml"))
}
MODELS: dict[str, Component] = {
    p.stem: _load(p, sampler=False) for p in sorted((_HERE / "models").glob("*.yaml"))
}
