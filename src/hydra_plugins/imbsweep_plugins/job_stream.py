"""Jobs handed to a launcher one at a time, their results taken as they finish.

A sweeper that decides what to run next from what just finished (an Optuna study asking a trial
as a worker frees up) cannot hand the launcher a whole batch. ``open_stream(launcher)`` gives it
a stream: ``submit(token, idx, overrides)`` queues a job, ``wait()`` blocks until at least one
queued job has finished and returns ``[(token, JobReturn), ...]``. A launcher that can stream
(``hydra/launcher=dask``) runs each job as soon as a worker is free; any other Hydra launcher
runs what is queued as one batch when ``wait`` is called (its ``launch`` is all it offers).
"""

from collections.abc import Hashable, Sequence
from typing import Any


class BatchStream:
    """Any Hydra launcher: the queued jobs run as one ``launch`` batch at ``wait``."""

    workers = 1  # unknown; the caller keeps at most its own batch size queued
    streams = False  # nothing starts before wait(): a caller queues a batch's worth first

    def __init__(self, launcher: Any) -> None:
        self.launcher = launcher
        self._queued: list[tuple[Hashable, int, list[str]]] = []

    def __len__(self) -> int:
        return len(self._queued)

    def submit(self, token: Hashable, idx: int, overrides: Sequence[str]) -> None:
        self._queued.append((token, idx, list(overrides)))

    def wait(self) -> list[tuple[Hashable, Any]]:
        queued, self._queued = self._queued, []
        if not queued:
            return []
        results = self.launcher.launch([ov for _, _, ov in queued], initial_job_idx=queued[0][1])
        return [(token, ret) for (token, _, _), ret in zip(queued, results, strict=True)]

    def close(self) -> None:
        self._queued.clear()


def open_stream(launcher: Any) -> Any:
    """The launcher's own stream if it has one, else a :class:`BatchStream` over ``launch``."""
    stream = getattr(launcher, "stream", None)
    return stream() if callable(stream) else BatchStream(launcher)
