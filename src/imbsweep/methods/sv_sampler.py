"""smote-variants' oversamplers (Kovács 2019) as one imbsweep sampler, ``smote_variants``.

``method.oversampler`` names one of its classes (``ProWSyn``, ``polynom_fit_SMOTE_star``, ...)
and ``method.oversampler_params`` that class's own parameters; the ones not given keep the
class's defaults (fixed by the pinned version). The package is an optional extra (see
docs/methods.md, "smote-variants"): it is imported only when this sampler is asked for.

Like SMOTE here: fitted on the training rows only, seeded from the unit's seed, ``n_neighbors``
shrunk on tiny minorities with the same warning (logged as ``k_used``), and a seed whose
training rows it declines (too few minority rows, nothing generated) is skipped with the reason.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import logging
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from imbsweep.errors import ConfigError, SkipMethod
from imbsweep.methods.data_aware import minority_k

VERSION = "1.0.1"
INSTALL = (
    "make smote-variants, or: pip install 'imbsweep[smote-variants]' && "
    f"pip install --no-deps smote-variants=={VERSION}"
)
# Its oversamplers return the rows unchanged at or below 2 minority rows (its "min_n_min").
MIN_MINORITY = 3


@functools.cache
def package() -> Any:
    """The smote_variants module, or one ConfigError saying how to install the extra."""
    try:
        import smote_variants
    except ModuleNotFoundError as exc:
        raise ConfigError(
            "method.sampler",
            "smote_variants",
            "an installed smote-variants extra",
            f"'{exc.name}' is not installed. Install it with: {INSTALL}",
        ) from None
    # Its INFO lines (one per sample() call) would drown the sweep's own log.
    logging.getLogger("smote_variants").setLevel(logging.WARNING)
    return smote_variants


@functools.cache
def names() -> tuple[str, ...]:
    """The oversampler class names smote-variants offers, in its own order."""
    return tuple(c.__name__ for c in package().get_all_oversamplers())


def oversampler_class(name: str) -> type:
    if name not in names():
        # Case-blind: "prowsyn" and "prowsin" both find ProWSyn.
        lower = {n.lower(): n for n in names()}
        close = [lower[m] for m in difflib.get_close_matches(name.lower(), lower, n=5, cutoff=0.6)]
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise ConfigError(
            "method.oversampler",
            name,
            "a smote-variants oversampler class name",
            f"{hint}All {len(names())}: imbsweep --help, or docs/methods.md 'smote-variants'",
        )
    return getattr(package(), name)


def own_params(cls: type) -> dict[str, Any]:
    """The class's own constructor parameters and their defaults (not its catch-all kwargs)."""
    sig = inspect.signature(cls.__init__)
    return {
        p.name: p.default
        for p in list(sig.parameters.values())[1:]
        if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "random_state"
    }


def effective_params(name: str, given: dict[str, Any]) -> dict[str, Any]:
    """The parameters an oversampler runs with: its defaults, then the given ones."""
    return {**own_params(oversampler_class(name)), **dict(given or {})}


def check_config(m: dict) -> None:
    """``method.oversampler`` and ``method.oversampler_params`` at start: the package is there,
    the class exists, every parameter is one of its own and its value passes the class's own
    checks (its constructor checks values; it takes unknown names silently, so we check those)."""
    name = m.get("oversampler") or ""
    if not name:
        raise ConfigError(
            "method.oversampler",
            name,
            "a smote-variants oversampler class name, e.g. method.oversampler=ProWSyn",
            "method.sampler=smote_variants needs one",
        )
    cls = oversampler_class(name)
    given = dict(m.get("oversampler_params") or {})
    own = own_params(cls)
    for key in given:
        if key not in own:
            close = difflib.get_close_matches(key, list(own), n=3)
            raise ConfigError(
                f"method.oversampler_params.{key}",
                given[key],
                f"a parameter of {name}: one of {sorted(own)}",
                f"did you mean {' or '.join(close)}?" if close else None,
            )
    try:
        cls(**given, random_state=0)
    except ValueError as exc:
        # Its checks name the parameter (e.g. "n_neighbors>= 1 ... 0"); say which key that is.
        raise ConfigError(
            "method.oversampler_params", given, f"values {name} accepts", str(exc)
        ) from None


def search_space(name: str) -> dict[str, list[Any]]:
    """The oversampler's own grid (``parameter_combinations(raw=True)``) as sweep keys: only
    parameters with more than one value, and only values a command line can carry."""
    cls = oversampler_class(name)
    grid = cls.parameter_combinations(raw=True)
    return {
        f"method.oversampler_params.{k}": list(v)
        for k, v in grid.items()
        if len(v) > 1 and all(isinstance(x, int | float | str) for x in v)
    }


def space_overrides(name: str, grid: bool = False, method: str | None = None) -> list[str]:
    """:func:`search_space` as command-line arguments: ``key=choice(a,b)`` for the Optuna sweeper
    (its grid sampler too), ``key=a,b`` for a plain grid sweep. With ``method``, a key its
    preset (conf/method/<method>.yaml) does not name gets Hydra's ``+`` (append)."""
    from omegaconf import OmegaConf

    from imbsweep.paths import CONF_DIR

    named: set[str] = set()
    if method:
        preset = OmegaConf.load(CONF_DIR / "method" / f"{method}.yaml")
        named = set(preset.get("oversampler_params") or {})
    out = []
    for key, values in search_space(name).items():
        vals = ",".join(map(str, values))
        plus = "+" if method and key.rsplit(".", 1)[1] not in named else ""
        out.append(f"{plus}{key}={vals}" if grid else f"{plus}{key}=choice({vals})")
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m imbsweep.methods.sv_sampler NAME [--grid] [--method PRESET]``: print NAME's
    own grid as sweep arguments."""
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m imbsweep.methods.sv_sampler", description=main.__doc__
    )
    ap.add_argument("name", help="a smote-variants oversampler, e.g. ProWSyn")
    ap.add_argument("--grid", action="store_true", help="a plain grid (a,b,c), not choice()")
    ap.add_argument("--method", help="the preset it runs under (adds + to keys it lacks)")
    args = ap.parse_args(argv)
    try:
        print(" ".join(space_overrides(args.name, args.grid, args.method)))
    except ConfigError as exc:
        raise SystemExit(str(exc)) from None


class SmoteVariantsOverSampler(BaseEstimator):
    """One smote-variants oversampler behind imbalanced-learn's ``fit_resample``.

    After ``fit_resample``: ``info_`` holds ``k_used`` (its ``n_neighbors`` after shrinking, for
    classes that have one) and ``sv_synthetic_rows`` (rows it added; negative when its cleaning
    removed more than it added).
    """

    def __init__(self, oversampler: str = "", params: dict | None = None, random_state=None):
        self.oversampler = oversampler
        self.params = params
        self.random_state = random_state

    def fit_resample(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cls = oversampler_class(self.oversampler)
        params = effective_params(self.oversampler, self.params or {})
        n_min = int((y == 1).sum())
        self.info_: dict[str, float] = {}
        if isinstance(params.get("n_neighbors"), int):
            key = "oversampler_params.n_neighbors"
            params["n_neighbors"] = minority_k({key: params["n_neighbors"]}, n_min, key)
            self.info_["k_used"] = params["n_neighbors"]
        est = cls(**params, random_state=self.random_state)
        # It computes in float64 (its own evaluation feeds it float64): so do we, then return
        # the dtype we were given.
        X64 = np.asarray(X, dtype=np.float64)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Xs, ys = est.sample(X64, np.asarray(y))
        if len(ys) == len(y) and np.array_equal(Xs, X64) and (y == 0).sum() > n_min:
            said = "; ".join(str(w.message) for w in caught) or "its own checks declined the rows"
            raise SkipMethod(f"{self.oversampler} generated no rows: {said}")
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        self.info_["sv_synthetic_rows"] = int(len(ys) - len(y))
        return np.asarray(Xs, dtype=np.asarray(X).dtype), np.asarray(ys).astype(y.dtype)


if __name__ == "__main__":
    main()
