"""Hypothesis strategies for CAMB.AI task-API inputs: statuses, scenarios, faults, task ids, keys.

Public and reusable: the contract suite and mockcamb's own tests draw from them, and so may a
user's tests (``from mockcamb.strategies import scenarios``). Every scenario drawn here is one
:func:`mockcamb.scenario.parse_scenario` accepts.
"""

from __future__ import annotations

import string
from typing import Any
from urllib.parse import quote, unquote

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from .core.scenario import FAULT_TYPES, RETRY_AFTER_FORMATS
from .core.statuses import (
    DOCUMENTED_STATUSES,
    EXCEPTION_REASONS,
    FAILURE_STATUSES,
    FINAL_STATUSES,
    PENDING,
    SUCCESS,
)

JsonDict = dict[str, Any]

#: Characters a CAMB-style API key is made of (letters, digits, dash, underscore).
API_KEY_ALPHABET = string.ascii_letters + string.digits + "-_"
#: Longest wire form of a hostile id: below the 8 KiB request-line limit of common servers.
MAX_HOSTILE_ID_BYTES = 4000
_CUSTOM_ALPHABET = string.ascii_uppercase + "_"


def statuses(*, custom: bool = False) -> st.SearchStrategy[str]:
    """A documented status; with ``custom=True`` also made-up upper-case ones (the set is open)."""
    documented = st.sampled_from(DOCUMENTED_STATUSES)
    if not custom:
        return documented
    return st.one_of(documented, custom_statuses())


def custom_statuses() -> st.SearchStrategy[str]:
    """A status string the documentation does not name (``QUEUED``, ``RENDERING``...)."""
    return (
        st.text(_CUSTOM_ALPHABET, min_size=1, max_size=20)
        .map(lambda s: s.strip("_") or "QUEUED")
        .filter(lambda s: s not in DOCUMENTED_STATUSES)
    )


def final_statuses() -> st.SearchStrategy[str]:
    """A final status: SUCCESS, FAILED, ERROR, TIMEOUT or PAYMENT_REQUIRED."""
    return st.sampled_from(sorted(FINAL_STATUSES))


def failure_statuses() -> st.SearchStrategy[str]:
    """A final status other than SUCCESS."""
    return st.sampled_from(FAILURE_STATUSES)


def running_statuses(*, custom: bool = False) -> st.SearchStrategy[str]:
    """A status a task may hold before its last step: PENDING (or a custom non-final one)."""
    if not custom:
        return st.just(PENDING)
    return st.one_of(st.just(PENDING), custom_statuses())


def run_ids() -> st.SearchStrategy[int]:
    """A ``run_id`` as scenarios accept it."""
    return st.integers(min_value=0, max_value=2**53)


def messages() -> st.SearchStrategy[str | JsonDict]:
    """A ``message``: a string or a small object."""
    return st.one_of(
        st.text(max_size=40),
        st.dictionaries(
            st.sampled_from(["detail", "code", "hint"]), st.text(max_size=20), max_size=2
        ),
    )


def _step(status: str, draw_extra: st.DrawFn, *, last: bool, max_polls: int) -> JsonDict:
    step: JsonDict = {"status": status}
    if not last:
        if draw_extra(st.booleans()):
            step["polls"] = draw_extra(st.integers(1, max_polls))
        else:
            step["seconds"] = draw_extra(st.sampled_from([1, 5, 30, 90.5, 600]))
    if status == SUCCESS and draw_extra(st.booleans()):
        step["run_id"] = draw_extra(run_ids())
    if status in FAILURE_STATUSES:
        if draw_extra(st.booleans()):
            step["message"] = draw_extra(messages())
        if draw_extra(st.booleans()):
            step["exception_reason"] = draw_extra(st.sampled_from(EXCEPTION_REASONS))
    if draw_extra(st.integers(0, 9)) == 0:
        step["extra"] = {"progress": draw_extra(st.integers(0, 100))}
    return step


#: Window edges, in seconds since a task was created: on the steps' and clocks' usual ticks.
_EDGES = (0, 0.5, 1, 1.5, 2, 5, 30, 90.5)


def _window(draw: st.DrawFn) -> list[float | None]:
    start = draw(st.sampled_from(_EDGES))
    length = draw(st.sampled_from([0.5, 1, 10, None]))
    return [start, None if length is None else start + length]


def _fault(
    draw: st.DrawFn,
    *,
    polls: st.SearchStrategy[int] | None,
    types: tuple[str, ...],
    windows: bool = False,
) -> JsonDict:
    ftype = draw(st.sampled_from(types))
    fault: JsonDict = {"type": ftype}
    if windows:
        spans = [_window(draw) for _ in range(draw(st.integers(1, 2)))]
        fault["seconds"] = spans[0] if len(spans) == 1 else spans
    elif polls is None:
        fault["probability"] = draw(st.sampled_from([0.0, 0.05, 0.5, 1.0]))
    else:
        many = draw(st.lists(polls, min_size=1, max_size=3, unique=True))
        fault["poll"] = many[0] if len(many) == 1 else sorted(many)
    if ftype == "http_error":
        fault["http_status"] = draw(st.sampled_from([400, 404, 429, 500, 502, 503, 504]))
        if draw(st.booleans()):
            fault["body"] = {"detail": draw(st.text(max_size=20))}
    elif draw(st.booleans()):
        fault["http_status"] = draw(st.sampled_from([200, 500, 502]))
    if fault.get("http_status") in (429, 503) and draw(st.booleans()):
        fault["retry_after"] = draw(st.sampled_from([0, 1, 5]))
        ra_format = draw(st.sampled_from((None, *RETRY_AFTER_FORMATS)))
        if ra_format is not None:  # absent: seconds, the default
            fault["retry_after_format"] = ra_format
    return fault


def faults(
    *,
    max_poll: int = 10,
    probabilistic: bool = True,
    types: tuple[str, ...] = FAULT_TYPES,
    timed: bool = False,
) -> st.SearchStrategy[JsonDict]:
    """One fault document (``{"poll": 3, "http_status": 503}``...) as ``faults`` lists hold;
    with ``timed``, some in windows of clock time (``{"seconds": [1, 2.5], ...}``)."""
    if not types or any(t not in FAULT_TYPES for t in types):
        raise ValueError(f"types must be a non-empty subset of {FAULT_TYPES}, got {types!r}")

    @st.composite
    def build(draw: st.DrawFn) -> JsonDict:
        if timed and draw(st.integers(0, 2)) == 0:
            return _fault(draw, polls=None, types=types, windows=True)
        by_poll = not probabilistic or draw(st.booleans())
        return _fault(draw, polls=st.integers(1, max_poll) if by_poll else None, types=types)

    return build()


def latencies(max_ms: float = 50.0) -> st.SearchStrategy[JsonDict]:
    """A ``latency`` document, at most ``max_ms`` milliseconds (keep tests fast)."""
    ms = st.floats(0, max_ms, allow_nan=False)
    return st.one_of(
        st.builds(lambda a: {"fixed_ms": a}, ms),
        st.tuples(ms, ms).map(lambda p: {"uniform_ms": sorted(p)}),
        st.builds(
            lambda m, s: {"lognormal": {"median_ms": m, "sigma": s}},
            ms,
            st.floats(0, 1, allow_nan=False),
        ),
    )


def scenarios(
    *,
    max_steps: int = 4,
    max_polls: int = 3,
    custom: bool = False,
    with_faults: bool = False,
    fault_types: tuple[str, ...] = FAULT_TYPES,
    probabilistic_faults: bool = False,
    timed_faults: bool = False,
    with_latency: bool = False,
    final: bool | None = None,
) -> st.SearchStrategy[JsonDict]:
    """A scenario document ``parse_scenario`` accepts: running steps, then a last step.

    ``custom=True`` mixes in made-up running statuses; ``final=True`` makes the last step
    final, ``False`` keeps it running for ever, ``None`` draws either. Faults (by request
    number, unless ``probabilistic_faults``; also by clock time with ``timed_faults``) and
    latency are off by default, so a scenario's
    answers follow its steps exactly.
    """
    if max_steps < 1 or max_polls < 1:
        raise ValueError("max_steps and max_polls must be at least 1")

    @st.composite
    def build(draw: st.DrawFn) -> JsonDict:
        n = draw(st.integers(1, max_steps))
        is_final = draw(st.booleans()) if final is None else final
        # PENDING steps come first: a drawn scenario never moves backwards.
        running = sorted(
            (draw(running_statuses(custom=custom)) for _ in range(n - (1 if is_final else 0))),
            key=lambda s: s != PENDING,
        )
        chosen = [*running, draw(final_statuses())] if is_final else running
        steps = [_step(s, draw, last=i == n - 1, max_polls=max_polls) for i, s in enumerate(chosen)]
        doc: JsonDict = {"steps": steps}
        if with_faults:
            doc["faults"] = draw(
                st.lists(
                    faults(
                        max_poll=2 * max_steps * max_polls,
                        probabilistic=probabilistic_faults,
                        types=fault_types,
                        timed=timed_faults,
                    ),
                    max_size=3,
                )
            )
        if with_latency and draw(st.booleans()):
            doc["latency"] = draw(latencies())
        if draw(st.booleans()):
            doc["seed"] = draw(st.integers(0, 2**31))
        return doc

    return build()


def api_keys() -> st.SearchStrategy[str]:
    """A plausible API key (8-64 letters, digits, ``-``, ``_``): well-formed, so a server that
    rejects it does so because it is wrong, not because it is malformed."""
    return st.text(API_KEY_ALPHABET, min_size=8, max_size=64)


# --- hostile task ids ------------------------------------------------------------------------

_ODD_PIECES = (
    "%2F",
    "%2f",
    "%2E",
    "%2e%2e",
    "%2E%2E%2F",
    "%252F",
    "%00",
    "%0A",
    "%0D%0A",
    "%20",
    "%",
    "%zz",
    "%FF%FE",
    "%C0%AF",
    "%E2%80%AE",
    "//",
    "/",
    ";",
    "@",
    ":",
    "~",
    "'",
    "*",
    "!",
    "$",
    "(",
    ")",
    "+",
    ",",
    "=",
    "&",
)


def _encode(text: str) -> str:
    """Percent-encode a text id as a client would (UTF-8), keeping only unreserved characters."""
    return quote(text, safe="", encoding="utf-8", errors="surrogatepass")


def _climbs(wire: str) -> bool:
    """True if the id, once decoded and dot-segment-normalised, leaves its own path segment:
    a server that normalises ``..`` would then answer some other route, not a task lookup."""
    path = unquote(unquote(wire, errors="replace"), errors="replace").replace("\\", "/")
    depth = 0
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        depth = depth - 1 if segment == ".." else depth + 1
        if depth < 1 and segment == "..":
            return True
    return depth < 1


def hostile_task_ids(max_length: int = 300) -> st.SearchStrategy[str]:
    """A task id no server can hold, in its wire form (ASCII, to follow ``/story/`` as is):
    unicode, very long ids, percent-encoded slashes and dots, NUL, empty segments, bad escapes.

    Every id keeps at least one real path segment after dot-segment normalisation, and its
    wire form stays under :data:`MAX_HOSTILE_ID_BYTES`, so any conforming server must answer
    it with a 4xx of its task lookup.
    """
    unicode_text = st.text(
        st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40
    ).map(_encode)
    pieces = st.one_of(
        st.sampled_from(_ODD_PIECES),
        unicode_text,
        st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=12),
    )
    mixed = st.lists(pieces, min_size=1, max_size=12).map("".join)
    very_long = st.builds(
        lambda piece, n: (piece * n)[:MAX_HOSTILE_ID_BYTES],
        st.sampled_from(["a", "%2F", "%E2%98%83", "x/", "%00", "."]),
        st.integers(min_value=max_length, max_value=max_length * 10),
    )
    fixed = st.sampled_from(
        [
            "%00",
            "a%00b",
            "%2e%2e%2e",
            "t%2Fx%2F%2e%2e%2Fid",
            "t/x/%2E%2E/id",
            "x//y",
            "x/",
            "x/./y",
            "%20",
            "%E2%98%83",
            "%F0%9F%92%A9" * 20,
            "tâche%E9",
            "x" * 4000,
        ]
    )
    ids = st.one_of(fixed, mixed, very_long).map(_ascii_wire)
    return ids.filter(lambda w: w.strip("/") != "" and not _climbs(w))


def _ascii_wire(wire: str) -> str:
    """Keep a wire id sendable: printable ASCII, no raw query or fragment markers, bounded."""
    out = "".join(
        c if c.isascii() and c.isprintable() and c not in " ?#" else _encode(c) for c in wire
    )
    return out[:MAX_HOSTILE_ID_BYTES]


__all__ = [
    "API_KEY_ALPHABET",
    "MAX_HOSTILE_ID_BYTES",
    "api_keys",
    "custom_statuses",
    "failure_statuses",
    "faults",
    "final_statuses",
    "hostile_task_ids",
    "latencies",
    "messages",
    "run_ids",
    "running_statuses",
    "scenarios",
    "statuses",
]


def load_profiles(name: str | None = None) -> None:
    """Register mockcamb's hypothesis profiles and load ``name`` (default: the
    ``HYPOTHESIS_PROFILE`` environment variable, else ``dev``).

    ``dev``: 50 examples; ``ci``: 100, derandomized, blob printed; ``live``: 10 examples and no
    shrinking (against a live API every example is a request).
    """
    import os

    settings.register_profile("dev", max_examples=50, deadline=None)
    settings.register_profile(
        "ci",
        max_examples=100,
        deadline=None,
        derandomize=True,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile(
        "live",
        max_examples=10,
        deadline=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        print_blob=True,
    )
    settings.load_profile(name or os.environ.get("HYPOTHESIS_PROFILE", "dev"))
