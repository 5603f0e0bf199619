"""The practical's four presets keep their per-seed numbers, digit for digit.

tests/data/practical_seed_metrics.json was written by ``benchmarks/practical_numbers.py`` on the
code before the k-fold protocol (commit c693a4d): every metric the seed runs logged then, as
``repr`` strings. New metrics may be added beside them; none of these may change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import compose_cfg

from imbsweep.data import load_dataset
from imbsweep.runner import run_seed
from imbsweep.tracking import Tracker

REFERENCE = json.loads((Path(__file__).parent / "data" / "practical_seed_metrics.json").read_text())


@pytest.mark.parametrize("preset", ["naive", "smote_ann", "weighted_ann", "brf"])
def test_the_practicals_seed_metrics_are_unchanged(preset):
    cfg = compose_cfg([f"method={preset}", "tracking.enabled=false"])
    assert cfg["split"]["protocol"] == "holdout" and not cfg["split"]["vary_with_seed"]
    ds = load_dataset(cfg["dataset"])
    for seed in (0, 1):
        want = REFERENCE[f"{preset} seed={seed}"]
        got, _ = run_seed(cfg, ds, seed, Tracker(enabled=False), None, {})
        assert {k: repr(float(got[k])) for k in want} == want
