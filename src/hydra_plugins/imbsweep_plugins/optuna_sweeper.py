"""Hydra sweeper that drives an Optuna (5.x) study with ask/tell.

Select it with ``hydra/sweeper=optuna``. The config keys and the search-space grammar
follow Hydra's own ``hydra-optuna-sweeper`` (which pins ``optuna<3``), so existing
knowledge carries over; see :class:`OptunaSweeperConf` for the keys and
:data:`GRAMMAR_HELP` for the grammar.

Differences worth knowing:

* ``n_trials`` is the number of COMPLETE trials the *study* should reach. Re-running the
  same command with the same ``study_name`` and ``storage`` resumes: only the missing
  trials run. Failed trials do not count, so a re-run retries them with new parameters.
* ``range(start, stop[, step])`` excludes ``stop``, exactly as Hydra's basic sweeper and
  Python do (the official Optuna plugin included it).
* Trials left RUNNING by a driver that died are failed when the study is next opened.
* After the study, a "finalize" batch can re-run the best parameters and the defaults.

Hydra imports every module under ``hydra_plugins`` when any Hydra app starts, so this
module keeps its top-level imports light and imports Optuna only inside the sweeper.
"""

# No `from __future__ import annotations` here: Hydra's plugin scanner executes this module
# before putting it in sys.modules, and dataclasses then fail on string annotations.
import contextlib
import logging
import math
import os
import socket
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    Glob,
    IntervalSweep,
    Override,
    QuotedString,
    RangeSweep,
    Transformer,
)
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException, HydraException
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, ListConfig, OmegaConf

from hydra_plugins.imbsweep_plugins.checks import check_jobs

if TYPE_CHECKING:  # pragma: no cover - typing only, optuna is imported lazily
    import optuna
    from optuna.distributions import BaseDistribution

log = logging.getLogger(__name__)

RESULTS_FILE = "optimization_results.yaml"
# Start-up composition checks per sweep (about 20 ms each): bounds the cost for huge spaces.
_MAX_COMPOSE_CHECKS = 200
# Marks trials whose driver records heartbeats; other RUNNING trials are judged by age.
DRIVER_ATTR = "imbsweep_driver"
OVERRIDES_ATTR = "hydra_overrides"
ERROR_ATTR = "error"

GRAMMAR_HELP = """\
accepted search-space values (Hydra override grammar):
  choice(a, b, c)  or  a,b,c          -> categorical
  range(start, stop[, step])          -> int with step (float if any bound is a float);
                                         stop is excluded, as in Hydra's basic sweeper
  interval(low, high)                 -> float, uniform in [low, high]
  tag(log, interval(low, high))       -> float, log-uniform (low > 0)
  int(interval(low, high))            -> int, uniform in [low, high]
  tag(log, int(interval(low, high)))  -> int, log-uniform (low >= 1)
  anything else (e.g. 3, small, [1,2]) -> a fixed override passed to every trial"""


# --------------------------------------------------------------------------- configs


@dataclass
class TPESamplerConf:
    """Optuna's TPE sampler (``hydra/sweeper/sampler=tpe``, the default)."""

    _target_: str = "optuna.samplers.TPESampler"
    seed: int | None = None
    n_startup_trials: int = 10
    multivariate: bool = False
    # Batches of n_jobs > 1 ask several trials before any is told: the liar spreads them.
    constant_liar: bool = False


@dataclass
class RandomSamplerConf:
    """Optuna's random sampler (``hydra/sweeper/sampler=random``)."""

    _target_: str = "optuna.samplers.RandomSampler"
    seed: int | None = None


@dataclass
class FinalizeConf:
    """The last batch run after the study: best parameters and defaults, side by side.

    ``enabled``: true runs it, false never does, null runs it only if ``overrides`` is set.
    ``overrides``: extra overrides for both final jobs (e.g. ``["seeds=10"]``).
    """

    enabled: bool | None = True
    overrides: list[str] = field(default_factory=list)


@dataclass
class OptunaSweeperConf:
    """Config of :class:`OptunaSweeper`, stored as ``hydra/sweeper=optuna``."""

    _target_: str = "hydra_plugins.imbsweep_plugins.optuna_sweeper.OptunaSweeper"
    # The sampler config reaches the sweeper un-instantiated: it derives the seed of a
    # resumed run from the study's size before building the sampler.
    _recursive_: bool = False
    defaults: list[Any] = field(default_factory=lambda: ["_self_", {"sampler": "tpe"}])

    sampler: Any = None
    direction: Any = "minimize"
    # SQLAlchemy URL; null means sqlite:///<launching cwd>/optuna.db.
    storage: str | None = None
    study_name: str = "imbsweep"
    n_trials: int = 20
    n_jobs: int = 1
    max_failure_rate: float = 0.0
    # {} rather than null: Hydra cannot merge a command-line dict into a null typed dict.
    params: dict[str, str] | None = field(default_factory=dict)
    # true: delete an existing study of this name in the storage first.
    fresh: bool = False
    # Seconds between heartbeats of running trials; a RUNNING trial whose last heartbeat
    # (or start, if it never had one) is older than grace_period is failed as stale.
    heartbeat_interval: int = 30
    grace_period: int | None = None  # null: 2 * heartbeat_interval
    # Config key set to trial / best / default in the jobs; null sets nothing.
    stage_key: str | None = "stage"
    finalize: FinalizeConf = field(default_factory=FinalizeConf)


_cs = ConfigStore.instance()
_cs.store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider="imbsweep")
_cs.store(group="hydra/sweeper/sampler", name="tpe", node=TPESamplerConf, provider="imbsweep")
_cs.store(group="hydra/sweeper/sampler", name="random", node=RandomSamplerConf, provider="imbsweep")


# ---------------------------------------------------------------------- search space


class OptunaSweeperError(CompactHydraException):
    """A setting or outcome that stops the sweep (Hydra prints just the message)."""


class SearchSpaceError(OptunaSweeperError, ValueError):
    """A search-space entry that cannot be turned into an Optuna distribution."""


@dataclass(frozen=True)
class SearchParam:
    """One swept parameter: its Optuna distribution and how to write it back as override.

    Attributes
    ----------
    name : str
        Optuna parameter name: the override key without ``+``/``++`` prefix.
    prefix : str
        Override prefix (``""``, ``"+"`` or ``"++"``) used when rendering overrides.
    kind : str
        ``"float"``, ``"int"`` or ``"categorical"``.
    low, high, step, log
        Bounds of numeric parameters (``high`` included).
    choices : tuple
        Categorical values as Optuna stores them.
    choice_strings : tuple of str
        The same values in override grammar, index-aligned with ``choices``.
    """

    name: str
    prefix: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    step: float | int | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    choice_strings: tuple[str, ...] = ()

    def distribution(self) -> "BaseDistribution":
        """Return the Optuna distribution of this parameter."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        if self.kind == "categorical":
            return CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return IntDistribution(
                int(self.low), int(self.high), log=self.log, step=int(self.step or 1)
            )
        return FloatDistribution(float(self.low), float(self.high), log=self.log, step=self.step)

    def render(self, value: Any) -> str:
        """Return the override ``key=value`` for a value sampled by Optuna."""
        if self.kind == "categorical":
            for choice, text in zip(self.choices, self.choice_strings, strict=True):
                # type check too: True == 1 and 1 == 1.0 must not be confused
                if type(choice) is type(value) and choice == value:
                    return f"{self.prefix}{self.name}={text}"
            return f"{self.prefix}{self.name}={Transformer.str(value)}"
        if self.kind == "int":
            return f"{self.prefix}{self.name}={int(value)}"
        return f"{self.prefix}{self.name}={float(value)!r}"

    def describe(self) -> str:
        """Return a one-line human description, used in the start-up log."""
        if self.kind == "categorical":
            return f"{self.name}: categorical {list(self.choices)}"
        extra = " log" if self.log else ""
        extra += f" step={self.step}" if self.step not in (None, 1) else ""
        return f"{self.name}: {self.kind} [{self.low}, {self.high}]{extra}"


@dataclass
class SearchSpace:
    """Parsed ``params`` plus command-line arguments.

    Attributes
    ----------
    params : dict
        Swept parameters by name, in first-seen order.
    fixed : dict
        Non-sweep overrides (``key -> "key=value"`` as typed), passed to every job.
    """

    params: dict[str, SearchParam] = field(default_factory=dict)
    fixed: dict[str, str] = field(default_factory=dict)

    def distributions(self) -> "dict[str, BaseDistribution]":
        """Return ``{name: distribution}`` for ``study.ask``."""
        return {name: p.distribution() for name, p in self.params.items()}

    def render(self, values: Mapping[str, Any]) -> list[str]:
        """Return overrides for sampled values: fixed overrides, then swept ones."""
        out = list(self.fixed.values())
        for name, value in values.items():
            param = self.params.get(name)
            out.append(param.render(value) if param else f"{name}={Transformer.str(value)}")
        return out


def _override_name(override: Override) -> tuple[str, str]:
    """Split an override key into (name without prefix, prefix)."""
    element = override.get_key_element()
    name = override.key_or_group
    if override.package is not None:
        name = f"{name}@{override.package}"
    return name, element[: len(element) - len(name)]


def _fail(key: str, text: str, problem: str) -> SearchSpaceError:
    return SearchSpaceError(f"search space '{key}: {text}': {problem}\n{GRAMMAR_HELP}")


def _param_from_override(override: Override, name: str, prefix: str, text: str) -> SearchParam:
    """Turn one sweep override into a :class:`SearchParam`, validating it."""
    value = override.value()
    tags = set(getattr(value, "tags", set()) or set())
    unknown = tags - {"log"}
    if unknown:
        raise _fail(name, text, f"unsupported tag(s) {sorted(unknown)}; only 'log'")
    use_log = "log" in tags

    if isinstance(value, IntervalSweep):
        low, high = value.start, value.end
        if low is None or high is None:
            raise _fail(name, text, "interval needs both bounds")
        # int(interval(..)) keeps int bounds; a bare interval(..) always parses to floats
        is_int = isinstance(low, int) and isinstance(high, int)
        if low > high:
            raise _fail(name, text, f"low {low} is greater than high {high}")
        if use_log and (low < 1 if is_int else low <= 0):
            need = ">= 1 for an int" if is_int else "> 0"
            raise _fail(name, text, f"log scale needs low {need}, got {low}")
        kind = "int" if is_int else "float"
        return SearchParam(name, prefix, kind, low=low, high=high, log=use_log)

    if isinstance(value, RangeSweep):
        if value.shuffle:
            # the order does not matter to Optuna: a categorical over the same values
            return _categorical(name, prefix, text, list(value.range()), use_log)
        start, stop, step = value.start, value.stop, value.step
        if not step:
            raise _fail(name, text, "range step must not be 0")
        values = list(value.range())
        if not values:
            raise _fail(name, text, f"range({start}, {stop}, {step}) is empty")
        is_int = all(isinstance(v, int) for v in (start, stop, step))
        low, high = min(values), max(values)
        if use_log:
            if not is_int or abs(step) != 1:
                raise _fail(name, text, "log scale needs an int range with step 1")
            if low < 1:
                raise _fail(name, text, f"log scale needs low >= 1, got {low}")
        if is_int:
            return SearchParam(name, prefix, "int", low=low, high=high, step=abs(step), log=use_log)
        # exact decimal bounds so Optuna's step grid lines up with Hydra's values
        d_step = abs(Decimal(str(step)))
        return SearchParam(
            name,
            prefix,
            "float",
            low=float(Decimal(str(low))),
            high=float(Decimal(str(high))),
            step=float(d_step),
        )

    if isinstance(value, ChoiceSweep):
        return _categorical(name, prefix, text, list(value.list), use_log)
    if isinstance(value, Glob):
        return _categorical(name, prefix, text, list(override.sweep_iterator()), use_log)
    raise _fail(name, text, f"unsupported sweep type {type(value).__name__}")


def _categorical(
    name: str,
    prefix: str,
    text: str,
    items: list[Any],
    use_log: bool,
) -> SearchParam:
    if use_log:
        raise _fail(name, text, "tag(log, ...) applies to interval/range only")
    if not items:
        raise _fail(name, text, "a choice needs at least one value")
    values: list[Any] = []
    strings: list[str] = []
    for item in items:
        text_form = Transformer.str(item)
        if isinstance(item, QuotedString):
            item = item.text
        if item is None or isinstance(item, (list, dict)):
            # Optuna stores only None/bool/int/float/str: keep such values as their text
            item = text_form
        # Optuna finds a choice by ==, so 1, 1.0 and true would collapse into one
        if any(v == item for v in values):
            raise _fail(
                name, text, f"duplicate choice {text_form} (1, 1.0 and true count as equal)"
            )
        values.append(item)
        strings.append(text_form)
    return SearchParam(
        name, prefix, "categorical", choices=tuple(values), choice_strings=tuple(strings)
    )


def parse_search_space(
    params: Mapping[str, Any] | None,
    arguments: Sequence[str],
    parser: OverridesParser,
) -> SearchSpace:
    """Parse ``hydra.sweeper.params`` and the command-line arguments.

    Parameters
    ----------
    params : mapping or None
        ``hydra.sweeper.params``: key -> override-grammar string.
    arguments : sequence of str
        Command-line task overrides; they win over ``params`` for the same key.
    parser : OverridesParser
        Hydra's parser (created with the config loader so ``glob`` works).

    Returns
    -------
    SearchSpace

    Raises
    ------
    SearchSpaceError
        For any entry that cannot be parsed or mapped to a distribution; the message
        names the key, the problem and the accepted grammar.
    """
    lines: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        text = "null" if value is None else str(value)
        lines.append((str(key), f"{key}={text}"))
    lines.extend((arg.split("=", 1)[0], arg) for arg in arguments)

    space = SearchSpace()
    for key, line in lines:
        text = line.split("=", 1)[1] if "=" in line else ""
        try:
            override = parser.parse_override(line)
        except HydraException as exc:
            raise _fail(key, text, f"cannot parse: {exc}") from None
        name, prefix = _override_name(override)
        # a later source (the command line) replaces an earlier one for the same key
        space.params.pop(name, None)
        space.fixed.pop(name, None)
        if override.is_sweep_override():
            space.params[name] = _param_from_override(override, name, prefix, text)
        else:
            space.fixed[name] = line
    return space


# ------------------------------------------------------------------------- heartbeat


class _Heartbeat:
    """Record Optuna heartbeats for this driver's running trials from a thread.

    ``study.optimize`` does this itself; an ask/tell driver must, or its trials would
    never look stale after a crash.
    """

    def __init__(self, storage: Any, interval: int) -> None:
        self._storage = storage
        self._interval = interval
        self._ids: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="imbsweep-heartbeat", daemon=True)
        self._thread.start()

    def add(self, trial_id: int) -> None:
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
        self._thread.join(timeout=5)


# --------------------------------------------------------------------------- sweeper


class OptunaSweeper(Sweeper):
    """Hydra sweeper running an Optuna study through the configured Hydra launcher.

    Parameters are the keys of :class:`OptunaSweeperConf`.
    """

    def __init__(
        self,
        sampler: Any = None,
        direction: Any = "minimize",
        storage: str | None = None,
        study_name: str = "imbsweep",
        n_trials: int = 20,
        n_jobs: int = 1,
        max_failure_rate: float = 0.0,
        params: Mapping[str, str] | None = None,
        fresh: bool = False,
        heartbeat_interval: int = 30,
        grace_period: int | None = None,
        stage_key: str | None = "stage",
        finalize: Any = None,
    ) -> None:
        super().__init__()
        self.sampler_conf = _to_plain(sampler)
        self.direction = _to_plain(direction)
        self.storage_url = storage
        self.study_name = study_name
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.max_failure_rate = max_failure_rate
        self.params = _to_plain(params) or {}
        self.fresh = fresh
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period
        self.stage_key = stage_key
        fin = _to_plain(finalize) or {}
        self.finalize_enabled: bool | None = fin.get("enabled", True)
        self.finalize_overrides: list[str] = list(fin.get("overrides") or [])

        self.hydra_context: HydraContext | None = None
        self.config: DictConfig | None = None
        self.launcher: Launcher | None = None
        self._job_idx = 0

    def setup(
        self,
        *,
        hydra_context: HydraContext,
        task_function: TaskFunction,
        config: DictConfig,
    ) -> None:
        """Keep Hydra's context and build the configured launcher."""
        from hydra.core.plugins import Plugins

        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    # ---------------------------------------------------------------- validation

    def _check_settings(self) -> None:
        """Reject bad scalar settings before anything is created."""
        if isinstance(self.direction, (list, tuple)):
            raise OptunaSweeperError(
                f"hydra.sweeper.direction={self.direction}: multi-objective studies are not "
                "supported by the imbsweep Optuna sweeper; give one of minimize|maximize"
            )
        if str(self.direction).lower() not in ("minimize", "maximize"):
            raise OptunaSweeperError(
                f"hydra.sweeper.direction={self.direction!r}: expected minimize or maximize"
            )
        self.direction = str(self.direction).lower()
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
            (bool(self.study_name), "study_name must not be empty"),
        ]
        for ok, message in checks:
            if not ok:
                raise OptunaSweeperError(f"hydra.sweeper.{message}")

    def _stage(self, stage: str) -> list[str]:
        return [f"{self.stage_key}={stage}"] if self.stage_key else []

    def _finalize_wanted(self) -> bool:
        if self.finalize_enabled is None:
            return bool(self.finalize_overrides)
        return bool(self.finalize_enabled)

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        # Composition plus imbsweep's value checks (validation split when tuning, ...).
        check_jobs(self, batch)

    def _check_composes(self, space: SearchSpace, parser: OverridesParser) -> None:
        """Compose trial configs before the study exists, to catch typos and bad values.

        One config with every numeric parameter at its low end, one at its high end, and
        one per further categorical choice: a choice naming a missing config group option,
        or a float for an int config key, then fails here instead of mid-study.
        """
        try:
            parser.parse_overrides(self.finalize_overrides)
        except HydraException as exc:
            raise OptunaSweeperError(
                f"hydra.sweeper.finalize.overrides: cannot parse: {exc}"
            ) from None
        low = {
            n: p.choices[0] if p.kind == "categorical" else p.low for n, p in space.params.items()
        }
        high = {
            n: p.choices[0] if p.kind == "categorical" else p.high for n, p in space.params.items()
        }
        samples = [low, high]
        for name, param in space.params.items():
            samples.extend({**low, name: choice} for choice in param.choices[1:])
        checked: set[tuple[str, ...]] = set()
        for sample in samples[:_MAX_COMPOSE_CHECKS]:
            overrides = _dedupe(space.render(sample) + self._stage("trial"))
            if tuple(overrides) in checked:
                continue
            checked.add(tuple(overrides))
            try:
                self.validate_batch_is_legal([overrides])
            except Exception as exc:
                hint = ""
                if self.stage_key and f"'{self.stage_key}'" in str(exc):
                    hint = (
                        f"\nThe sweeper sets '{self.stage_key}=trial|best|default' on every "
                        f"job: the app config needs a '{self.stage_key}' key, or set "
                        "hydra.sweeper.stage_key=null."
                    )
                raise OptunaSweeperError(
                    f"a trial config does not compose with overrides {overrides}: {exc}{hint}"
                ) from exc

    # ------------------------------------------------------------------- storage

    def _resolve_storage_url(self) -> str:
        assert self.config is not None
        url = self.storage_url
        if not url:
            cwd = OmegaConf.select(self.config, "hydra.runtime.cwd") or os.getcwd()
            url = f"sqlite:///{Path(cwd).resolve() / 'optuna.db'}"
        if url.startswith("sqlite:///"):
            path = url[len("sqlite:///") :].split("?", 1)[0]
            if path and path != ":memory:":
                Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return url

    def _open_storage(self, url: str) -> Any:
        import optuna

        with warnings.catch_warnings():
            # heartbeat_interval is "experimental" in Optuna 5; we rely on it knowingly
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url,
                heartbeat_interval=self.heartbeat_interval,
                grace_period=self.grace_period,
            )

    def _build_sampler(self, n_existing: int) -> Any:
        from hydra.utils import instantiate

        conf = dict(self.sampler_conf or {"_target_": "optuna.samplers.TPESampler"})
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
        return instantiate(conf)

    def _open_study(self, storage: Any, space: SearchSpace) -> "optuna.Study":
        import optuna

        study_id: int | None
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
            directions = storage.get_study_directions(study_id)
            if len(directions) != 1:
                raise OptunaSweeperError(
                    f"study '{self.study_name}' is multi-objective; this sweeper runs "
                    "single-objective studies only"
                )
            existing = directions[0].name.lower()
            if existing != self.direction:
                raise OptunaSweeperError(
                    f"study '{self.study_name}' exists with direction={existing} but "
                    f"hydra.sweeper.direction={self.direction}; use another study_name "
                    "or fresh=true"
                )
            trials = storage.get_all_trials(study_id, deepcopy=False)
            n_existing = len(trials)
            _check_compatible(trials, space)

        sampler = self._build_sampler(n_existing)
        return optuna.create_study(
            storage=storage,
            sampler=sampler,
            study_name=self.study_name,
            direction=self.direction,
            load_if_exists=True,
        )

    def _fail_stale_trials(self, study: "optuna.Study", storage: Any) -> None:
        """Fail RUNNING trials whose driver is gone.

        Trials of an imbsweep driver carry heartbeats: Optuna's ``fail_stale_trials``
        judges them. Trials created by other ask/tell code never beat, so they are
        failed once they are older than the grace period.
        """
        import optuna
        from optuna.trial import TrialState

        running = {
            t.number: t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        }
        if not running:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        grace = timedelta(seconds=self.grace_period or 2 * self.heartbeat_interval)
        now = datetime.now()
        study_id = storage.get_study_id_from_name(self.study_name)
        now_failed = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
        for number, trial in running.items():
            if number in now_failed:
                log.warning("failed stale trial %s: its driver's heartbeat stopped", number)
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
                    "stale: RUNNING with no heartbeat since "
                    f"{trial.datetime_start:%Y-%m-%d %H:%M:%S}",
                )
                storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
                log.warning(
                    "failed stale trial %s: RUNNING with no heartbeat since %s",
                    number,
                    trial.datetime_start,
                )
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # another process finished it meanwhile

    # --------------------------------------------------------------------- sweep

    def sweep(self, arguments: list[str]) -> list[Sequence[JobReturn]]:
        """Run the study (see ``_sweep``); if it aborts, still end the sweep for the callbacks."""
        try:
            return self._sweep(arguments)
        except Exception as exc:
            self._end_aborted_sweep(exc)
            raise

    def _end_aborted_sweep(self, exc: Exception) -> None:
        """Hydra skips ``on_multirun_end`` when a sweeper raises; imbsweep's callback then never
        closes its MLflow sweep run. Record the abort and give the callbacks their end hook.
        """
        assert self.config is not None
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).resolve()
        if not (sweep_dir / ".imbsweep_sweep_run").exists():
            return  # nothing was opened (e.g. a bad search space): nothing to close
        from hydra._internal.callbacks import Callbacks

        from imbsweep.sweep import record_failure

        record_failure(sweep_dir, f"optuna study {self.study_name}", [], exc)
        # The callback exits non-zero on failures; the study's own error is raised instead.
        with contextlib.suppress(SystemExit):
            Callbacks(self.config).on_multirun_end(config=self.config)

    def _sweep(self, arguments: list[str]) -> list[Sequence[JobReturn]]:
        """Run the study; see the module docstring.

        Parameters
        ----------
        arguments : list of str
            Task overrides from the command line.

        Returns
        -------
        list of sequences of JobReturn
            One entry per launched batch, the finalize batch last if it ran.
        """
        assert self.config is not None
        assert self.launcher is not None
        assert self.hydra_context is not None

        # everything that can be wrong with the settings fails here, before any storage
        self._check_settings()
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        space = parse_search_space(self.params, arguments, parser)
        if "seeds" in space.params:
            # Tuning the seed list would pick lucky seeds, not better settings.
            raise OptunaSweeperError(
                "seeds: not a tunable parameter; every trial uses the same seed list. Give a "
                "fixed value, e.g. seeds=5"
            )
        self._check_composes(space, parser)

        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")

        from optuna.trial import TrialState

        url = self._resolve_storage_url()
        shown_url = _hide_password(url)
        storage = self._open_storage(url)
        study = self._open_study(storage, space)
        self._fail_stale_trials(study, storage)

        n_complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        planned = max(self.n_trials - n_complete, 0)
        log.info("study '%s' in %s, direction %s", self.study_name, shown_url, self.direction)
        log.info(
            "search space: %s", "; ".join(p.describe() for p in space.params.values()) or "(none)"
        )
        if n_complete or len(study.trials):
            log.info(
                "resuming study %s: %s complete, %s to go", self.study_name, n_complete, planned
            )
        else:
            log.info("new study %s: %s trials to go", self.study_name, planned)

        returns: list[Sequence[JobReturn]] = []
        distributions = space.distributions()
        failed_here: list[tuple[int, str]] = []
        launched = 0
        heartbeat = _Heartbeat(storage, self.heartbeat_interval)
        pending: dict[int, Any] = {}
        try:
            while launched < planned:
                self._fail_stale_trials(study, storage)
                size = min(self.n_jobs, planned - launched)
                batch, overrides = self._ask_batch(
                    study, distributions, space, size, heartbeat, pending
                )
                launched += size
                try:
                    self.validate_batch_is_legal(overrides)
                    results = self.launcher.launch(overrides, initial_job_idx=batch[0].number)
                except BaseException as exc:
                    self._abort_pending(study, pending, heartbeat, exc)
                    raise
                self._job_idx = max(self._job_idx, batch[-1].number + 1)
                returns.append(results)
                for trial, result in zip(batch, results, strict=True):
                    frozen, error = self._tell(study, trial, result)
                    pending.pop(trial.number, None)
                    heartbeat.discard(frozen._trial_id)
                    if error is not None:
                        failed_here.append((trial.number, error))
                    self._log_progress(study, frozen, error)
                if planned and len(failed_here) / planned > self.max_failure_rate:
                    self._write_results(study, shown_url, sweep_dir, space, None, aborted=True)
                    last_number, last_error = failed_here[-1]
                    raise OptunaSweeperError(
                        f"{len(failed_here)} of {planned} planned trials failed (failure rate "
                        f"{len(failed_here) / planned:.2f} > max_failure_rate "
                        f"{self.max_failure_rate}); last failure, trial {last_number}: "
                        f"{last_error}. Failed trials are FAIL in study '{self.study_name}' "
                        f"with user attr '{ERROR_ATTR}'; re-running resumes the study."
                    )
        finally:
            if pending:
                self._abort_pending(study, pending, heartbeat, RuntimeError("driver stopped"))
            heartbeat.close()

        final = self._finalize(study, space)
        if final is not None:
            returns.append(final[1])
        self._write_results(study, shown_url, sweep_dir, space, final)
        if final is not None:
            for label, result in zip(final[0], final[1], strict=True):
                if result.status != JobStatus.COMPLETED:
                    raise OptunaSweeperError(
                        f"finalize job '{label}' failed: {_error_text(result._return_value)}"
                    )
        return returns

    def _ask_batch(
        self,
        study: "optuna.Study",
        distributions: "dict[str, BaseDistribution]",
        space: SearchSpace,
        size: int,
        heartbeat: _Heartbeat,
        pending: dict[int, Any],
    ) -> tuple[list[Any], list[list[str]]]:
        """Ask ``size`` trials and record their overrides, marker and first heartbeat."""
        batch: list[Any] = []
        overrides: list[list[str]] = []
        driver = f"{socket.gethostname()}:{os.getpid()}"
        for _ in range(size):
            with warnings.catch_warnings():
                # Optuna warns that heartbeats are meant for optimize(): we beat ourselves
                warnings.filterwarnings("ignore", message="Heartbeat of storage")
                trial = study.ask(distributions)
            pending[trial.number] = trial
            # Trial._trial_id is the storage id the heartbeat table is keyed by
            heartbeat.add(trial._trial_id)
            trial.set_user_attr(DRIVER_ATTR, driver)
            job_overrides = _dedupe(space.render(trial.params) + self._stage("trial"))
            trial.set_user_attr(OVERRIDES_ATTR, job_overrides)
            batch.append(trial)
            overrides.append(job_overrides)
        return batch, overrides

    def _abort_pending(
        self,
        study: "optuna.Study",
        pending: dict[int, Any],
        heartbeat: _Heartbeat,
        exc: BaseException,
    ) -> None:
        """Fail asked-but-untold trials so they do not wait for the stale check."""
        from optuna.trial import TrialState

        for number, trial in list(pending.items()):
            try:
                trial.set_user_attr(ERROR_ATTR, f"driver aborted: {_error_text(exc)}")
                study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
            except Exception as tell_exc:  # best effort; the stale check covers the rest
                log.warning("could not fail trial %s: %s", number, tell_exc)
            heartbeat.discard(trial._trial_id)
            pending.pop(number, None)

    def _tell(self, study: "optuna.Study", trial: Any, result: JobReturn) -> tuple[Any, str | None]:
        """Tell one job's outcome; return the finished trial and its error text, if any."""
        from optuna.trial import TrialState

        error: str | None = None
        value: float | None = None
        if result.status != JobStatus.COMPLETED:
            error = _error_text(result._return_value)
        else:
            value, error = _objective(result._return_value)
        if result.working_dir:
            trial.set_user_attr("job_dir", str(result.working_dir))
        if error is not None:
            trial.set_user_attr(ERROR_ATTR, error)
            return study.tell(trial, state=TrialState.FAIL), error
        return study.tell(trial, value), None

    def _log_progress(self, study: "optuna.Study", trial: Any, error: str | None) -> None:
        """Log one finished trial with the best so far and the study's progress."""
        from optuna.trial import TrialState

        n_complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        try:
            best = f"best {study.best_value:.6g} (trial {study.best_trial.number})"
        except ValueError:
            best = "best n/a"
        outcome = f"FAILED ({error})" if error else f"value {trial.value:.6g}"
        log.info(
            "trial %s %s params %s | %s | %s/%s complete",
            trial.number,
            outcome,
            trial.params,
            best,
            n_complete,
            self.n_trials,
        )

    # ------------------------------------------------------------------ finalize

    def _finalize(
        self, study: "optuna.Study", space: SearchSpace
    ) -> tuple[list[str], Sequence[JobReturn]] | None:
        """Launch the best and the default configuration as one last batch."""
        assert self.launcher is not None
        if not self._finalize_wanted():
            return None
        try:
            best_params = study.best_params
        except ValueError:
            log.warning("finalize skipped: the study has no COMPLETE trial")
            return None
        best = space.render(best_params) + self.finalize_overrides + self._stage("best")
        default = list(space.fixed.values()) + self.finalize_overrides + self._stage("default")
        labels = ["best", "default"]
        jobs = [_dedupe(best), _dedupe(default)]
        log.info("finalize: launching best %s and default %s", jobs[0], jobs[1])
        self.validate_batch_is_legal(jobs)
        start = max(self._job_idx, len(study.trials))
        results = self.launcher.launch(jobs, initial_job_idx=start)
        for label, result in zip(labels, results, strict=True):
            if result.status == JobStatus.COMPLETED:
                log.info("finalize %s: returned %s", label, result._return_value)
            else:
                log.error("finalize %s failed: %s", label, _error_text(result._return_value))
        return labels, results

    def _write_results(
        self,
        study: "optuna.Study",
        shown_url: str,
        sweep_dir: Path,
        space: SearchSpace,
        final: tuple[list[str], Sequence[JobReturn]] | None,
        aborted: bool = False,
    ) -> None:
        from optuna.trial import TrialState

        names = {TrialState.FAIL: "failed"}
        counts = {names.get(state, state.name.lower()): 0 for state in TrialState}
        for trial in study.get_trials(deepcopy=False):
            counts[names.get(trial.state, trial.state.name.lower())] += 1
        results: dict[str, Any] = {
            "study_name": self.study_name,
            "storage": shown_url,
            "direction": self.direction,
            "best_value": None,
            "best_params": {},
            "best_trial": None,
            "n_trials": {"target": self.n_trials, **counts},
            "aborted": aborted,
            "search_space": {name: p.describe() for name, p in space.params.items()},
        }
        try:
            best = study.best_trial
            results.update(
                best_value=_plain_value(best.value),
                best_params={k: _plain_value(v) for k, v in best.params.items()},
                best_trial=best.number,
            )
            log.info(
                "best params %s, best value %s (trial %s)", best.params, best.value, best.number
            )
        except ValueError:
            log.warning("study '%s' has no COMPLETE trial", self.study_name)
        if final is not None:
            results["final"] = {
                label: {
                    "overrides": list(result.overrides or []),
                    "status": result.status.name,
                    "return_value": _plain_value(result._return_value)
                    if result.status == JobStatus.COMPLETED
                    else None,
                    "error": None
                    if result.status == JobStatus.COMPLETED
                    else _error_text(result._return_value),
                }
                for label, result in zip(final[0], final[1], strict=True)
            }
        OmegaConf.save(OmegaConf.create(results), sweep_dir / RESULTS_FILE)
        log.info("wrote %s", sweep_dir / RESULTS_FILE)


# --------------------------------------------------------------------------- helpers


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


def _objective(value: Any) -> tuple[float | None, str | None]:
    """Return (objective, None) or (None, error) for a job's return value."""
    if isinstance(value, (str, bytes, bool)) or value is None:
        return None, f"objective returned {value!r}; the task function must return a float"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None, (
            f"objective returned {type(value).__name__} {value!r}; "
            "the task function must return a float"
        )
    if not math.isfinite(number):
        return None, f"objective returned non-finite value {number}"
    return number, None


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


def _dedupe(overrides: Sequence[str]) -> list[str]:
    """Keep the last override per key so later sources win without Hydra complaining."""
    by_key: dict[str, str] = {}
    for item in overrides:
        key = item.split("=", 1)[0].lstrip("+~")
        by_key.pop(key, None)
        by_key[key] = item
    return list(by_key.values())


def _hide_password(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a parseable URL: show it as given
        return url
