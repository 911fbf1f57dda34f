"""THE table of emulated endpoints: every task family and every route, declared once.

Each :class:`Family` says how a task of that family is created (path, body kind, the fields
the official SDK sends), polled (its status paths) and read (its result path and the schema
of its result body). :data:`ROUTES` is derived from :data:`FAMILIES`, and everything that
knows an endpoint takes it from here: the Flask URL rules and the status fast path
(:mod:`mockcamb.http`), the in-process adapters (through the real WSGI app), the OpenAPI
document, the admin API's and the fixtures' kind check, the dashboard and the contract
suite. Adding a family is one entry in :data:`FAMILIES`, plus its result body in
:mod:`.results` and its result schema in :mod:`.schemas`.

Paths are relative to the API prefix (``/apis``) and written OpenAPI-style
(``/story/{task_id}``); the last parameter of a path may contain slashes, as werkzeug's
``<path:...>`` converter allows, so that odd ids reach the handler and get a JSON answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from .errors import ConfigError

#: The prefix every emulated endpoint lives under, as on the real service.
API_PREFIX: Final = "/apis"

FieldType = Literal["string", "integer", "integer_list", "boolean", "number", "file"]
BodyKind = Literal["json", "multipart"]
Action = Literal["create", "status", "result"]


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a create request, as the official SDK sends it. ``required`` fields
    are checked FastAPI-style (a 422 naming each missing or mistyped one); the others are
    documented in the OpenAPI document and accepted as sent."""

    name: str
    type: FieldType
    required: bool = False
    nullable: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class Family:
    """One asynchronous task family of the CAMB API."""

    #: The family's name: its ``kind`` in the admin API, the fixtures and the journal.
    name: str
    #: ``CamelCase`` stem of its OpenAPI operation ids (``getStoryStatus``...).
    title: str
    #: ``POST`` path that starts a task, and how its body is sent.
    create: str
    body: BodyKind
    fields: tuple[Field, ...]
    #: Status paths (``GET {path}/{task_id}``): the first is the main one.
    status: tuple[str, ...]
    #: ``GET {path}/{run_id}`` answers the finished run's result; ``None``: no result route.
    result: str | None
    #: Name of the result body's schema in :data:`mockcamb.core.schemas.RESULT_SCHEMAS`.
    result_schema: str | None


@dataclass(frozen=True, slots=True)
class Route:
    """One emulated endpoint: ``method`` on ``path`` (under :data:`API_PREFIX`) does
    ``action`` for ``family``; ``params`` are the path's placeholders, in order."""

    method: str
    path: str
    action: Action
    family: Family
    params: tuple[str, ...]
    operation_id: str
    summary: str

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


_INT_LIST_HELP = "CAMB language ids."

STORY: Final = Family(
    name="story",
    title="Story",
    create="/story",
    body="multipart",
    fields=(
        Field("file", "file", required=True, description="The story document."),
        Field("source_language", "integer", required=True, description="CAMB language id."),
        Field("title", "string"),
        Field("description", "string"),
        Field("narrator_voice_id", "integer"),
        Field("folder_id", "integer"),
        Field("chosen_dictionaries", "integer_list"),
    ),
    status=("/story",),
    result="/story-result",
    result_schema="StoryResult",
)

PROJECT_SETUP: Final = Family(
    name="project-setup",
    title="ProjectSetup",
    create="/project-setup",
    body="json",
    fields=(
        Field("media_url", "string", required=True),
        Field("source_language", "integer", required=True, description="CAMB language id."),
        Field("target_languages", "integer_list", required=True, description=_INT_LIST_HELP),
        Field("project_name", "string", nullable=True),
        Field("project_description", "string", nullable=True),
        Field("folder_id", "integer", nullable=True),
        Field("selected_audio_tracks", "integer_list", nullable=True),
        Field("add_output_as_an_audio_track", "boolean", nullable=True),
        Field("chosen_dictionaries", "integer_list", nullable=True),
    ),
    status=("/project-setup",),
    result="/project-setup-result",
    result_schema="ProjectSetupResult",
)

#: Every emulated task family, in the order the documents list them.
FAMILIES: Final[tuple[Family, ...]] = (STORY, PROJECT_SETUP)

#: The family names, as the admin API and the fixtures take them (``kind``).
KINDS: Final[tuple[str, ...]] = tuple(f.name for f in FAMILIES)

_BY_NAME: Final = {f.name: f for f in FAMILIES}


def routes_of(family: Family) -> tuple[Route, ...]:
    """The routes one family declares: create, each status path, its result."""
    t, n = family.title, family.name
    out = [Route("POST", family.create, "create", family, (), f"create{t}", f"Start a {n} task")]
    for i, path in enumerate(family.status):
        op = f"get{t}Status" + ("" if i == 0 else path.strip("/").split("/")[0].title())
        out.append(
            Route(
                "GET",
                f"{path}/{{task_id}}",
                "status",
                family,
                ("task_id",),
                op,
                f"Status of a {n} task",
            )
        )
    if family.result is not None:
        out.append(
            Route(
                "GET",
                f"{family.result}/{{run_id}}",
                "result",
                family,
                ("run_id",),
                f"get{t}Result",
                f"Result of a finished {n} run",
            )
        )
    return tuple(out)


#: Every emulated endpoint, derived from :data:`FAMILIES`.
ROUTES: Final[tuple[Route, ...]] = tuple(r for f in FAMILIES for r in routes_of(f))

#: ``(literal prefix under /apis, family)`` of every status route, for the fast path.
STATUS_PREFIXES: Final[tuple[tuple[str, Family], ...]] = tuple(
    (API_PREFIX + r.prefix, r.family) for r in ROUTES if r.action == "status"
)


def family(name: object) -> Family:
    """The family called ``name``; a :class:`ConfigError` naming the choices otherwise
    (the one kind check of the admin API, the fixtures and the CLI)."""
    found = _BY_NAME.get(name) if isinstance(name, str) else None
    if found is None:
        choices = ", ".join(repr(k) for k in KINDS)
        raise ConfigError(f"kind: must be one of {choices}, got {name!r}")
    return found


def _pattern(route: Route) -> re.Pattern[str]:
    """The path regex werkzeug compiles for the route's rule (last placeholder: any rest)."""
    parts = re.split(r"\{(\w+)\}", route.path)
    regex = ""
    for i, part in enumerate(parts):
        if i % 2 == 0:
            regex += re.escape(part)
        else:
            regex += "(.+)" if parts[i] == route.params[-1] else "([^/]+)"
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


def route(operation_id: str) -> Route:
    """The route with this OpenAPI operation id (``getStoryStatus``)."""
    for r in ROUTES:
        if r.operation_id == operation_id:
            return r
    raise KeyError(operation_id)


__all__ = [
    "API_PREFIX",
    "FAMILIES",
    "KINDS",
    "PROJECT_SETUP",
    "ROUTES",
    "STATUS_PREFIXES",
    "STORY",
    "Family",
    "Field",
    "Route",
    "allowed_methods",
    "family",
    "route",
    "routes_of",
]
