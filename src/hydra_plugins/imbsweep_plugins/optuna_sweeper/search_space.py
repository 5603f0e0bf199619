"""The search space: Hydra's override grammar turned into Optuna distributions.

The mapping is the official plugin's, so the same command line searches the same space:
``range(1,3)`` is ``IntDistribution(1, 3)`` (stop included) for every sampler but the grid,
whose values are Python's ``range(1, 3)`` (stop excluded), as there too.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

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
from hydra.errors import HydraException

from hydra_plugins.imbsweep_plugins.optuna_sweeper.errors import SearchSpaceError

GRAMMAR_HELP = """\
accepted search-space values (Hydra override grammar, as in Hydra's Optuna sweeper):
  choice(a, b, c)  or  a,b,c          -> categorical
  range(start, stop[, step])          -> int with step, stop INCLUDED (float if any bound or
                                         the step is a float); the grid sampler takes Python's
                                         range(start, stop, step), stop excluded
  shuffle(range(...))                 -> categorical over the range's values
  interval(low, high)                 -> float, uniform in [low, high]
  tag(log, interval(low, high))       -> float, log-uniform (low > 0)
  int(interval(low, high))            -> int, uniform in [low, high]
  tag(log, int(interval(low, high)))  -> int, log-uniform (low >= 1)
  anything else (e.g. 3, small, [1,2]) -> a fixed override passed to every trial"""


@dataclass(frozen=True)
class SearchParam:
    """One swept parameter: its Optuna distribution and how to write it back as override.

    ``name`` is the override key as typed (``+w`` keeps its ``+``, as the official plugin
    stores it); ``key`` is the config key without prefix. ``kind`` is float, int or
    categorical; ``low``/``high`` include both ends; ``choice_strings`` are the choices in
    override grammar, index-aligned with ``choices``.
    """

    name: str
    key: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    step: float | int | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    choice_strings: tuple[str, ...] = ()

    def distribution(self) -> Any:
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

    def grid(self) -> list[Any]:
        """The grid sampler's values: the official plugin's (``high`` excluded for numbers)."""
        if self.kind == "categorical":
            return list(self.choices)
        if self.step is None or self.log:
            raise SearchSpaceError(
                f"search space '{self.name}' ({self.describe()}): the grid sampler needs "
                "choice(...) or range(...) values"
            )
        if self.kind == "int":
            return list(range(int(self.low), int(self.high), int(self.step)))
        # Decimal: 0.1 steps must land on 0.3, not 0.30000000000000004
        low, step = Decimal(str(self.low)), Decimal(str(self.step))
        n = int((Decimal(str(self.high)) - low) // step)
        return [float(low + i * step) for i in range(n)]

    def render(self, value: Any) -> str:
        """Return the override ``name=value`` for a value sampled by Optuna."""
        if self.kind == "categorical":
            for choice, text in zip(self.choices, self.choice_strings, strict=True):
                # type check too: True == 1 and 1 == 1.0 must not be confused
                if type(choice) is type(value) and choice == value:
                    return f"{self.name}={text}"
            return f"{self.name}={Transformer.str(value)}"
        if self.kind == "int":
            return f"{self.name}={int(value)}"
        return f"{self.name}={float(value)!r}"

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

    ``params``: swept parameters by Optuna name, in first-seen order. ``fixed``: non-sweep
    overrides by config key, as typed (``~z`` deletions included), passed to every job.
    """

    params: dict[str, SearchParam] = field(default_factory=dict)
    fixed: dict[str, str] = field(default_factory=dict)

    def distributions(self) -> dict[str, Any]:
        """Return ``{name: distribution}`` for ``study.ask``."""
        return {name: p.distribution() for name, p in self.params.items()}

    def fixed_values(self) -> dict[str, str]:
        """Fixed values by name, as the official plugin keeps them (deletions left out)."""
        out = {}
        for line in self.fixed.values():
            if not line.startswith("~"):
                name, _, value = line.partition("=")
                out[name] = value
        return out

    def render(self, values: Mapping[str, Any]) -> list[str]:
        """Return overrides for sampled values: fixed overrides, then swept ones.

        Values of names outside the space (a ``custom_search_space`` suggested them) are
        written as ``name=value``, the name as suggested (``+w`` adds a key).
        """
        out = list(self.fixed.values())
        for name, value in values.items():
            param = self.params.get(name)
            out.append(param.render(value) if param else f"{name}={Transformer.str(value)}")
        return out


def _fail(key: str, text: str, problem: str) -> SearchSpaceError:
    return SearchSpaceError(f"search space '{key}: {text}': {problem}\n{GRAMMAR_HELP}")


def _param_from_override(override: Override, name: str, key: str, text: str) -> SearchParam:
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
        return SearchParam(name, key, "int" if is_int else "float", low=low, high=high, log=use_log)

    if isinstance(value, RangeSweep):
        if value.shuffle:
            # the order does not matter to Optuna: a categorical over the same values
            return _categorical(name, key, text, list(value.range()), use_log)
        start, stop, step = value.start, value.stop, value.step
        if step is None or step <= 0:
            raise _fail(name, text, f"range step must be > 0, got {step}")
        if start > stop:
            raise _fail(name, text, f"start {start} is greater than stop {stop}")
        is_int = all(isinstance(v, int) for v in (start, stop, step))
        if use_log:
            if not is_int or step != 1:
                raise _fail(name, text, "log scale needs an int range with step 1")
            if start < 1:
                raise _fail(name, text, f"log scale needs low >= 1, got {start}")
        kind = "int" if is_int else "float"
        if not is_int:
            start, stop, step = float(start), float(stop), float(step)
        return SearchParam(name, key, kind, low=start, high=stop, step=step, log=use_log)

    if isinstance(value, ChoiceSweep):
        return _categorical(name, key, text, list(value.list), use_log)
    if isinstance(value, Glob):
        return _categorical(name, key, text, list(override.sweep_iterator()), use_log)
    raise _fail(name, text, f"unsupported sweep type {type(value).__name__}")


def _categorical(name: str, key: str, text: str, items: list[Any], use_log: bool) -> SearchParam:
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
        name, key, "categorical", choices=tuple(values), choice_strings=tuple(strings)
    )


def parse_search_space(
    params: Mapping[str, Any] | None,
    arguments: Sequence[str],
    parser: OverridesParser | None = None,
) -> SearchSpace:
    """Parse ``hydra.sweeper.params`` and the command-line arguments.

    Command-line arguments win over ``params`` for the same config key. ``parser`` should be
    created with the config loader so ``glob`` works. Any entry that cannot be parsed or mapped
    to a distribution raises :class:`SearchSpaceError` naming the key, the problem and the
    accepted grammar.
    """
    parser = parser or OverridesParser.create()
    lines: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        text = "null" if value is None else str(value)
        lines.append((str(key), f"{key}={text}"))
    lines.extend((arg.split("=", 1)[0], arg) for arg in arguments)

    space = SearchSpace()
    for typed_key, line in lines:
        text = line.split("=", 1)[1] if "=" in line else ""
        try:
            override = parser.parse_override(line)
        except HydraException as exc:
            raise _fail(typed_key, text, f"cannot parse: {exc}") from None
        key = override.key_or_group
        if override.package is not None:
            key = f"{key}@{override.package}"
        name = override.get_key_element()
        # a later source (the command line) replaces an earlier one for the same key
        for old in [n for n, p in space.params.items() if p.key == key]:
            del space.params[old]
        space.fixed.pop(key, None)
        if override.is_sweep_override():
            space.params[name] = _param_from_override(override, name, key, text)
        else:
            space.fixed[key] = line
    return space
