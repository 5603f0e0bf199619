"""A small sweep runs in the driver's process: starting a local cluster would cost more than the
work (issue 25, "small sweeps must not pay for a cluster")."""

import pytest

from hydra_plugins.imbsweep_plugins import dask_launcher
from hydra_plugins.imbsweep_plugins.dask_launcher import START_SECONDS, DaskLauncher
from imbsweep import driver


@pytest.fixture(autouse=True)
def two_cores(monkeypatch):
    monkeypatch.setattr(dask_launcher, "usable_cores", lambda: 2)


def test_work_shorter_than_a_cluster_start_runs_in_this_process():
    launcher = DaskLauncher()
    assert launcher.wants_estimate(3) and not launcher.wants_estimate(17)
    launcher.prepare(15, seconds=START_SECONDS)  # saves 3 s on 2 workers: less than a start
    assert launcher._starting is None  # no cluster was started
    assert launcher._in_process(15, 2)


@pytest.mark.parametrize(
    "kwargs",
    [{"n_workers": 2}, {"address": "tcp://127.0.0.1:1"}, {"unit_timeout": 60}],
    ids=["n_workers set", "a scheduler's address", "a unit limit"],
)
def test_a_choice_the_user_made_is_kept(kwargs):
    launcher = DaskLauncher(**kwargs)
    assert not launcher.wants_estimate(3)  # workers start while the jobs are planned
    assert not launcher._in_process(15, 2)


def test_long_work_still_goes_to_the_cluster(monkeypatch):
    started = []
    monkeypatch.setattr(DaskLauncher, "_connect", lambda self, w: started.append(w))
    launcher = DaskLauncher()
    launcher.prepare(40, seconds=4 * START_SECONDS)
    launcher._starting.join()
    assert started == [2]
    assert not launcher._in_process(40, 2)


def test_the_estimate_counts_every_unit_with_its_tracking_cost():
    def job(cost, seeds, folds):
        return driver.Job([], {}, "m", "d", "k", list(range(seeds)), cost, folds=folds)

    jobs = [job(0.05, 3, 5), job(2.0, 10, 0)]
    extra = driver.UNIT_OVERHEAD_SECONDS
    expected = 15 * (0.05 + extra) + 10 * (2.0 + extra)
    assert driver.estimate_seconds(jobs) == pytest.approx(expected)
