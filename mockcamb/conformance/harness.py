"""Running a client against the emulator: :class:`Harness` serves an emulator behind the gate
and runs the client through one life at a time; :func:`check_client` checks every property."""

from __future__ import annotations

import contextlib
import io
import random
from collections.abc import Callable, Iterator
from dataclasses import replace

from ..core.emulator import Emulator
from ..core.routes import status_family
from ..testing import MockCamb, serve_in_thread
from ..virtual_time import VirtualTime, patched
from .clients import Client, load_client, target_name
from .config import ConformanceConfig
from .families import plan_families
from .gate import Gate
from .judges import JUDGES
from .lives import Life
from .properties import PROPERTIES, property_named
from .recorded import properties_of, recorded_lives
from .records import Run
from .report import Finding, Report
from .search import lives_per_family, search_property
from .threads import Outcome, call_in_thread, real_perf
from .watch import RunState

_REAL_SLEEP_HINT = (
    " and never slept in virtual time; if it waits with a sleep it imported before the harness "
    "patched time (`from time import sleep` in a module loaded earlier), or with a timed wait "
    "on an Event, a Condition or a Queue (`event.wait(5)`), that wait is real"
)


class Harness:
    """An in-process emulator on a free port plus the machinery to run a client through lives.

    Use as a context manager; :meth:`run` runs one life, :meth:`search` one property over
    the families of :attr:`families` (what the client declares, ``--endpoint``, the default).
    """

    emu: Emulator  # set on entering, with the server

    def __init__(self, client: Client, config: ConformanceConfig | None = None) -> None:
        self.client = client
        self.config = config or ConformanceConfig()
        self.families = plan_families(client, self.config.endpoints)
        self.lives_by_family: dict[str, dict[str, int]] = {}
        """property -> status path -> lives the client was run through"""
        self.not_run: dict[str, dict[str, str]] = {}
        """property -> status path -> why that family was not searched"""
        self.state: RunState | None = None
        self.old_keys: set[str] = set()
        self._runs = 0
        self._rand = random.Random()
        self.abandoned = 0
        self.examples_run: dict[str, int] = {}
        self._serving = contextlib.ExitStack()

    def __enter__(self) -> Harness:
        mock = self._serving.enter_context(self._serve())
        self.emu = mock.emulator
        self.server = mock.server
        self._base_url = mock.base_url
        return self

    def _serve(self) -> contextlib.AbstractContextManager[MockCamb]:
        """The emulator behind the gate: served in a thread (mode ``http``), or answering httpx
        in process at CAMB's real base URL (mode ``httpx``, no port)."""
        if self.config.mode == "httpx":
            from ..httpx_mode import intercept

            return intercept(middleware=lambda app: Gate(app, self))
        return serve_in_thread(threads=8, middleware=lambda app: Gate(app, self), stop_timeout=1.0)

    def __exit__(self, *exc: object) -> None:
        self._serving.close()

    @property
    def base_url(self) -> str:
        return self._base_url

    # --- running one life ---------------------------------------------------------------

    def run(self, life: Life, prop: str) -> Run:
        """Run the client through ``life`` and record everything it did."""
        state = self._begin(life, prop)
        run = state.run
        out = io.StringIO()
        t0 = real_perf()
        # the client's clock agrees with the emulator's HTTP dates, follows its work into
        # the threads it starts, and waits out the requests the life stalls
        vt = VirtualTime(state.advance, epoch=state.epoch(), follow_threads=True, stalls=state)
        state.vt = vt
        with _captured(out) if self.config.capture_output else contextlib.nullcontext():
            outcome = call_in_thread(
                lambda: self.client(self.base_url, state.key, life.endpoint, run.task_id),
                state,
                vt,
                name=f"mockcamb-client-{state.tag}",
                wall_timeout=self.config.wall_timeout,
                on_timeout=lambda: state.stop(self._timeout_reason(state)),
            )
        state.end_stalls()
        if outcome.kind == "hung":
            self.abandoned += 1
        run.wall_seconds = real_perf() - t0
        run.output = out.getvalue()
        self._finish(state, outcome)
        self.state = None
        return run

    def _begin(self, life: Life, prop: str) -> RunState:
        """A fresh emulator holding the life's task, a fresh key, and the watch on the run."""
        self._runs += 1
        tag = f"{self._runs}-{self._rand.getrandbits(40):010x}"
        task_id = f"conformance-{tag}"
        key = f"mockcamb-key-{tag}"
        emu = self.emu
        emu.reset()
        emu.configure({"api_keys": [key]})
        emu.create_task(status_family(life.endpoint).name, task_id, life.scenario())
        state = RunState(Run(life, prop, task_id), tag, key, self.config, emu)
        self.state = state
        self.old_keys.add(key)
        return state

    def _timeout_reason(self, state: RunState) -> str:
        hint = _REAL_SLEEP_HINT if state.count <= 2 and state.virtual == 0 else ""
        return f"did not return within {self.config.wall_timeout:g} s of real time" + hint

    def _finish(self, state: RunState, outcome: Outcome) -> None:
        """Record in the run how the call ended and every request it sent."""
        run = state.run
        run.virtual_seconds = state.virtual
        run.outcome = outcome.kind
        run.value = outcome.value
        if outcome.error is not None:
            run.error_type = type(outcome.error).__name__
            run.error = str(outcome.error)
            run.traceback = outcome.traceback
        run.stop_reason = state.stop_reason
        if run.outcome == "hung" and run.stop_reason is None:
            run.stop_reason = f"did not return within {self.config.wall_timeout:g} s"
        run.exchanges = state.exchanges(self.emu.journal())

    # --- searching one property ----------------------------------------------------------

    def count_lives(self, prop: str, endpoint: str, n: int) -> None:
        """Count ``n`` more lives of ``prop`` run over ``endpoint`` (a status path)."""
        counts = self.lives_by_family.setdefault(prop, {})
        counts[endpoint] = counts.get(endpoint, 0) + n

    def search(self, prop: str, seed: int) -> Finding | None:
        """Let hypothesis look for the smallest life on which the client breaks ``prop``, one
        family after another (each its share of the lives, seeded ``seed``, ``seed + 1``...);
        the families after the first that fails are not searched."""
        endpoints = self.families.run
        per = lives_per_family(prop, self.config, len(endpoints))
        skipped = self.not_run.setdefault(prop, {})
        finding: Finding | None = None
        total = 0
        for i, endpoint in enumerate(endpoints):
            if finding is not None:
                skipped[endpoint] = (
                    f"not searched: the property failed on {finding.run.life.endpoint}"
                )
                continue
            finding, examples = search_property(
                self.run, prop, (seed + i) % 2**32, self.config, endpoint, per
            )
            self.count_lives(prop, endpoint, examples)
            total += examples
        if finding is None:
            self.examples_run[prop] = total
        else:
            finding.examples_run = total
        return finding


@contextlib.contextmanager
def _captured(buffer: io.StringIO) -> Iterator[None]:
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        yield


def check_client(
    target: str | Client,
    config: ConformanceConfig | None = None,
    *,
    on_result: Callable[[str, Finding | None], object] | None = None,
) -> Report:
    """Check a client against every chosen property and return the :class:`Report`."""
    cfg = config or ConformanceConfig()
    client = load_client(target)
    seed = cfg.seed if cfg.seed is not None else random.SystemRandom().randrange(2**32)
    results: dict[str, Finding | None] = {}
    examples: dict[str, int] = {}
    t0 = real_perf()
    wanted = {property_named(n).name for n in cfg.properties}
    chosen = [p.name for p in PROPERTIES if p.name in wanted]
    recorded = recorded_lives(cfg.lives) if cfg.lives is not None else []
    with patched(), Harness(client, cfg) as harness:
        polled = {status_family(ep).name: ep for ep in harness.families.run}
        for name in chosen:
            finding = harness.search(name, seed)
            examples[name] = (
                finding.examples_run if finding is not None else harness.examples_run.get(name, 0)
            )
            for life in (r for r in recorded if name in properties_of(r)):
                endpoint = polled.get(status_family(life.endpoint).name)
                if finding is not None or endpoint is None:
                    continue
                run = harness.run(replace(life, endpoint=endpoint), name)
                examples[name] += 1
                harness.count_lives(name, endpoint, 1)
                message = JUDGES[name](run, cfg)
                if message is not None:
                    note = f"a life recorded in {cfg.lives}: what the real service did"
                    finding = Finding(property_named(name), message, run, note=note)
            results[name] = finding
            if on_result is not None:
                on_result(name, finding)
    skipped = tuple(p.name for p in PROPERTIES if p.name not in chosen)
    return Report(
        target_name(target),
        cfg,
        seed,
        results,
        examples,
        real_perf() - t0,
        skipped,
        families=harness.families,
        lives_by_family=harness.lives_by_family,
        not_run=harness.not_run,
    )
