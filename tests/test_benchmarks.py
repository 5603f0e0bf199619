"""The benchmark scripts behind `make bench` still run (tiny sizes; figures: docs/performance.md).

They are not run by any other test, so a changed signature would otherwise break `make bench`
unnoticed (it did once: `Tracker`'s arguments became keywords).
"""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT


def test_tracking_overhead_benchmark_runs_and_writes_its_ratio(tmp_path):
    out = tmp_path / "tracking.json"
    p = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "tracking_overhead.py"),
            "--seeds=1",
            "--rounds=1",
            "--methods=naive,brf",
            f"--out={out}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    result = json.loads(out.read_text())
    assert [r["method"] for r in result["rows"]] == ["naive", "brf"]
    assert all(r["on_s"] > 0 and r["off_s"] > 0 for r in result["rows"])
    assert result["total_ratio"] > 0 and "on/off" in p.stdout
