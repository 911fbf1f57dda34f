"""The result body of each family's finished run, as the official SDK's types describe it.

One builder per family with a result route (:attr:`mockcamb.core.routes.Family.result`);
the body's JSON Schema is in :data:`mockcamb.core.schemas.RESULT_SCHEMAS` under the family's
``result_schema`` name, and a test checks every builder against it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class Run:
    """What a result body is built from: the finished run and where the API is served."""

    family: str
    run_id: int
    task_id: str
    base_url: str  # the API's base URL as the client reached it, ending in /apis


def _story(run: Run) -> dict[str, Any]:
    files = f"{run.base_url}/__files/story/{run.run_id}"
    return {
        "audio_url": f"{files}/audio.wav",
        "dialogue_url": f"{files}/dialogue.json",
        "transcript": [
            {"start": 0.0, "end": 2.5, "text": "Once upon a time.", "speaker": "Narrator"},
            {"start": 2.5, "end": 5.0, "text": "The end.", "speaker": "Narrator"},
        ],
    }


def _project_setup(run: Run) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "project_details": {
            "project_name": f"mockcamb project {run.task_id[:40]}",
            "project_description": "Created by the mockcamb emulator",
            "created_at": "2026-01-01T00:00:00Z",
            "source_language": 1,
            "target_languages": [76],
            "duration": 5.0,
            "folder_id": None,
            "studio_url": f"https://studio.camb.ai/projects/{run.run_id}",
        },
    }


#: The result builder of each family with a result route, by family name.
BUILDERS: Final[dict[str, Callable[[Run], dict[str, Any]]]] = {
    "story": _story,
    "project-setup": _project_setup,
}


def result_body(run: Run) -> dict[str, Any]:
    """The body ``GET <family result path>/{run_id}`` answers for a finished run."""
    return BUILDERS[run.family](run)


__all__ = ["BUILDERS", "Run", "result_body"]
