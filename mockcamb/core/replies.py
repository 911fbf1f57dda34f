"""What the emulator answers, whatever the transport: :class:`Reply` and its error shapes."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any


def json_bytes(body: Any) -> bytes:
    """Compact JSON, as the emulator sends every JSON body: what
    ``json.dumps(body, separators=(",", ":"))`` writes."""
    return "".join(_compact(body, 0)).encode()


def _compact_encoder() -> Callable[[Any, int], Sequence[str]]:
    """The encoder ``json.dumps`` makes afresh on each call (a third of a small body's
    cost), made once: CPython's C one where there is one (stateless without the circular
    reference check, which JSON read from a document or built here never needs; the
    recursion limit still stops a cycle), else the pure-Python one."""
    encoder = json.JSONEncoder(separators=(",", ":"))
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is not None:
        try:
            c = make(
                None, encoder.default, json.encoder.encode_basestring_ascii, None,
                ":", ",", False, False, True,
            )  # fmt: skip
            probe = {"a": [1, 2.5, None, "é", float("nan")]}
            if "".join(c(probe, 0)) == encoder.encode(probe):
                return c  # type: ignore[no-any-return]
        except TypeError:  # another interpreter's signature
            pass
    return lambda body, _level: (encoder.encode(body),)


_compact = _compact_encoder()


@dataclass(slots=True)
class Reply:
    """What to answer, whatever the transport: a status, a JSON body or exact bytes,
    extra headers, a real-time delay, or a dropped connection. ``hint``: what a near-miss
    404 said the client probably meant (the journal records it)."""

    status_code: int
    body: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    hint: str | None = None

    def payload(self) -> bytes:
        return self.raw if self.raw is not None else json_bytes(self.body)


def error_reply(status_code: int, detail: Any, **headers: str) -> Reply:
    """A FastAPI-style ``{"detail": ...}`` JSON error."""
    return Reply(status_code, {"detail": detail}, headers=dict(headers))


Problem = tuple[list[Any], str, str]


def validation_reply(errors: list[Problem]) -> Reply:
    """422 with FastAPI's ``detail`` list of ``{loc, msg, type}``."""
    return Reply(422, {"detail": [{"loc": loc, "msg": msg, "type": t} for loc, msg, t in errors]})


def phrase(code: int) -> str:
    """The reason phrase of an HTTP status code (``Error`` for codes HTTP does not name)."""
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"


__all__ = ["Problem", "Reply", "error_reply", "json_bytes", "phrase", "validation_reply"]
