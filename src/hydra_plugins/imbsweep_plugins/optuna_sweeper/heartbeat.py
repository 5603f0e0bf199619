"""Heartbeats of running trials and failing the stale ones a dead driver left RUNNING.

Optuna beats and checks only inside ``study.optimize``; an ask/tell driver must do both itself,
or a crashed sweep's trials would stay RUNNING forever.
"""

import logging
import threading
import warnings
from datetime import datetime, timedelta
from typing import Any

from hydra_plugins.imbsweep_plugins.optuna_sweeper.config import DRIVER_ATTR, ERROR_ATTR

log = logging.getLogger(__name__)


class Heartbeat:
    """Record Optuna heartbeats for this driver's running trials from a thread.

    ``storage`` None (an in-memory study) makes every method a no-op: nothing outlives us.
    """

    def __init__(self, storage: Any, interval: int) -> None:
        self._storage = storage
        self._interval = interval
        self._ids: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        if storage is not None:
            self._thread = threading.Thread(target=self._run, name="optuna-heartbeat", daemon=True)
            self._thread.start()

    def add(self, trial_id: int) -> None:
        if self._storage is None:
            return
        with self._lock:
            self._ids.add(trial_id)
        self._storage.record_heartbeat(trial_id)

    def discard(self, trial_id: int) -> None:
        with self._lock:
            self._ids.discard(trial_id)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                ids = list(self._ids)
            for trial_id in ids:
                try:
                    self._storage.record_heartbeat(trial_id)
                except Exception as exc:  # a missed beat only risks a late stale check
                    log.debug("heartbeat for trial id %s failed: %s", trial_id, exc)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def fail_stale_trials(study: Any, storage: Any, grace_seconds: int) -> list[int]:
    """Fail RUNNING trials whose driver is gone; return their numbers.

    Trials of our driver carry heartbeats: Optuna's ``fail_stale_trials`` judges them. Trials
    created by other ask/tell code never beat, so they are failed once older than the grace
    period.
    """
    import optuna
    from optuna.trial import TrialState

    running = {t.number: t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    if not running:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    grace = timedelta(seconds=grace_seconds)
    now = datetime.now()
    study_id = study._study_id
    now_failed = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
    failed = []
    for number, trial in running.items():
        if number in now_failed:
            log.warning("failed stale trial %s: its driver's heartbeat stopped", number)
            failed.append(number)
            continue
        if DRIVER_ATTR in trial.user_attrs or trial.datetime_start is None:
            continue
        if now - trial.datetime_start <= grace:
            continue
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
        try:
            storage.set_trial_user_attr(
                trial_id,
                ERROR_ATTR,
                f"stale: RUNNING with no heartbeat since {trial.datetime_start:%Y-%m-%d %H:%M:%S}",
            )
            storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
            failed.append(number)
            log.warning(
                "failed stale trial %s: RUNNING with no heartbeat since %s",
                number,
                trial.datetime_start,
            )
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # another process finished it meanwhile
    return failed
