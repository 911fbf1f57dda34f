"""The hypothesis search for one property: generate lives, run the client through each, judge
it, and shrink a failure to the smallest failing life (within a time limit)."""

from __future__ import annotations

import json
from collections.abc import Callable

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky

from .config import ConformanceConfig
from .judges import JUDGES
from .lives import MAX_LIVES, Life, life_values
from .properties import property_named
from .records import Run
from .report import Finding
from .threads import real_perf

RunLife = Callable[[Life, str], Run]
_UNREPRODUCIBLE = (
    "hypothesis could not reproduce this failure on replay: the client behaves "
    "differently on the same life (randomness not seeded from `random`?)"
)


def lives_per_family(prop: str, config: ConformanceConfig, families: int) -> int:
    """How many lives one family gets: the property's share (``examples``, or fewer for a
    property with few shapes) split over the families run, at least one each."""
    most = min(config.examples, MAX_LIVES.get(prop, config.examples))
    return max(1, -(-most // max(1, families)))


def search_property(
    run_life: RunLife,
    prop: str,
    seed: int,
    config: ConformanceConfig,
    endpoint: str | None = None,
    examples: int | None = None,
) -> tuple[Finding | None, int]:
    """The smallest life found on which the client breaks ``prop`` (``None`` when none
    breaks it), and how many lives the client was run through: up to ``examples`` lives
    (default: the property's share) polled at ``endpoint`` (default: any of the config's)."""
    search = _Search(run_life, prop, config)
    budget = examples if examples is not None else lives_per_family(prop, config, 1)

    @_settings(config, budget)
    @hypothesis_seed(seed)
    @given(life_values(prop, config, (endpoint,) if endpoint else ()))
    def check(life: Life) -> None:
        search.check(life)

    try:
        check()
    except _PropertyFailed as exc:
        return exc.finding, search.count
    except Flaky:
        if search.cache:
            smallest = min(search.cache.values(), key=lambda f: _size(f.run.life))
            smallest.note = _UNREPRODUCIBLE
            return smallest, search.count
        raise
    return None, search.count


def _settings(config: ConformanceConfig, most: int) -> settings:
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if config.shrink else [])
    return settings(
        max_examples=most,
        deadline=None,
        database=None,
        derandomize=False,
        phases=phases,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
        print_blob=False,
    )


class _Search:
    """The state of one search: the failures found (by life) and the client calls made."""

    def __init__(self, run_life: RunLife, prop: str, config: ConformanceConfig) -> None:
        self.run_life = run_life
        self.prop = prop
        self.config = config
        self.judge = JUDGES[prop]
        self.cache: dict[Life, Finding] = {}
        self.first_failure: float | None = None
        self.count = 0

    def check(self, life: Life) -> None:
        """One example: run the client through ``life`` (once) and fail if it breaks ``prop``."""
        finding = self.cache.get(life)
        if finding is None:
            if (
                self.first_failure is not None
                and real_perf() - self.first_failure > self.config.shrink_seconds
            ):
                return  # out of shrinking time: only known failures fail from now on
            self.count += 1
            run = self.run_life(life, self.prop)
            message = self.judge(run, self.config)
            if message is not None:
                finding = Finding(property_named(self.prop), message, run)
                self.cache[life] = finding
                if self.first_failure is None:
                    self.first_failure = real_perf()
        if finding is not None:
            raise _PropertyFailed(finding)


class _PropertyFailed(Exception):
    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


def _size(life: Life) -> int:
    return len(json.dumps(life.scenario()))
