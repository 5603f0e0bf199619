"""imbsweep's hooks into the generic Optuna sweeper (``hydra/sweeper=optuna``).

sweeps/tune_*.yaml switch them on with ``hydra.sweeper.hooks._target_=imbsweep.tuning.TuningHooks``
(the protocol: ``hydra_plugins.imbsweep_plugins.optuna_sweeper.hooks``). They add what only
imbsweep needs:

* every job gets ``stage=trial|best|default`` (``stage_key``), which the app and its MLflow runs
  use to tell study trials from the final table;
* ``seeds`` cannot be tuned (that would pick lucky seeds, not better settings);
* imbsweep's value checks (``check_config``) run on every job before the study starts, and the
  number of ``objective.metric`` values must match the sweeper's directions;
* after the study, the best settings (or, for a multi-objective study, each Pareto-optimal
  setting) and the defaults run once more over ``final_overrides`` (e.g. the final seeds):
  that batch is the sweep's table;
* a study that stops on an error still closes imbsweep's MLflow sweep run (Hydra skips
  ``on_multirun_end`` when a sweeper raises).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobStatus
from omegaconf import OmegaConf

from hydra_plugins.imbsweep_plugins.optuna_sweeper.hooks import SweeperHooks

log = logging.getLogger(__name__)


def _error(message: str) -> Exception:
    # looked up at call time: Hydra's plugin scan re-creates the plugin's classes
    from hydra_plugins.imbsweep_plugins.optuna_sweeper.errors import OptunaSweeperError

    return OptunaSweeperError(message)


class TuningHooks(SweeperHooks):
    """imbsweep's sweeper hooks.

    Parameters
    ----------
    stage_key : str or None
        Config key set to ``trial``/``best``/``default`` on the jobs; None sets nothing.
    finalize : bool
        Run the final batch (best or Pareto-optimal settings, and the defaults).
    final_overrides : list of str
        Extra overrides of every final job, e.g. ``["seeds=10"]``.
    """

    def __init__(
        self,
        stage_key: str | None = "stage",
        finalize: bool = True,
        final_overrides: Sequence[str] = (),
    ) -> None:
        self.stage_key = stage_key
        self.finalize_enabled = bool(finalize)
        self.final_overrides = list(final_overrides or [])

    def check_space(self, names: Sequence[str]) -> None:
        if any(n.lstrip("+") == "seeds" for n in names):
            raise _error(
                "seeds: not a tunable parameter; every trial uses the same seed list. Give a "
                "fixed value, e.g. seeds=5"
            )

    def job_overrides(self, stage: str) -> list[str]:
        return [f"{self.stage_key}={stage}"] if self.stage_key else []

    def validate_batch(self, sweeper: Any, batch: Sequence[Sequence[str]]) -> None:
        from hydra_plugins.imbsweep_plugins.checks import check_jobs

        try:
            check_jobs(sweeper, batch)
        except Exception as exc:
            if self.stage_key and f"'{self.stage_key}'" in str(exc):
                raise type(exc)(
                    f"{exc}\nimbsweep.tuning.TuningHooks sets '{self.stage_key}=trial|best|"
                    f"default' on every job: the app config needs a '{self.stage_key}' key, or "
                    "set hydra.sweeper.hooks.stage_key=null."
                ) from exc
            raise
        if batch:
            self._check_objectives(sweeper, batch[0])

    def _check_objectives(self, sweeper: Any, overrides: Sequence[str]) -> None:
        """One value per direction: a mismatch would fail every trial, so fail at start."""
        cfg = sweeper.hydra_context.config_loader.load_sweep_config(sweeper.config, list(overrides))
        metric = OmegaConf.select(cfg, "objective.metric")
        if metric is None:
            return
        n = len(metric) if OmegaConf.is_list(metric) else 1
        if n != len(sweeper.directions):
            raise _error(
                f"objective.metric={OmegaConf.to_container(metric) if n > 1 else metric} gives "
                f"{n} value(s) but hydra.sweeper.direction={sweeper.directions} asks for "
                f"{len(sweeper.directions)}: give one metric per direction"
            )

    def finalize(
        self,
        sweeper: Any,
        study: Any,
        solutions: Sequence[tuple[str, list[str]]],
        default: list[str],
    ) -> Mapping[str, Any] | None:
        """Run the best (or each Pareto-optimal) setting and the defaults as one last batch.

        Every solution runs with ``stage=best`` (imbsweep's table lists the ``best`` and
        ``default`` rows, each labelled by its method settings), the defaults with
        ``stage=default``; none of them is told to the study.
        """
        if not self.finalize_enabled:
            return None
        if not solutions:
            log.warning("finalize skipped: the study has no COMPLETE trial")
            return None
        labels = [label for label, _ in solutions] + ["default"]
        jobs = [
            _dedupe([*overrides, *self.final_overrides, *self.job_overrides("best")])
            for _, overrides in solutions
        ]
        jobs.append(_dedupe([*default, *self.final_overrides, *self.job_overrides("default")]))
        for label, job in zip(labels, jobs, strict=True):
            log.info("finalize: launching %s %s", label, job)
        results = sweeper.launch(jobs)
        final: dict[str, Any] = {}
        for label, result in zip(labels, results, strict=True):
            ok = result.status == JobStatus.COMPLETED
            if ok:
                log.info("finalize %s: returned %s", label, result._return_value)
            else:
                log.error("finalize %s failed: %s", label, result._return_value)
            final[label] = {
                "overrides": list(result.overrides or []),
                "status": result.status.name,
                "return_value": result._return_value if ok else None,
                "error": None
                if ok
                else f"{type(result._return_value).__name__}: {result._return_value}",
            }
        return final

    def on_abort(self, sweeper: Any, exc: BaseException) -> None:
        """Record the abort and give the callbacks their end hook, so the sweep run closes."""
        from hydra._internal.callbacks import Callbacks

        from imbsweep import sweep

        config = sweeper.config
        if config is None:
            return
        sweep_dir = Path(str(config.hydra.sweep.dir)).resolve()
        if not (sweep_dir / sweep.RUN_ID_FILE).exists():
            return  # nothing was opened (e.g. a bad search space): nothing to close
        sweep.record_failure(sweep_dir, f"optuna study {sweeper.study_name}", [], exc)
        # The callback exits non-zero on failures; the study's own error is raised instead.
        with contextlib.suppress(SystemExit):
            Callbacks(config).on_multirun_end(config=config)


def _dedupe(overrides: Sequence[str]) -> list[str]:
    """Keep the last override per key so later sources win without Hydra complaining."""
    by_key: dict[str, str] = {}
    for item in overrides:
        key = item.split("=", 1)[0].lstrip("+~")
        by_key.pop(key, None)
        by_key[key] = item
    return list(by_key.values())
