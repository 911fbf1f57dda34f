"""The 13 asynchronous task families of the CAMB API: one :class:`Family` entry each.

This is the data of the route table (:mod:`.routes` derives every endpoint from it). Each
entry says how a task is created (path, body kind, the fields the official SDK sends, the
finished run it starts from), polled (its status paths) and read (its result routes, each
naming its body builder in :mod:`.results` and its schema in :mod:`.schemas`). Field names,
paths and types follow the official SDKs (``camb-sdk`` 1.6.6, ``@camb-ai/sdk`` 1.0.1).

To add a family: one :class:`Family` in :data:`FAMILIES`, its result builders in
:data:`mockcamb.core.results.BUILDERS` and its result schemas in
:data:`mockcamb.core.schemas.RESULT_SCHEMAS`; a test checks that every name resolves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

FieldType = Literal[
    "string",
    "integer",
    "number",
    "boolean",
    "integer_list",
    "string_list",
    "language",
    "language_list",
    "object",
    "file",
]
BodyKind = Literal["json", "multipart"]


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
class Result:
    """One result route of a family: ``GET {path}`` for one finished run (``{run_id}`` and
    any further placeholders), or with ``bulk`` ``POST {path}`` with ``{"run_ids": [...]}``
    answering each run's result keyed by run id. ``builder`` names the body's builder in
    :data:`mockcamb.core.results.BUILDERS`, ``schema`` its JSON Schema in
    :data:`mockcamb.core.schemas.RESULT_SCHEMAS` (``None``: a binary or free-form body)."""

    path: str
    builder: str
    schema: str | None
    bulk: bool = False
    query: tuple[str, ...] = ()
    summary: str = ""
    #: Other families whose runs this route also serves (tts-result: translated-tts runs).
    also: tuple[str, ...] = ()
    #: The OpenAPI operation id, where the family's default name would repeat.
    operation: str = ""


@dataclass(frozen=True, slots=True)
class Family:
    """One asynchronous task family of the CAMB API."""

    #: The family's name: its ``kind`` in the admin API, the fixtures and the journal.
    name: str
    #: ``CamelCase`` stem of its OpenAPI operation ids (``getStoryStatus``...).
    title: str
    #: ``POST`` path that starts a task (placeholders name a finished run it starts from).
    create: str
    body: BodyKind
    fields: tuple[Field, ...]
    #: Status paths (``GET {path}/{task_id}``): the first is the main one.
    status: tuple[str, ...]
    #: The family's result routes (none for dub-alt-format and translated-tts).
    results: tuple[Result, ...] = ()
    #: For a family that starts from a finished run (``{run_id}`` in :attr:`create`): the
    #: family of that run.
    starts_from: str | None = None
    #: At least one field of each group must be sent (e.g. a media file or a media URL).
    one_of: tuple[tuple[str, ...], ...] = ()
    #: Other ``POST`` paths that start the same task (``/story-setup``).
    create_aliases: tuple[str, ...] = ()
    #: The create answer's fields besides ``task_id`` (translated-story also says ``message``).
    create_message: str | None = None

    @property
    def status_path(self) -> str:
        """The main status path, without the slash: what a poller is given (``transcribe``)."""
        return self.status[0].strip("/")


_PROJECT = (
    Field("project_name", "string", nullable=True),
    Field("project_description", "string", nullable=True),
    Field("folder_id", "integer", nullable=True),
)
_LANGUAGE = "A CAMB language id (or, where the SDK allows, a locale tag)."
_SPEAKER = (
    Field("age", "integer", nullable=True),
    Field("formality", "integer", nullable=True),
    Field("gender", "integer", nullable=True),
)
_TRANSCRIPT_QUERY = ("format_type", "data_type")

STORY: Final = Family(
    name="story",
    title="Story",
    create="/story",
    create_aliases=("/story-setup",),
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
    results=(
        Result("/story-result/{run_id}", "story", "StoryResult", query=("include_transcript",)),
        Result("/stories-results", "story", "StoryResult", bulk=True),
    ),
)

PROJECT_SETUP: Final = Family(
    name="project-setup",
    title="ProjectSetup",
    create="/project-setup",
    body="json",
    fields=(
        Field("media_url", "string", required=True),
        Field("source_language", "integer", required=True, description="CAMB language id."),
        Field("target_languages", "integer_list", required=True, description="CAMB language ids."),
        *_PROJECT,
        Field("selected_audio_tracks", "integer_list", nullable=True),
        Field("add_output_as_an_audio_track", "boolean", nullable=True),
        Field("chosen_dictionaries", "integer_list", nullable=True),
    ),
    status=("/project-setup",),
    results=(
        Result("/project-setup-result/{run_id}", "project-setup", "ProjectSetupResult"),
        Result("/project-setup-results", "project-setup", "ProjectSetupResult", bulk=True),
    ),
)

DUB: Final = Family(
    name="dub",
    title="Dub",
    create="/dub",
    body="json",
    fields=(
        Field("video_url", "string", required=True),
        Field("source_language", "language", required=True, description=_LANGUAGE),
        Field("target_language", "language", nullable=True),
        Field("target_languages", "language_list", nullable=True),
        *_PROJECT,
        Field("selected_audio_tracks", "integer_list", nullable=True),
        Field("add_output_as_an_audio_track", "boolean", nullable=True),
        Field("chosen_dictionaries", "integer_list", nullable=True),
        Field("ai_optimization", "boolean", nullable=True),
        Field("transcription_mode", "string", nullable=True, description="fast or slow"),
        Field("source_transcript", "object", nullable=True),
        Field("target_transcripts", "object", nullable=True),
    ),
    status=("/dub", "/discord/dub", "/twitter/dub"),
    results=(
        Result("/dub-result/{run_id}", "dub", "DubbingResult"),
        Result("/dubbing-results", "dub", "DubbingResult", bulk=True),
        Result(
            "/transcript/{run_id}/{language}",
            "dub-transcript",
            "StringMap",
            query=_TRANSCRIPT_QUERY,
            summary="Transcript of a finished dub run in one language",
            operation="getDubTranscript",
        ),
    ),
)

DUB_ALT_FORMAT: Final = Family(
    name="dub-alt-format",
    title="DubAltFormat",
    create="/dub-alt-format/{run_id}/{language}",
    body="json",
    fields=(
        Field(
            "output_format",
            "string",
            required=True,
            description="flac, wav, mp3, aac, m4a, mkv, mp4, mov or mxf",
        ),
    ),
    status=("/dub-alt-format",),
    starts_from="dub",
)

TTS: Final = Family(
    name="tts",
    title="Tts",
    create="/tts",
    body="json",
    fields=(
        Field("text", "string", required=True),
        Field("voice_id", "integer", required=True),
        Field("language", "integer", required=True, description="CAMB language id."),
        *_PROJECT,
        Field("gender", "integer", nullable=True),
        Field("age", "integer", nullable=True),
    ),
    status=("/tts", "/discord/tts"),
    results=(
        Result(
            "/tts-result/{run_id}",
            "tts",
            "TtsFileUrl",
            query=("output_type",),
            summary="The speech of a finished tts run: FLAC audio, or its URL with "
            "output_type=file_url",
            also=("translated-tts",),
        ),
        Result("/tts-results", "tts-url", "TtsFileUrl", bulk=True, also=("translated-tts",)),
    ),
)

TRANSLATED_TTS: Final = Family(
    name="translated-tts",
    title="TranslatedTts",
    create="/translated-tts",
    body="json",
    fields=(
        Field("text", "string", required=True),
        Field("voice_id", "integer", required=True),
        Field("source_language", "language", required=True, description=_LANGUAGE),
        Field("target_language", "language", required=True, description=_LANGUAGE),
        *_PROJECT,
        *_SPEAKER,
        Field("chosen_dictionaries", "integer_list", nullable=True),
    ),
    status=("/translated-tts",),
)

TRANSLATION: Final = Family(
    name="translation",
    title="Translation",
    create="/translate",
    body="json",
    fields=(
        Field("texts", "string_list", required=True),
        Field("source_language", "language", required=True, description=_LANGUAGE),
        Field("target_language", "language", required=True, description=_LANGUAGE),
        *_PROJECT,
        *_SPEAKER,
        Field("chosen_dictionaries", "integer_list", nullable=True),
    ),
    status=("/translate",),
    results=(
        Result("/translation-result/{run_id}", "translation", "TranslationResult"),
        Result("/translation-results", "translation", "TranslationResult", bulk=True),
    ),
)

TRANSCRIPTION: Final = Family(
    name="transcription",
    title="Transcription",
    create="/transcribe",
    body="multipart",
    fields=(
        Field("language", "language", required=True, description=_LANGUAGE),
        Field("media_file", "file", description="The media to transcribe (or media_url)."),
        Field("media_url", "string"),
        Field("file", "file", description="Deprecated: media_file."),
        Field("audio_url", "string", description="Deprecated: media_url."),
        *_PROJECT,
        Field("transcription_mode", "string", description="fast or slow"),
        Field("run_audio_cleaning", "boolean"),
        Field("include_music_in_fg", "boolean"),
        Field("formatting_options", "string", description="SubtitleFormattingOptions as JSON"),
    ),
    one_of=(("media_file", "media_url", "file", "audio_url"),),
    status=("/transcribe",),
    results=(
        Result(
            "/transcription-result/{run_id}",
            "transcription",
            "TranscriptionResult",
            query=_TRANSCRIPT_QUERY,
        ),
        Result("/transcription-results", "transcription", "TranscriptionResult", bulk=True),
    ),
)

SUBTITLES: Final = Family(
    name="subtitles",
    title="Subtitle",
    create="/sub",
    body="json",
    fields=(
        Field("media_url", "string", required=True),
        Field("source_language", "language", required=True, description=_LANGUAGE),
        Field("target_languages", "language_list", required=True),
        *_PROJECT,
        Field("transcription_mode", "string", description="fast or slow"),
        Field("formatting_options", "object", nullable=True),
    ),
    status=("/sub",),
    results=(
        Result("/sub-result/{run_id}", "subtitles", "SubtitleResult", query=_TRANSCRIPT_QUERY),
        Result(
            "/sub-result/{run_id}/{language}",
            "subtitles",
            "SubtitleResult",
            query=_TRANSCRIPT_QUERY,
            summary="Subtitles of a finished run in one language",
            operation="getSubtitleResultForLanguage",
        ),
        Result("/sub-results", "subtitles", "SubtitleResult", bulk=True, query=_TRANSCRIPT_QUERY),
    ),
)

TEXT_TO_SOUND: Final = Family(
    name="text-to-sound",
    title="TextToSound",
    create="/text-to-sound",
    body="json",
    fields=(
        Field("prompt", "string", required=True),
        Field("duration", "number", nullable=True),
        Field("audio_type", "string", nullable=True, description="sound or music"),
        *_PROJECT,
    ),
    status=("/text-to-sound",),
    results=(
        Result(
            "/text-to-sound-result/{run_id}",
            "text-to-sound",
            "SoundFileUrl",
            query=("output_type",),
            summary="The sound of a finished run: WAV audio, or its URL with output_type=file_url",
        ),
        Result("/text-to-sound-results", "text-to-sound-url", "OutputUrl", bulk=True),
    ),
)

TEXT_TO_VOICE: Final = Family(
    name="text-to-voice",
    title="TextToVoice",
    create="/text-to-voice",
    body="json",
    fields=(
        Field("text", "string", required=True),
        Field("voice_description", "string", required=True),
        *_PROJECT,
    ),
    status=("/text-to-voice",),
    results=(Result("/text-to-voice-result/{run_id}", "text-to-voice", "TextToVoiceResult"),),
)

AUDIO_SEPARATION: Final = Family(
    name="audio-separation",
    title="AudioSeparation",
    create="/audio-separation",
    body="multipart",
    fields=(
        Field("media_file", "file", required=True, description="The audio to separate."),
        *_PROJECT,
    ),
    status=("/audio-separation",),
    results=(
        Result("/audio-separation-result/{run_id}", "audio-separation", "AudioSeparationResult"),
        Result("/audio-separation-results", "audio-separation", "AudioSeparationResult", bulk=True),
    ),
)

TRANSLATED_STORY: Final = Family(
    name="translated-story",
    title="TranslatedStory",
    create="/translated-story/{run_id}",
    body="json",
    fields=(Field("target_language", "integer", required=True, description="CAMB language id."),),
    status=("/translated-story",),
    results=(
        Result(
            "/translated-story-result/{run_id}/{target_language}",
            "story",
            "StoryResult",
            query=("include_transcript",),
            summary="Result of a finished translated-story run in its language",
        ),
    ),
    starts_from="story",
    create_message="The story is being translated",
)

#: Every emulated task family, in the order CAMB's documents list them.
FAMILIES: Final[tuple[Family, ...]] = (
    STORY,
    PROJECT_SETUP,
    DUB,
    DUB_ALT_FORMAT,
    TTS,
    TRANSLATED_TTS,
    TRANSLATION,
    TRANSCRIPTION,
    SUBTITLES,
    TEXT_TO_SOUND,
    TEXT_TO_VOICE,
    AUDIO_SEPARATION,
    TRANSLATED_STORY,
)

__all__ = [
    "AUDIO_SEPARATION",
    "DUB",
    "DUB_ALT_FORMAT",
    "FAMILIES",
    "PROJECT_SETUP",
    "STORY",
    "SUBTITLES",
    "TEXT_TO_SOUND",
    "TEXT_TO_VOICE",
    "TRANSCRIPTION",
    "TRANSLATED_STORY",
    "TRANSLATED_TTS",
    "TRANSLATION",
    "TTS",
    "BodyKind",
    "Family",
    "Field",
    "FieldType",
    "Result",
]
