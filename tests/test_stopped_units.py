"""Units that did not finish, counted per method (imbsweep.stopped_units)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from imbsweep import stopped_units


def _finished(label: str, job: str, seeds, dataset="synthetic") -> list[dict]:
    return [
        {
            "label": label,
            "dataset": dataset,
            "job_id": job,
            "stage": "run",
            "seed": s,
            "fold": np.nan,
        }
        for s in seeds
    ]


def _unfinished(label, job, seed, kind, dataset="synthetic") -> dict:
    return {
        "label": label,
        "dataset": dataset,
        "job_id": job,
        "stage": "run",
        "seed": float(seed),  # as read back from a tag
        "fold": np.nan,
        "kind": kind,
    }


def test_counts_per_method_and_a_unit_that_finished_later_is_not_counted():
    finished = pd.DataFrame(_finished("brf", "j1", [0, 1, 2]) + _finished("ann", "j2", [0]))
    unfinished = pd.DataFrame(
        [
            _unfinished("ann", "j2", 1, "timeout"),
            _unfinished("ann", "j2", 2, "memory"),
            _unfinished("ann", "j2", 3, "other"),
            _unfinished("brf", "j1", 2, "other"),  # a dead worker's attempt; the unit finished
        ]
    )
    t = stopped_units.counts(finished, unfinished)
    assert t.to_dict("records") == [
        {
            "dataset": "synthetic",
            "label": "ann",
            "finished": 1,
            "timeout": 1,
            "memory": 1,
            "other": 1,
        }
    ]
    md = stopped_units.to_markdown(t)
    assert "| Method | Finished | Time limit | Memory limit | Other failures |" in md
    assert "| ann | 1 | 1 | 1 | 1 |" in md


def test_nothing_when_every_unit_finished():
    finished = pd.DataFrame(_finished("brf", "j1", [0, 1]))
    assert stopped_units.counts(finished, pd.DataFrame()).empty
    again = pd.DataFrame([_unfinished("brf", "j1", 1, "other")])
    assert stopped_units.counts(finished, again).empty
    assert stopped_units.to_markdown(pd.DataFrame()) == ""


def test_many_datasets_sum_per_method_with_datasets_affected():
    finished = pd.DataFrame(
        [r for i in range(4) for r in _finished("brf", f"j{i}", [0], dataset=f"d{i}")]
    )
    unfinished = pd.DataFrame(
        [_unfinished("brf", f"j{i}", 1, "timeout", dataset=f"d{i}") for i in range(4)]
    )
    md = stopped_units.to_markdown(stopped_units.counts(finished, unfinished))
    assert "| brf | 4 | 4 | 0 | 0 | 4 |" in md and "Datasets affected" in md


def test_unfinished_rows_read_from_a_real_store(tmp_path):
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    c = MlflowClient()
    exp = c.create_experiment("x", artifact_location=(tmp_path / "a").as_uri())
    job = c.create_run(exp).info.run_id

    def seed_run(seed: int, status: str, **tags) -> None:
        base = {
            "run_level": "seed",
            "sweep_id": "s1",
            "label": "brf",
            "dataset": "synthetic",
            "seed": str(seed),
            "stage": "run",
            "mlflow.parentRunId": job,
        }
        r = c.create_run(exp, tags=base | tags).info.run_id
        c.set_terminated(r, status)

    seed_run(0, "FINISHED")
    seed_run(1, "FAILED", unit_limit="timeout")
    seed_run(2, "FAILED", unit_limit="memory")
    seed_run(3, "KILLED")
    seed_run(4, "FAILED", sweep_id="another")
    u = stopped_units.unfinished_rows("s1", [exp]).sort_values("seed")
    assert u["seed"].tolist() == [1, 2, 3]
    assert u["kind"].tolist() == ["timeout", "memory", "other"]
    assert (u["job_id"] == job).all() and (u["label"] == "brf").all()
