"""The launcher's progress line: "units" throughout, and a first estimate near the truth."""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace

from hydra.core.utils import JobStatus

from hydra_plugins.imbsweep_plugins import dask_launcher


def _simulate(monkeypatch, caplog, startup: float, unit: float, workers: int, total: int):
    """Units of ``unit`` s on ``workers`` workers after ``startup`` s: (finish times, log)."""
    clock = [0.0]
    monkeypatch.setattr(dask_launcher.time, "perf_counter", lambda: clock[0])
    p = dask_launcher.Progress(total, every=0.0, workers=workers)
    finish = sorted(
        startup + unit * (i // workers + 1) + 0.01 * (i % workers) for i in range(total)
    )
    with caplog.at_level(logging.INFO, logger=dask_launcher.log.name):
        for t in finish:
            clock[0] = t
            p.update(SimpleNamespace(status=JobStatus.COMPLETED))
    return finish, [r.getMessage() for r in caplog.records]


def _seconds(text: str) -> float:
    m = re.search(r"about (?:(\d+) min )?(\d+) s left", text)
    return int(m.group(1) or 0) * 60 + int(m.group(2))


def test_first_estimate_within_2x_of_the_time_left(monkeypatch, caplog):
    # The practical's shape: 40 units, 2 workers, ~15 s of worker start-up, ~2 s per unit.
    finish, lines = _simulate(monkeypatch, caplog, startup=15, unit=2, workers=2, total=40)
    first = next(i for i, line in enumerate(lines) if "left" in line)
    estimate, truth = _seconds(lines[first]), finish[-1] - finish[first]
    assert truth / 2 <= estimate <= truth * 2, (lines[first], truth)
    assert all(re.match(r"\[\d+/40 units\]", line) for line in lines)
    assert "left" not in lines[-1] and lines[-1].startswith("[40/40 units]")


def test_no_estimate_from_the_first_unit_alone(monkeypatch, caplog):
    _, lines = _simulate(monkeypatch, caplog, startup=15, unit=2, workers=2, total=40)
    # Two rounds of both workers after the first unit before any estimate.
    assert not any("left" in line for line in lines[:4]) and "left" in lines[4]
