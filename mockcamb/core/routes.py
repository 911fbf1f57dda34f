"""THE table of emulated endpoints, derived from the task families (:mod:`.families`).

Every endpoint is a :class:`Route` in :data:`ROUTES`: method, path (under :data:`API_PREFIX`,
OpenAPI-style ``/story/{task_id}``), action (create, status, result, bulk, file), family,
path placeholders, operation id. Everything that knows an endpoint takes it from here: the
Flask URL rules and the status fast path (:mod:`mockcamb.http`), the in-process adapters
(through the real WSGI app), the OpenAPI document, the admin API's and the fixtures' kind
check, the 405s and the near-miss hints, the dashboard and the contract suite.

The last placeholder of a path may contain slashes, as werkzeug's ``<path:...>`` converter
allows, so that odd ids reach the handler and get a JSON answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from .errors import ConfigError
from .families import FAMILIES, Family, Field, Result

#: The prefix every emulated endpoint lives under, as on the real service.
API_PREFIX: Final = "/apis"
#: Where the files a result links to are served (under the API prefix).
FILES_PATH: Final = "/__files"

Action = Literal["create", "status", "result", "bulk", "file"]


@dataclass(frozen=True, slots=True)
class Route:
    """One emulated endpoint: ``method`` on ``path`` (under :data:`API_PREFIX`) does
    ``action`` for ``family``; ``params`` are the path's placeholders, in order; ``result``
    is the result route a result or bulk endpoint answers."""

    method: str
    path: str
    action: Action
    family: Family | None
    params: tuple[str, ...]
    operation_id: str
    summary: str
    result: Result | None = None

    @property
    def prefix(self) -> str:
        """The literal part of the path before its first placeholder (``/story/``)."""
        return self.path.split("{", 1)[0]

    @property
    def werkzeug_rule(self) -> str:
        """The path as a werkzeug URL rule under the API prefix, the last placeholder
        taking the rest of the path (``/apis/story/<path:task_id>``)."""
        last = self.params[-1] if self.params else None

        def rule(m: re.Match[str]) -> str:
            name = m[1]
            return f"<path:{name}>" if name == last else f"<{name}>"

        return API_PREFIX + re.sub(r"\{(\w+)\}", rule, self.path)

    @property
    def kind(self) -> str | None:
        return self.family.name if self.family is not None else None


def _placeholders(path: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\{(\w+)\}", path))


def _result_route(family: Family, result: Result) -> Route:
    stem = family.title + ("Results" if result.bulk else "Result")
    op = result.operation or ("getBulk" if result.bulk else "get") + stem
    method = "POST" if result.bulk else "GET"
    summary = result.summary or (
        f"Results of finished {family.name} runs, keyed by run id"
        if result.bulk
        else f"Result of a finished {family.name} run"
    )
    action: Action = "bulk" if result.bulk else "result"
    params = _placeholders(result.path)
    return Route(method, result.path, action, family, params, op, summary, result)


def routes_of(family: Family) -> tuple[Route, ...]:
    """The routes one family declares: create (and its aliases), each status path, each
    result route."""
    t, n = family.title, family.name
    out = [
        Route(
            "POST",
            path,
            "create",
            family,
            _placeholders(path),
            f"create{t}" + ("" if i == 0 else f"Alias{i}"),
            f"Start a {n} task",
        )
        for i, path in enumerate((family.create, *family.create_aliases))
    ]
    for i, path in enumerate(family.status):
        variant = "" if i == 0 else path.strip("/").split("/")[0].title()
        out.append(
            Route(
                "GET",
                f"{path}/{{task_id}}",
                "status",
                family,
                ("task_id",),
                f"get{t}Status{variant}",
                f"Status of a {n} task",
            )
        )
    out.extend(_result_route(family, result) for result in family.results)
    return tuple(out)


#: The files result bodies link to (audio, dialogues, subtitles), served without a key as
#: pre-signed URLs are.
FILES_ROUTE: Final = Route(
    "GET",
    FILES_PATH + "/{family}/{run_id}/{name}",
    "file",
    None,
    ("family", "run_id", "name"),
    "getResultFile",
    "A file a finished run's result links to",
)

#: Every emulated endpoint, derived from :data:`FAMILIES`.
ROUTES: Final[tuple[Route, ...]] = (
    *(r for f in FAMILIES for r in routes_of(f)),
    FILES_ROUTE,
)

#: The family names, as the admin API and the fixtures take them (``kind``).
KINDS: Final[tuple[str, ...]] = tuple(f.name for f in FAMILIES)

#: ``(literal prefix under /apis, family)`` of every status route, for the fast path.
STATUS_PREFIXES: Final[tuple[tuple[str, Family], ...]] = tuple(
    (API_PREFIX + r.prefix, r.family) for r in ROUTES if r.action == "status" and r.family
)

_BY_NAME: Final = {f.name: f for f in FAMILIES}
_BY_STATUS_PATH: Final = {p.strip("/"): f for f in FAMILIES for p in f.status}


def family(name: object) -> Family:
    """The family called ``name``; a :class:`ConfigError` naming the choices otherwise
    (the one kind check of the admin API, the fixtures and the CLI)."""
    found = _BY_NAME.get(name) if isinstance(name, str) else None
    if found is None:
        choices = ", ".join(KINDS)
        raise ConfigError(f"kind: must be one of {choices}; got {name!r}")
    return found


#: Every status path, as a poller is given it (``story``, ``transcribe``, ``discord/dub``...).
STATUS_PATHS: Final[tuple[str, ...]] = tuple(_BY_STATUS_PATH)


def family_of_status_path(path: str) -> Family | None:
    """The family polled at ``path`` (``transcribe``, ``discord/dub``...), or ``None``."""
    return _BY_STATUS_PATH.get(path.strip("/"))


def status_family(path: str) -> Family:
    """The family polled at ``path``; a :class:`ConfigError` naming the status paths."""
    found = family_of_status_path(path)
    if found is None:
        raise ConfigError(f"endpoint: must be one of {', '.join(STATUS_PATHS)}; got {path!r}")
    return found


def route(operation_id: str) -> Route:
    """The route with this OpenAPI operation id (``getStoryStatus``)."""
    for r in ROUTES:
        if r.operation_id == operation_id:
            return r
    raise KeyError(operation_id)


def _pattern(r: Route) -> re.Pattern[str]:
    """The path regex werkzeug compiles for the route's rule (last placeholder: any rest)."""
    parts = re.split(r"\{(\w+)\}", r.path)
    regex = ""
    for i, part in enumerate(parts):
        if i % 2 == 0:
            regex += re.escape(part)
        else:
            regex += "(.+)" if part == r.params[-1] else "([^/]+)"
    return re.compile(API_PREFIX + regex)


_PATTERNS: Final = tuple((_pattern(r), r) for r in ROUTES)


def allowed_methods(path: str) -> tuple[str, ...]:
    """The methods the routes of ``path`` (a full path, with the API prefix) take, as an
    ``Allow`` header lists them (HEAD with GET, OPTIONS always); empty for no route."""
    methods = {r.method for pattern, r in _PATTERNS if pattern.fullmatch(path)}
    if not methods:
        return ()
    if "GET" in methods:
        methods.add("HEAD")
    return tuple(sorted(methods | {"OPTIONS"}))


__all__ = [
    "API_PREFIX",
    "FAMILIES",
    "FILES_PATH",
    "FILES_ROUTE",
    "KINDS",
    "ROUTES",
    "STATUS_PATHS",
    "STATUS_PREFIXES",
    "Family",
    "Field",
    "Result",
    "Route",
    "allowed_methods",
    "family",
    "family_of_status_path",
    "route",
    "routes_of",
    "status_family",
]
