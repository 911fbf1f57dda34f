"""What a near miss probably meant: the hints of the API's 404s.

A path under ``/apis`` that no route takes gets the closest real route (``/apis/transcription/x``:
did you mean ``GET /apis/transcribe/{task_id}``?); the underscore paths of older clients
(``/end_to_end_dubbing/{id}``, ``/tts_result/{run}``...) get their current path; a task id
that is a client-side placeholder (``undefined``, ``null``...) says the client sent no id.
Everything here is pure: the route table in, a sentence out.
"""

from __future__ import annotations

import difflib
from typing import Final

from .routes import API_PREFIX, ROUTES, Route

#: Task ids that are what a client sends when it has no id: a JavaScript ``undefined``, a
#: serialised null, Python's ``None``, a float that is not a number.
PLACEHOLDER_IDS: Final = frozenset({"undefined", "null", "None", "NaN", "nil", "{task_id}"})

#: Paths of the community ``cambai`` 0.1.x client (CAMB's first API) and the current path
#: (relative to /apis) each became.
LEGACY_PATHS: Final[dict[str, str]] = {
    "end_to_end_dubbing": "/dub",
    "dubbed_run_info": "/dub-result",
    "create_transcription": "/transcribe",
    "transcription_result": "/transcription-result",
    "create_translation": "/translate",
    "translation_result": "/translation-result",
    "create_translated_tts": "/translated-tts",
    "tts_result": "/tts-result",
}

#: Words people (and the SDKs' module names) use for a path that has another name.
ALIASES: Final[dict[str, str]] = {
    "transcription": "transcribe",
    "transcriptions": "transcribe",
    "translation": "translate",
    "translations": "translate",
    "dubbing": "dub",
    "dubs": "dub",
    "subtitle": "sub",
    "subtitles": "sub",
    "stories": "story",
    "text-to-audio": "text-to-sound",
    "project": "project-setup",
    "projects": "project-setup",
}


def _literal(route: Route) -> str:
    return route.prefix.rstrip("/") if route.params else route.path


def _shape(route: Route) -> int:
    return route.path.count("/")


def _current_first(first: str) -> str:
    """The current first path segment for ``first`` (legacy, alias, or as given)."""
    legacy = LEGACY_PATHS.get(first)
    if legacy is not None:
        return legacy.strip("/")
    word = first.lower().replace("_", "-")
    return ALIASES.get(word, word)


def closest_route(method: str, path: str) -> Route | None:
    """The route a request for ``path`` (under the API prefix) most likely meant, or
    ``None`` when nothing is close. Same method and same number of segments first."""
    rest = path.removeprefix(API_PREFIX).strip("/")
    if not rest:
        return None
    segments = rest.split("/")
    first = _current_first(segments[0])
    wanted = "/" + "/".join([first, *segments[1:-1]]) if len(segments) > 1 else "/" + first
    shape = len(segments)
    best: tuple[float, int, Route] | None = None
    for order, route in enumerate(ROUTES):
        score = difflib.SequenceMatcher(None, wanted, _literal(route)).ratio()
        score += 0.2 * (route.method == method.upper()) + 0.1 * (_shape(route) == shape)
        if best is None or score > best[0]:
            best = (score, -order, route)
    if best is None or best[0] < 0.75:
        return None
    return best[2]


def legacy_hint(path: str) -> str | None:
    """For an older client's underscore path, its current path."""
    rest = path.removeprefix(API_PREFIX).strip("/")
    first, _, tail = rest.partition("/")
    current = LEGACY_PATHS.get(first)
    if current is None or not any(_literal(r) == current for r in ROUTES):
        return None
    where = API_PREFIX + current + (f"/{tail}" if tail else "")
    return f"{API_PREFIX}/{first} is an old path of the CAMB API; it is {where} now"


def route_hint(method: str, path: str) -> str | None:
    """A sentence for the 404 of a path no route takes, or ``None``."""
    legacy = legacy_hint(path)
    if legacy is not None:
        return legacy
    rest = path.removeprefix(API_PREFIX).strip("/")
    segments = rest.split("/")
    for r in ROUTES:  # the right path but no id at all: /apis/story/
        if r.params and path.rstrip("/") + "/" == API_PREFIX + r.prefix:
            return f"no {r.params[0]} in the path: {r.method} {API_PREFIX}{r.path}"
    route = closest_route(method, path)
    if route is None or (len(segments) == 1 and API_PREFIX + route.path == path):
        return None
    return f"did you mean {route.method} {API_PREFIX}{route.path}?"


def placeholder_hint(task_id: str) -> str | None:
    """For a task id that is a client-side placeholder, what went wrong."""
    if task_id.strip() in PLACEHOLDER_IDS or not task_id.strip():
        return (
            f"the client sent no task id (got {task_id!r}): the variable holding the "
            "task_id from the create call was never set"
        )
    return None


__all__ = [
    "ALIASES",
    "LEGACY_PATHS",
    "PLACEHOLDER_IDS",
    "closest_route",
    "legacy_hint",
    "placeholder_hint",
    "route_hint",
]
