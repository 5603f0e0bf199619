"""The sweeper itself: settings checks, storage and study, the ask/launch/tell loop, results."""

import importlib.util
import inspect
import logging
import math
import os
import socket
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import get_method, instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf
from optuna.trial import TrialState

from hydra_plugins.imbsweep_plugins.optuna_sweeper.config import (
    DRIVER_ATTR,
    ERROR_ATTR,
    OVERRIDES_ATTR,
    RESULTS_FILE,
)
from hydra_plugins.imbsweep_plugins.optuna_sweeper.errors import (
    OptunaSweeperError,
    SearchSpaceError,
)
from hydra_plugins.imbsweep_plugins.optuna_sweeper.heartbeat import Heartbeat, fail_stale_trials
from hydra_plugins.imbsweep_plugins.optuna_sweeper.hooks import SweeperHooks
from hydra_plugins.imbsweep_plugins.optuna_sweeper.hooks import dedupe_overrides as _dedupe
from hydra_plugins.imbsweep_plugins.optuna_sweeper.search_space import (
    SearchSpace,
    parse_search_space,
)
from imbsweep.errors import InputError

log = logging.getLogger(__name__)

# Start-up composition checks per sweep (about 20 ms each): bounds the cost for huge spaces.
_MAX_COMPOSE_CHECKS = 200
# Samplers that import an optional package when they first sample: checked at start instead.
_NEEDS = {
    "CmaEsSampler": ["cmaes"],
    "QMCSampler": ["scipy"],
    "GPSampler": ["torch", "scipy"],
}
_MOTPE = "raise_motpe_removed"


class OptunaSweeperImpl(Sweeper):
    """See the package docstring; parameters are the keys of ``config.OptunaSweeperConf``."""

    def __init__(
        self,
        sampler: Any = None,
        direction: Any = "minimize",
        storage: Any = None,
        study_name: str | None = None,
        n_trials: int = 20,
        n_jobs: int = 2,
        max_failure_rate: float = 0.0,
        params: Mapping[str, str] | None = None,
        custom_search_space: str | None = None,
        fresh: bool = False,
        heartbeat_interval: int = 30,
        grace_period: int | None = None,
        hooks: Any = None,
    ) -> None:
        super().__init__()
        self.sampler_conf: dict[str, Any] = dict(
            _to_plain(sampler) or {"_target_": "optuna.samplers.TPESampler"}
        )
        direction = _to_plain(direction)
        self.directions_given = direction
        self.storage_url = storage
        self.study_name = study_name
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.max_failure_rate = max_failure_rate
        self.params = _to_plain(params) or {}
        self.custom_search_space = custom_search_space
        self.fresh = fresh
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period
        self.hooks_conf = _to_plain(hooks)
        self.hooks: SweeperHooks = SweeperHooks()
        self.directions: list[str] = []
        self.hydra_context: HydraContext | None = None
        self.config: DictConfig | None = None
        self.launcher: Any = None
        self._job_idx = 0

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        """Keep Hydra's context and build the configured launcher."""
        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    # ---------------------------------------------------------------- validation

    def _check_settings(self) -> None:
        """Reject bad scalar settings before anything is created."""
        given = self.directions_given
        items = list(given) if isinstance(given, (list, tuple)) else [given]
        directions = [str(getattr(d, "name", d)).lower() for d in items]
        if not directions or any(d not in ("minimize", "maximize") for d in directions):
            raise OptunaSweeperError(
                f"hydra.sweeper.direction={given}: expected minimize, maximize, or a list of "
                "them for a multi-objective study, e.g. direction=[maximize,maximize]"
            )
        self.directions = directions
        checks = [
            (self.n_trials >= 0, f"n_trials={self.n_trials} must be >= 0"),
            (self.n_jobs >= 1, f"n_jobs={self.n_jobs} must be >= 1"),
            (
                0.0 <= self.max_failure_rate <= 1.0,
                f"max_failure_rate={self.max_failure_rate} must be in [0, 1]",
            ),
            (
                self.heartbeat_interval >= 1,
                f"heartbeat_interval={self.heartbeat_interval} must be a positive int",
            ),
            (
                self.grace_period is None or self.grace_period >= 1,
                f"grace_period={self.grace_period} must be null or a positive int",
            ),
            (self.study_name != "", "study_name must not be empty (null lets Optuna name it)"),
        ]
        for ok, message in checks:
            if not ok:
                raise OptunaSweeperError(f"hydra.sweeper.{message}")
        if self.hooks_conf:
            try:
                self.hooks = instantiate(self.hooks_conf)
            except Exception as exc:
                raise OptunaSweeperError(f"hydra.sweeper.hooks: cannot build: {exc}") from exc

    def _sampler_target(self) -> Any:
        target = self.sampler_conf.get("_target_")
        if not target:
            raise OptunaSweeperError("hydra.sweeper.sampler: no _target_")
        if str(target).endswith(_MOTPE):
            from hydra_plugins.imbsweep_plugins.optuna_sweeper.config import raise_motpe_removed

            try:
                raise_motpe_removed()
            except ValueError as exc:
                raise OptunaSweeperError(f"hydra/sweeper/sampler=motpe: {exc}") from None
        try:
            return get_method(str(target))
        except Exception as exc:
            raise OptunaSweeperError(
                f"hydra.sweeper.sampler._target_={target}: cannot import it ({exc})"
            ) from None

    def _check_sampler(self, space: SearchSpace) -> bool:
        """Check the sampler's packages and arguments; return True for the grid sampler."""
        cls = self._sampler_target()
        name = getattr(cls, "__name__", str(cls))
        missing = [m for m in _NEEDS.get(name, []) if importlib.util.find_spec(m) is None]
        if missing:
            raise OptunaSweeperError(
                f"hydra/sweeper/sampler: {name} needs the package(s) {missing}, which are not "
                "installed" + (" (torch is not part of this project)" if "torch" in missing else "")
            )
        # A `_target_` override keeps the old group's keys: drop those the new target lacks.
        try:
            sig = inspect.signature(cls)
        except (TypeError, ValueError):
            sig = None
        if sig is not None and not any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
            dropped = [
                k for k in self.sampler_conf if not k.startswith("_") and k not in sig.parameters
            ]
            if dropped:
                log.warning(
                    "hydra.sweeper.sampler: %s takes no %s; ignored (keys of the sampler group "
                    "the _target_ override replaced)",
                    name,
                    ", ".join(dropped),
                )
                for k in dropped:
                    del self.sampler_conf[k]
        is_grid = isinstance(cls, type) and issubclass(cls, optuna.samplers.GridSampler)
        try:
            self._build_sampler(0, space if is_grid else None)
        except OptunaSweeperError:
            raise
        except Exception as exc:
            raise OptunaSweeperError(f"hydra.sweeper.sampler: cannot build {name}: {exc}") from exc
        return is_grid

    def _build_sampler(self, n_existing: int, grid_space: SearchSpace | None) -> Any:
        conf = dict(self.sampler_conf)
        seed = conf.get("seed")
        if isinstance(seed, int) and n_existing:
            # a resumed run re-seeded with the same seed would replay the first run's
            # random start-up draws and duplicate trials
            conf["seed"] = seed + n_existing
            log.info(
                "sampler seed %s -> %s: offset by the %s existing trials of the study",
                seed,
                conf["seed"],
                n_existing,
            )
        if grid_space is None:
            conf.pop("_partial_", None)
            return instantiate(conf)
        conf["_partial_"] = True
        return instantiate(conf)({n: p.grid() for n, p in grid_space.params.items()})

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        self.hooks.validate_batch(self, batch)

    def _check_composes(self, space: SearchSpace) -> None:
        """Compose trial configs before the study exists, to catch typos and bad values.

        One config with every numeric parameter at its low end, one at its high end, and one
        per further categorical choice: a choice naming a missing config group option, or a
        float for an int config key, then fails here instead of mid-study.
        """
        params = space.params.items()
        low = {n: p.choices[0] if p.kind == "categorical" else p.low for n, p in params}
        high = {n: p.choices[0] if p.kind == "categorical" else p.high for n, p in params}
        samples = [low, high]
        for name, param in space.params.items():
            samples.extend({**low, name: choice} for choice in param.choices[1:])
        checked: set[tuple[str, ...]] = set()
        for sample in samples[:_MAX_COMPOSE_CHECKS]:
            overrides = _dedupe(space.render(sample) + self.hooks.job_overrides("trial"))
            if tuple(overrides) in checked:
                continue
            checked.add(tuple(overrides))
            try:
                self.validate_batch_is_legal([overrides])
            except InputError:
                raise  # bad input the hooks found: its message names the job already
            except Exception as exc:
                raise OptunaSweeperError(
                    f"a trial config does not compose with overrides {overrides}: {exc}"
                ) from exc

    # ------------------------------------------------------------------- storage

    def _open_storage(self) -> tuple[Any, str]:
        """Return (storage or None for in-memory, URL to show)."""
        url = self.storage_url
        if url is None:
            return None, "in-memory"
        url = str(url)
        if url.startswith("sqlite:///"):
            path = url[len("sqlite:///") :].split("?", 1)[0]
            if path and path != ":memory:":
                Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # heartbeat_interval is "experimental" in Optuna 5; we rely on it knowingly
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(
                url, heartbeat_interval=self.heartbeat_interval, grace_period=self.grace_period
            )
        return storage, _hide_password(url)

    def _open_study(self, storage: Any, space: SearchSpace, grid: bool) -> optuna.Study:
        study_id: int | None = None
        if storage is not None and self.study_name is not None:
            try:
                study_id = storage.get_study_id_from_name(self.study_name)
            except KeyError:
                study_id = None
        if study_id is not None and self.fresh:
            n_old = len(storage.get_all_trials(study_id, deepcopy=False))
            log.warning(
                "fresh=true: deleting existing study '%s' (%s trials) and starting over",
                self.study_name,
                n_old,
            )
            optuna.delete_study(study_name=self.study_name, storage=storage)
            study_id = None

        n_existing = 0
        if study_id is not None:
            existing = [d.name.lower() for d in storage.get_study_directions(study_id)]
            if existing != self.directions:
                shown = existing[0] if len(existing) == 1 else existing
                raise OptunaSweeperError(
                    f"study '{self.study_name}' exists with direction={shown} but "
                    f"hydra.sweeper.direction={self.directions_given}; use another study_name "
                    "or fresh=true"
                )
            trials = storage.get_all_trials(study_id, deepcopy=False)
            n_existing = len(trials)
            _check_compatible(trials, space)

        sampler = self._build_sampler(n_existing, space if grid else None)
        return optuna.create_study(
            storage=storage,
            sampler=sampler,
            study_name=self.study_name,
            directions=self.directions,
            load_if_exists=True,
        )

    # --------------------------------------------------------------------- sweep

    def launch(
        self, batch: Sequence[Sequence[str]], costs: Sequence[float] | None = None
    ) -> Sequence[JobReturn]:
        """Check and launch one batch of jobs outside the study (for hooks' finalize);
        ``costs`` (each job's estimated cost) reach a launcher that takes them."""
        from hydra_plugins.imbsweep_plugins.dask_launcher import launch_units

        batch = [list(overrides) for overrides in batch]
        self.validate_batch_is_legal(batch)
        results = launch_units(self.launcher, batch, costs, initial_job_idx=self._job_idx)
        self._job_idx += len(batch)
        return results

    def sweep(self, arguments: list[str]) -> None:
        """Run the study; if it stops on an exception, the hooks' ``on_abort`` runs first."""
        try:
            self._sweep(arguments)
        except (Exception, KeyboardInterrupt) as exc:
            self.hooks.on_abort(self, exc)
            raise

    def _sweep(self, arguments: list[str]) -> None:
        assert self.config is not None and self.launcher is not None
        assert self.hydra_context is not None

        # everything that can be wrong with the settings fails here, before any storage
        self._check_settings()
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        space = parse_search_space(self.params, arguments, parser)
        self.hooks.check_space(list(space.params))
        extend = self._custom_search_space()
        grid = self._check_sampler(space)
        self._check_composes(space)

        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        prepare = getattr(self.launcher, "prepare", None)
        if prepare is not None and self.n_trials > 1:  # workers start while the study opens
            prepare(self.n_trials)

        storage, shown_url = self._open_storage()
        study = self._open_study(storage, space, grid)
        grace = self.grace_period or 2 * self.heartbeat_interval
        stale = fail_stale_trials(study, storage, grace) if storage is not None else []

        n_target = self.n_trials
        if grid:
            size = math.prod(len(p.grid()) for p in space.params.values())
            n_target = min(self.n_trials, size)
            log.info("grid sampler: %s grid points, n_trials %s", size, n_target)
        n_complete = _count(study, TrialState.COMPLETE)
        planned = max(n_target - n_complete, 0)
        log.info("Study name: %s", study.study_name)
        log.info("Storage: %s", shown_url)
        log.info("Sampler: %s", type(study.sampler).__name__)
        log.info("Directions: %s", self.directions)
        log.info(
            "search space: %s", "; ".join(p.describe() for p in space.params.values()) or "(none)"
        )
        if len(study.trials):
            log.info(
                "resuming study %s: %s complete, %s to go", study.study_name, n_complete, planned
            )

        self.hooks.study_start(self, study)
        if stale:
            self.hooks.stale_trials(self, study, stale)
        runner = self.hooks.trial_runner(self) or _JobTrials(self)
        heartbeat = Heartbeat(storage, self.heartbeat_interval)
        pending: dict[int, Any] = {}
        asked = 0
        window: list[tuple[int, str | None]] = []  # told since the last failure-rate check
        checked = time.monotonic()
        try:
            while asked < planned or pending:
                # A trial whenever the runner has room (no barrier: one that ends frees room)
                while asked < planned and (not pending or runner.wants_trial()):
                    trial, overrides = self._ask_one(study, space, heartbeat, pending, extend)
                    asked += 1
                    runner.submit(trial, overrides)
                    self._job_idx = max(self._job_idx, trial.number + 1)
                for number, result in runner.wait():
                    trial = pending.pop(number)
                    frozen, error = self._tell(study, trial, result)
                    heartbeat.discard(trial._trial_id)
                    window.append((number, error))
                    self._log_progress(study, frozen, error, n_target)
                if window and (len(window) >= self.n_jobs or (asked >= planned and not pending)):
                    failures = [(n, e) for n, e in window if e is not None]
                    if len(failures) / len(window) > self.max_failure_rate:
                        self._abort_pending(study, pending, heartbeat, RuntimeError("aborted"))
                        self._write_results(study, shown_url, sweep_dir, space, None, aborted=True)
                        number, error = failures[-1]
                        raise OptunaSweeperError(
                            f"{len(failures)} of {len(window)} trials of the batch failed "
                            f"(failure rate {len(failures) / len(window):.2f} > max_failure_rate "
                            f"{self.max_failure_rate}); last failure, trial {number}: {error}. "
                            f"Failed trials are FAIL in study '{study.study_name}' with user attr "
                            f"'{ERROR_ATTR}'; with a storage and study_name, re-running resumes."
                        )
                    window = []
                if storage is not None and time.monotonic() - checked > self.heartbeat_interval:
                    fail_stale_trials(study, storage, grace)  # of other drivers on this study
                    checked = time.monotonic()
        finally:
            if pending:
                self._abort_pending(study, pending, heartbeat, RuntimeError("driver stopped"))
            heartbeat.close()
            runner.close()

        final = self._finalize(study, space)
        self._write_results(study, shown_url, sweep_dir, space, final)
        self.hooks.sweep_end(self)

    def _custom_search_space(self) -> Callable[[DictConfig, Any], None] | None:
        if not self.custom_search_space:
            return None
        try:
            return get_method(self.custom_search_space)
        except Exception as exc:
            raise OptunaSweeperError(
                f"hydra.sweeper.custom_search_space={self.custom_search_space}: cannot import "
                f"it ({exc}); give the dotpath of a function f(config, trial)"
            ) from None

    def _ask_one(
        self,
        study: optuna.Study,
        space: SearchSpace,
        heartbeat: Heartbeat,
        pending: dict[int, Any],
        extend: Callable[[DictConfig, Any], None] | None,
    ) -> tuple[Any, list[str]]:
        """Ask one trial and record its overrides, fixed values and first heartbeat."""
        driver = f"{socket.gethostname()}:{os.getpid()}"
        with warnings.catch_warnings():
            # Optuna warns that heartbeats are meant for optimize(): we beat ourselves
            warnings.filterwarnings("ignore", message="Heartbeat of storage")
            trial = study.ask(space.distributions())
        pending[trial.number] = trial
        # Trial._trial_id is the storage id the heartbeat table is keyed by
        heartbeat.add(trial._trial_id)
        if heartbeat._storage is not None:
            trial.set_user_attr(DRIVER_ATTR, driver)
        for name, value in space.fixed_values().items():
            # where the official plugin keeps fixed values: user attrs, not params
            trial.set_user_attr(name, value)
        if extend is not None:
            assert self.config is not None
            extend(self.config, trial)
            overlap = {n.lstrip("+") for n in trial.params} & set(space.fixed)
            if overlap:
                raise OptunaSweeperError(
                    f"custom_search_space suggested {sorted(overlap)}, which the command "
                    "line or params fix; drop one of them"
                )
        job_overrides = _dedupe(space.render(trial.params) + self.hooks.job_overrides("trial"))
        trial.set_user_attr(OVERRIDES_ATTR, job_overrides)
        return trial, job_overrides

    def _abort_pending(
        self, study: optuna.Study, pending: dict[int, Any], heartbeat: Heartbeat, exc: BaseException
    ) -> None:
        """Fail asked-but-untold trials so they do not wait for the stale check."""
        for number, trial in list(pending.items()):
            try:
                trial.set_user_attr(ERROR_ATTR, f"driver aborted: {_error_text(exc)}")
                _tell_quietly(study, trial, state=TrialState.FAIL, skip_if_finished=True)
            except Exception as tell_exc:  # best effort; the stale check covers the rest
                log.warning("could not fail trial %s: %s", number, tell_exc)
            heartbeat.discard(trial._trial_id)
            pending.pop(number, None)

    def _tell(self, study: optuna.Study, trial: Any, result: JobReturn) -> tuple[Any, str | None]:
        """Tell one job's outcome; return the finished trial and its error text, if any."""
        if result.status != JobStatus.COMPLETED:
            values, error = None, _error_text(result._return_value)
        else:
            values, error = _objective(result._return_value, len(self.directions))
        if result.working_dir:
            trial.set_user_attr("job_dir", str(result.working_dir))
        if error is not None:
            trial.set_user_attr(ERROR_ATTR, error)
            log.warning("Failed experiment: trial %s: %s", trial.number, error)
            return _tell_quietly(study, trial, state=TrialState.FAIL), error
        return _tell_quietly(study, trial, values=values), None

    def _log_progress(
        self, study: optuna.Study, trial: Any, error: str | None, n_target: int
    ) -> None:
        """Log one finished trial with the best so far and the study's progress."""
        n_complete = _count(study, TrialState.COMPLETE)
        if len(self.directions) > 1:
            best = f"{len(study.best_trials)} Pareto-optimal"
        else:
            try:
                best = f"best {study.best_value:.6g} (trial {study.best_trial.number})"
            except ValueError:
                best = "best n/a"
        if error:
            outcome = f"FAILED ({error})"
        else:
            outcome = "value " + ", ".join(f"{v:.6g}" for v in trial.values)
        log.info(
            "trial %s %s params %s | %s | %s/%s complete",
            trial.number,
            outcome,
            trial.params,
            best,
            n_complete,
            n_target,
        )

    # ----------------------------------------------------------------- results

    def _solutions(self, study: optuna.Study) -> list[Any]:
        """The best trial, or the Pareto front (by trial number); empty if nothing completed."""
        if len(self.directions) > 1:
            return sorted(study.best_trials, key=lambda t: t.number)
        try:
            return [study.best_trial]
        except ValueError:
            return []

    def _finalize(self, study: optuna.Study, space: SearchSpace) -> Mapping[str, Any] | None:
        best = self._solutions(study)
        if not best:
            log.warning("study '%s' has no COMPLETE trial", study.study_name)
        if len(self.directions) == 1:
            labels = ["best"] * len(best)
        else:
            labels = [f"pareto_{i}" for i in range(len(best))]
        solutions = [(label, space.render(t.params)) for label, t in zip(labels, best, strict=True)]
        return self.hooks.finalize(self, study, solutions, list(space.fixed.values()))

    def _write_results(
        self,
        study: optuna.Study,
        shown_url: str,
        sweep_dir: Path,
        space: SearchSpace,
        final: Mapping[str, Any] | None,
        aborted: bool = False,
    ) -> None:
        names = {TrialState.FAIL: "failed"}
        counts = {names.get(state, state.name.lower()): 0 for state in TrialState}
        for trial in study.get_trials(deepcopy=False):
            counts[names.get(trial.state, trial.state.name.lower())] += 1
        results: dict[str, Any] = {"name": "optuna"}
        best = self._solutions(study)
        if len(self.directions) == 1:
            results.update(best_params={}, best_value=None, best_trial=None)
            if best:
                results.update(
                    best_params={k: _plain_value(v) for k, v in best[0].params.items()},
                    best_value=_plain_value(best[0].value),
                    best_trial=best[0].number,
                    best_value_is="the maximum over trials of the objective: optimistic",
                )
                log.info("Best parameters: %s", best[0].params)
                log.info(
                    "Best value: %s (trial %s): the maximum over trials, an optimistic estimate",
                    best[0].value,
                    best[0].number,
                )
        else:
            results["solutions"] = [
                {
                    "number": t.number,
                    "params": {k: _plain_value(v) for k, v in t.params.items()},
                    "values": [_plain_value(v) for v in t.values],
                }
                for t in best
            ]
            log.info("Number of Pareto solutions: %s", len(best))
            for t in best:
                log.info("    Values: %s, Params: %s (trial %s)", t.values, t.params, t.number)
        results.update(
            study_name=study.study_name,
            storage=shown_url,
            direction=self.directions[0] if len(self.directions) == 1 else self.directions,
            sampler=type(study.sampler).__name__,
            n_trials={"target": self.n_trials, **counts},
            aborted=aborted,
            search_space={name: p.describe() for name, p in space.params.items()},
        )
        if final is not None:
            results["final"] = _plain_value(final)
        OmegaConf.save(OmegaConf.create(results), sweep_dir / RESULTS_FILE)
        log.info("wrote %s", sweep_dir / RESULTS_FILE)


# --------------------------------------------------------------------------- helpers


class _JobTrials:
    """Each trial one job of the launcher, at most ``n_jobs`` at once.

    On a launcher that streams (``hydra/launcher=dask``) a trial starts as soon as one ends; on
    any other the ``n_jobs`` queued trials run as one batch (the official plugin's way).
    """

    def __init__(self, sweeper: "OptunaSweeperImpl") -> None:
        from hydra_plugins.imbsweep_plugins.job_stream import open_stream

        self.sweeper = sweeper
        self.stream = open_stream(sweeper.launcher)

    def wants_trial(self) -> bool:
        return len(self.stream) < self.sweeper.n_jobs

    def submit(self, trial: Any, overrides: list[str]) -> None:
        self.sweeper.validate_batch_is_legal([overrides])
        self.stream.submit(trial.number, trial.number, overrides)

    def wait(self) -> list[tuple[int, Any]]:
        return self.stream.wait()

    def close(self) -> None:
        self.stream.close()


def _count(study: optuna.Study, state: TrialState) -> int:
    return len(study.get_trials(deepcopy=False, states=(state,)))


def _tell_quietly(study: optuna.Study, trial: Any, **kwargs: Any) -> Any:
    """``study.tell``, but the grid sampler's ``study.stop()`` on its last point is harmless.

    GridSampler stops the study from ``after_trial`` when the grid is done; outside
    ``study.optimize`` that raises after the trial is already recorded.
    """
    try:
        return study.tell(trial, **kwargs)
    except RuntimeError as exc:
        if "Study.stop" not in str(exc):
            raise
        return study._storage.get_trial(trial._trial_id)


def _check_compatible(trials: Sequence[Any], space: SearchSpace) -> None:
    """Fail early if the search space changed in a way Optuna rejects for a study."""
    from optuna.distributions import check_distribution_compatibility

    seen: dict[str, Any] = {}
    for trial in trials:
        seen.update(trial.distributions)
    for name, param in space.params.items():
        if name not in seen:
            continue
        try:
            check_distribution_compatibility(seen[name], param.distribution())
        except ValueError as exc:
            raise SearchSpaceError(
                f"search space '{name}' ({param.describe()}) does not fit the existing "
                f"study, which used {seen[name]}: {exc} Use another study_name or fresh=true."
            ) from None


def _objective(value: Any, n: int) -> tuple[list[float] | None, str | None]:
    """Return (values, None) or (None, error) for a job's return value and n objectives."""
    need = "a float" if n == 1 else f"a list of {n} floats"
    items = _to_plain(value)
    if n == 1 and isinstance(items, (list, tuple)) and len(items) == 1:
        items = items[0]
    if n > 1:
        if not isinstance(items, (list, tuple)):
            return None, f"objective returned {value!r}; the task function must return {need}"
        if len(items) != n:
            return None, (
                f"objective returned {len(items)} values for {n} directions; the task "
                f"function must return {need}"
            )
    out: list[float] = []
    for item in items if n > 1 else [items]:
        if isinstance(item, (str, bytes, bool)) or item is None:
            return None, f"objective returned {value!r}; the task function must return {need}"
        try:
            number = float(item)
        except (TypeError, ValueError):
            return None, (
                f"objective returned {type(value).__name__} {value!r}; the task function "
                f"must return {need}"
            )
        if not math.isfinite(number):
            return None, f"objective returned non-finite value {number}"
        out.append(number)
    return out, None


def _error_text(exc: Any) -> str:
    if isinstance(exc, BaseException):
        return f"{type(exc).__name__}: {exc}"
    return str(exc)


def _plain_value(value: Any) -> Any:
    """Return a YAML-friendly version of a value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return _plain_value(item())
        except (TypeError, ValueError):
            pass
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    if isinstance(value, Mapping):
        return {str(k): _plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_value(v) for v in value]
    return repr(value)


def _to_plain(value: Any) -> Any:
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _hide_password(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a parseable URL: show it as given
        return url
