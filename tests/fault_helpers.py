"""Imported by the Dask workers of tests/test_faults.py (``hydra.launcher.preload``): units that
are slow, hang or eat memory, chosen by environment variables the test sets.

Wraps the real fit (the unit still runs and logs for real); nothing here runs unless a test
preloads it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from imbsweep import runner

_fit = runner.fit_method


def _seed(var: str) -> int:
    return int(os.environ.get(var, "-1"))


def fit_with_faults(mcfg, ds, train, seed, **kw):
    marks = os.environ.get("IMBSWEEP_TEST_MARKS")
    mark = Path(marks) / f"fit-{os.getpid()}" if marks else None
    if mark is not None:  # the test kills the process that is fitting
        mark.write_text(str(seed))
    try:
        if seed == _seed("IMBSWEEP_TEST_HANG_SEED"):
            time.sleep(600)  # one call into C: no Python code runs that could stop it
        if seed == _seed("IMBSWEEP_TEST_HOG_SEED"):
            hog = []
            for _ in range(100):  # 32 MiB a step, touched; at most 3.2 GiB if no limit stops it
                hog.append(np.ones(2**22))
                time.sleep(0.02)
            raise AssertionError("the memory limit did not stop this unit")
        time.sleep(float(os.environ.get("IMBSWEEP_TEST_FIT_SLEEP", "0")))
        return _fit(mcfg, ds, train, seed, **kw)
    finally:
        if mark is not None:
            mark.unlink(missing_ok=True)


runner.fit_method = fit_with_faults
