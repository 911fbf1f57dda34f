"""The result bodies of finished runs, as the official SDKs' types describe them.

One builder per name in :data:`BUILDERS`; a family's result routes (:class:`~.families.Result`)
name theirs, and each body's JSON Schema is in :data:`mockcamb.core.schemas.RESULT_SCHEMAS`
(a test checks every builder's output against it, and every URL it hands out is served by
the files route). Builders are pure: a finished run, the path parameters and the query in;
a JSON body or a :class:`Media` file out. A query value outside its enum raises
:class:`BadQuery` (answered as FastAPI's 422).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from . import media
from .routes import FILES_PATH


@dataclass(frozen=True, slots=True)
class Run:
    """What a result body is built from: the finished run and where the API is served."""

    family: str
    run_id: int
    task_id: str
    base_url: str  # the API's base URL as the client reached it, ending in /apis
    params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)

    def url(self, name: str) -> str:
        """The URL of one of the run's files (served by the files route)."""
        return f"{self.base_url}{FILES_PATH}/{self.family}/{self.run_id}/{name}"


@dataclass(frozen=True, slots=True)
class Media:
    """A binary result body (streamed audio)."""

    data: bytes
    content_type: str


class BadQuery(ValueError):
    """A query parameter outside its enum: FastAPI's 422 ``(loc, msg, type)``."""

    def __init__(self, name: str, allowed: tuple[str, ...]) -> None:
        choices = " or ".join(f"'{a}'" for a in allowed)
        super().__init__(f"Input should be {choices}")
        self.problem = (["query", name], str(self), "enum")


Body = Any
Builder = Callable[[Run], Body]

_TRANSCRIPT = [{"start": a, "end": b, "text": t, "speaker": s} for a, b, t, s in media.SEGMENTS]


def _choice(run: Run, name: str, allowed: tuple[str, ...], default: str | None) -> str | None:
    value = run.query.get(name)
    if value is None:
        return default
    if value not in allowed:
        raise BadQuery(name, allowed)
    return value


def _story(run: Run) -> Body:
    lang = run.params.get("target_language")
    suffix = f"-{lang}" if lang else ""
    body: dict[str, Any] = {
        "audio_url": run.url(f"audio{suffix}.wav"),
        "dialogue_url": run.url(f"dialogue{suffix}.json"),
    }
    if run.query.get("include_transcript", "true").lower() not in ("false", "0"):
        body["transcript"] = _TRANSCRIPT
    return body


def _project_setup(run: Run) -> Body:
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


def _dub(run: Run) -> Body:
    return {"audio_url": run.url("dubbed.wav"), "transcript": _TRANSCRIPT}


def _export(run: Run, stem: str, *, default_type: str) -> dict[str, Any]:
    """A transcript export (``format_type``: srt, vtt, txt; ``data_type``: raw_data gives
    the text, file a URL to it)."""
    fmt = _choice(run, "format_type", ("srt", "vtt", "txt"), "txt") or "txt"
    kind = _choice(run, "data_type", ("raw_data", "file"), default_type) or default_type
    if kind == "raw_data":
        return {"transcript": media.subtitles(fmt)}
    url = run.url(f"{stem}.{fmt}")
    return {"transcript": url, "file_url": url, "expiry": "3600"}


def _dub_transcript(run: Run) -> Body:
    return _export(run, f"transcript-{run.params.get('language', 'en')}", default_type="raw_data")


def _transcription(run: Run) -> Body:
    if "format_type" not in run.query and "data_type" not in run.query:
        return {"transcript": _TRANSCRIPT}
    return _export(run, "transcript", default_type="file")


def _subtitles(run: Run) -> Body:
    lang = run.params.get("language")
    return _export(run, f"subtitles-{lang}" if lang else "subtitles", default_type="file")


_OUTPUT_TYPES: Final = ("raw_bytes", "file_url")


def _tts(run: Run) -> Body:
    if _choice(run, "output_type", _OUTPUT_TYPES, "raw_bytes") == "file_url":
        return _tts_url(run)
    return Media(media.flac(media.tone(run.run_id)), media.CONTENT_TYPES["flac"])


def _tts_url(run: Run) -> Body:
    return {"output_url": run.url("speech.flac")}


def _text_to_sound(run: Run) -> Body:
    if _choice(run, "output_type", _OUTPUT_TYPES, "raw_bytes") == "file_url":
        url = run.url("sound.wav")
        return {"file_url": url, "output_url": url}
    return Media(media.wav(media.tone(run.run_id)), media.CONTENT_TYPES["wav"])


def _text_to_sound_url(run: Run) -> Body:
    return {"output_url": run.url("sound.wav")}


def _translation(run: Run) -> Body:
    return {"texts": ["Hola, mundo.", "Esto es una traducción de mockcamb."]}


def _text_to_voice(run: Run) -> Body:
    return {"previews": [run.url(f"preview-{i}.wav") for i in (1, 2, 3)]}


def _audio_separation(run: Run) -> Body:
    return {
        "foreground_audio_url": run.url("foreground.wav"),
        "background_audio_url": run.url("background.wav"),
    }


#: Every result builder, by the name a family's result route gives.
BUILDERS: Final[dict[str, Builder]] = {
    "story": _story,
    "project-setup": _project_setup,
    "dub": _dub,
    "dub-transcript": _dub_transcript,
    "tts": _tts,
    "tts-url": _tts_url,
    "translation": _translation,
    "transcription": _transcription,
    "subtitles": _subtitles,
    "text-to-sound": _text_to_sound,
    "text-to-sound-url": _text_to_sound_url,
    "text-to-voice": _text_to_voice,
    "audio-separation": _audio_separation,
}


def result_body(builder: str, run: Run) -> Body:
    """The body a result route answers for a finished run; :class:`BadQuery` for a query
    value outside its enum."""
    return BUILDERS[builder](run)


__all__ = ["BUILDERS", "BadQuery", "Body", "Media", "Run", "result_body"]
