"""Clients that declare the families they support (``poll.families``, read by the
conformance harness), built on the reference poller; each keeps the status paths it was
called with in :data:`CALLED`."""

from __future__ import annotations

from typing import Any

from mockcamb.client import poll

#: The ``endpoint`` of every call, in order (cleared by the tests).
CALLED: list[str] = []


def dub_and_tts(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """The reference poller, declared for dub and tts."""
    CALLED.append(endpoint)
    return poll(base_url, api_key, endpoint, task_id)


dub_and_tts.families = ("dub", "tts")  # type: ignore[attr-defined]


def undeclared(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """The reference poller, declaring nothing."""
    CALLED.append(endpoint)
    return poll(base_url, api_key, endpoint, task_id)


def misspelt(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Declares a family the API does not have."""
    return poll(base_url, api_key, endpoint, task_id)


misspelt.families = ("dub", "dubbing")  # type: ignore[attr-defined]


def keyless_dub_and_tts(base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
    """Forgets the key (fails api-key at once), declared for dub and tts."""
    CALLED.append(endpoint)
    return poll(base_url, "", endpoint, task_id)


keyless_dub_and_tts.families = ("dub", "tts")  # type: ignore[attr-defined]


class Poller:
    """A client object: the families are a class attribute, as on a bound method."""

    families = ("transcription", "discord/dub")

    def poll(self, base_url: str, api_key: str, endpoint: str, task_id: str) -> Any:
        CALLED.append(endpoint)
        return poll(base_url, api_key, endpoint, task_id)


POLLER = Poller()
