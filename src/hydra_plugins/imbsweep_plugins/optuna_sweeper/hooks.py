"""The app's hooks into the sweeper: the protocol, and the defaults used when none are set.

An app opts in with ``hydra.sweeper.hooks._target_=<dotpath of a SweeperHooks subclass>`` (more
keys of that node are passed to its constructor). The sweeper calls, in this order:

``check_space(names)``
    once, with the swept parameter names, before anything is stored; raise to refuse one.
``study_start(sweeper, study)``
    once the study is open, before its first trial (e.g. to open the app's own records).
``job_overrides(stage)``
    overrides added to every job of a stage: ``"trial"`` for study trials (other stages are
    the app's own, e.g. in ``finalize``).
``validate_batch(sweeper, batch)``
    every batch before it is launched, and the start-up composition checks; the default
    composes each job's config as Hydra does.
``finalize(sweeper, study, solutions, default)``
    after a study that was not aborted. ``solutions`` is a list of ``(label, overrides)``:
    ``[("best", ...)]`` for one objective, ``[("pareto_0", ...), ...]`` for the Pareto front;
    ``default`` is the overrides of the app's defaults (the fixed ones only). It may launch
    jobs with ``sweeper.launch(batch)``; what it returns (a mapping, or None) is saved under
    ``final`` in optimization_results.yaml.
``trial_runner(sweeper)``
    once, before the first trial: an object that runs trials its own way (see
    :class:`TrialRunner`), or None: each trial is one job of the launcher.
``stale_trials(sweeper, study, numbers)``
    with the trials a dead driver left RUNNING, just failed (e.g. to ask their params again).
``sweep_end(sweeper)``
    last, after optimization_results.yaml is written (not after an abort).
``on_abort(sweeper, exc)``
    when the sweep stops on an exception (Hydra then skips ``on_multirun_end``).
"""

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class SweeperHooks:
    """Hooks that add nothing: what the sweeper does for an app that sets no hooks."""

    def check_space(self, names: Sequence[str]) -> None:
        """Refuse a swept parameter by raising (``names`` as Optuna stores them)."""

    def study_start(self, sweeper: Any, study: Any) -> None:
        """Called once the study is open, before its first trial."""

    def job_overrides(self, stage: str) -> list[str]:
        """Overrides every job of ``stage`` gets (after the trial's own)."""
        return []

    def validate_batch(self, sweeper: Any, batch: Sequence[Sequence[str]]) -> None:
        """Compose each job's config, as Hydra does before launching."""
        cfg_loader = sweeper.hydra_context.config_loader
        for overrides in batch:
            cfg_loader.load_sweep_config(sweeper.config, list(overrides))

    def finalize(
        self,
        sweeper: Any,
        study: Any,
        solutions: Sequence[tuple[str, list[str]]],
        default: list[str],
    ) -> Mapping[str, Any] | None:
        """Run anything after the study; the result is saved under ``final``."""
        return None

    def trial_runner(self, sweeper: Any) -> Any:
        """A :class:`TrialRunner`, or None: each trial is one job of the launcher."""
        return None

    def stale_trials(self, sweeper: Any, study: Any, numbers: Sequence[int]) -> None:
        """Trials a dead driver left RUNNING, failed just now."""

    def sweep_end(self, sweeper: Any) -> None:
        """Called last, after the results file is written."""

    def on_abort(self, sweeper: Any, exc: BaseException) -> None:
        """Clean up after a sweep that stops on ``exc`` (which is raised afterwards)."""


class TrialRunner(Protocol):
    """Runs a study's trials: the sweeper asks a trial whenever ``wants_trial()`` says so.

    ``submit(trial, overrides)`` starts one; ``wait()`` blocks until something ends and returns
    ``[(trial number, JobReturn), ...]`` for the trials now finished (maybe none); ``close()``.
    """

    def wants_trial(self) -> bool: ...

    def submit(self, trial: Any, overrides: list[str]) -> None: ...

    def wait(self) -> list[tuple[int, Any]]: ...

    def close(self) -> None:
        """Stop what still runs."""


def dedupe_overrides(overrides: Sequence[str]) -> list[str]:
    """Keep the last override per key so later sources win without Hydra complaining."""
    by_key: dict[str, str] = {}
    for item in overrides:
        key = item.split("=", 1)[0].lstrip("+~")
        by_key.pop(key, None)
        by_key[key] = item
    return list(by_key.values())
