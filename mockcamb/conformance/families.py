"""The families a conformance run polls: the ones the client declares (``poll.families``),
restricted by ``--endpoint``, else the default; and why each other family is left out.

A client declares what it supports the way a pytest plugin or a hypothesis test carries its
options, as an attribute of the callable::

    def poll(base_url, api_key, endpoint, task_id): ...
    poll.families = ("dub", "tts")        # family names or status paths ("discord/dub")

A family name stands for its main status path (``transcription`` -> ``transcribe``); the
client is called with the status path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import ConfigError
from ..core.families import Family
from ..core.routes import FAMILIES, KINDS, STATUS_PATHS, family_of_status_path

#: The attribute of the client callable that declares the families it supports.
ATTRIBUTE = "families"
#: The status paths polled when the client declares no families and ``--endpoint`` names none.
DEFAULT_ENDPOINTS: tuple[str, ...] = ("story", "project-setup")

_BY_NAME = {f.name: f for f in FAMILIES}


def endpoint_named(name: object, what: str = "endpoint") -> str:
    """The status path ``name`` stands for: a status path as it is, a family name as its
    main status path. A :class:`ConfigError` naming every family and status path otherwise."""
    if isinstance(name, str):
        key = name.strip().strip("/")
        if family_of_status_path(key) is not None:
            return key
        if key in _BY_NAME:
            return _BY_NAME[key].status_path
    raise ConfigError(
        f"{what}: unknown family {name!r}; known families: {', '.join(KINDS)} "
        f"(or a status path: {', '.join(STATUS_PATHS)})"
    )


def endpoints_named(names: Iterable[object], what: str = "endpoint") -> tuple[str, ...]:
    """:func:`endpoint_named` of each name, in order, without repeats."""
    return tuple(dict.fromkeys(endpoint_named(n, what) for n in names))


def declared_endpoints(client: object) -> tuple[str, ...] | None:
    """The status paths ``client.families`` declares, or ``None`` when it declares none.
    A bound method's object may declare them, and a wrapper's ``__wrapped__`` callable."""
    declared: Any = None
    seen: object | None = client
    while declared is None and seen is not None:
        declared = getattr(seen, ATTRIBUTE, None)
        if declared is None and getattr(seen, "__self__", None) is not None:
            declared = getattr(seen.__self__, ATTRIBUTE, None)  # type: ignore[attr-defined]
        seen = getattr(seen, "__wrapped__", None)
    if declared is None:
        return None
    what = f"the client's {ATTRIBUTE} attribute"
    if isinstance(declared, str):
        declared = (declared,)
    if not isinstance(declared, Iterable):
        raise ConfigError(f"{what}: must be a family name or a tuple of them, got {declared!r}")
    endpoints = endpoints_named(declared, what)
    if not endpoints:
        raise ConfigError(f"{what}: declares no family; name at least one ({', '.join(KINDS)})")
    return endpoints


def label(endpoint: str) -> str:
    """How the report names a status path: its family, and the path where it differs
    (``transcription [transcribe]``, ``dub [discord/dub]``)."""
    fam = _family(endpoint)
    return endpoint if fam.name == endpoint else f"{fam.name} [{endpoint}]"


def _family(endpoint: str) -> Family:
    fam = family_of_status_path(endpoint)
    assert fam is not None, endpoint  # every endpoint here went through endpoint_named
    return fam


@dataclass(frozen=True)
class FamilyPlan:
    """What a run polls (:attr:`run`, status paths) and why each other family is left out."""

    run: tuple[str, ...]
    declared: tuple[str, ...] | None
    """what the client declares (status paths); ``None``: it declares nothing"""
    restricted: tuple[str, ...] = ()
    """what ``--endpoint`` asked for (status paths); empty: no restriction"""
    skipped: dict[str, str] = field(default_factory=dict)
    """family (or status path) -> why it was not run"""

    def source(self) -> str:
        """Where :attr:`run` comes from, in words."""
        if self.declared is None:
            if self.restricted:
                return "named by --endpoint; the client declares no families"
            return (
                f"the default: the client declares no families (set poll.{ATTRIBUTE} = "
                "(...) or pass --endpoint)"
            )
        source = f"declared by the client's {ATTRIBUTE} attribute"
        return source + (", restricted by --endpoint" if self.restricted else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": list(self.run),
            "declared": None if self.declared is None else list(self.declared),
            "restricted": list(self.restricted),
            "default": self.declared is None and not self.restricted,
            "source": self.source(),
            "skipped": dict(self.skipped),
        }


def plan_families(client: object, restricted: Iterable[str] = ()) -> FamilyPlan:
    """The families to run ``client`` over: what it declares (or the default), restricted to
    ``restricted`` (``--endpoint``) when given. A :class:`ConfigError` when the declaration
    is bad or nothing is left to run."""
    declared = declared_endpoints(client)
    asked = endpoints_named(restricted)
    skipped: dict[str, str] = {}
    if declared is None:
        run = asked or DEFAULT_ENDPOINTS
        why = "not named by --endpoint" if asked else "not in the default (story, project-setup)"
    else:
        families = {_family(ep).name for ep in declared}
        run = tuple(ep for ep in asked if _family(ep).name in families) if asked else declared
        for ep in asked:
            if ep not in run:
                skipped[label(ep)] = "named by --endpoint but not declared by the client"
        if asked and not run:
            raise ConfigError(
                f"endpoint: the client declares {', '.join(map(label, declared))}; "
                f"--endpoint names {', '.join(map(label, asked))}: nothing to run"
            )
        if asked:
            polled = {_family(ep).name for ep in run}
            for ep in declared:
                if _family(ep).name not in polled:
                    skipped[label(ep)] = "declared by the client, left out by --endpoint"
        why = "not declared by the client"
    done = {_family(ep).name for ep in (*run, *asked, *(declared or ()))}
    for fam in FAMILIES:
        if fam.name not in done:
            skipped[fam.name] = why
    return FamilyPlan(run, declared, asked, skipped)
