"""The official Python SDK (camb-sdk) against a served emulator, for every task family:
its own create, status and result methods, sync (``CambAI``) and async (``AsyncCambAI``),
through SUCCESS, and an ERROR life for each. Where the SDK cannot read what the API
documents, the test pins down what it does (the README lists these)."""

from __future__ import annotations

import asyncio
import inspect
import io
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pydantic
import pytest
import soundfile
from camb.client import AsyncCambAI, CambAI

from mockcamb.core.emulator import Emulator
from mockcamb.core.families import FAMILIES
from mockcamb.serve.waitress import Server

DOC = ("story.txt", b"Once upon a time.", "text/plain")
MEDIA = ("clip.wav", b"RIFF....WAVE", "audio/wav")
Call = Callable[[Any], Awaitable[Any]]


async def call(value: Any) -> Any:
    """The SDK method's answer, sync or async alike."""
    if inspect.isawaitable(value):
        return await value
    if inspect.isasyncgen(value):
        return b"".join([chunk async for chunk in value])
    return value


async def chunks(value: Any) -> bytes:
    value = await call(value)
    return value if isinstance(value, bytes) else b"".join(value)


def task_of(created: Any) -> str:
    """The task id of a create answer (a model, or a plain dict where the SDK types it so)."""
    return str(created["task_id"] if isinstance(created, dict) else created.task_id)


async def success(status: Any) -> int:
    got = await call(status)
    assert got.status == "SUCCESS", got
    assert isinstance(got.run_id, int)
    return int(got.run_id)


async def story(sdk: Any) -> int:
    task = task_of(await call(sdk.story.create_story(file=DOC, source_language=1)))
    run = await success(sdk.story.get_story_status(task))
    info = await call(sdk.story.get_story_run_info(run))
    assert info["audio_url"].endswith("audio.wav") and info["transcript"]
    bulk = await call(sdk.story.get_stories_runs_results(run_ids=[run]))
    assert set(bulk) == {str(run)}
    return run


async def project_setup(sdk: Any) -> None:
    ps = sdk.project_setup
    created = await call(
        ps.create_project(media_url="https://x/v.mp4", source_language=1, target_languages=[76])
    )
    with pytest.raises(pydantic.ValidationError, match="list"):  # the SDK's own typing
        await call(ps.create_project_setup_task_status(created.task_id))
    result = await call(ps.get_project_setup_result(1000))
    assert result.run_id == 1000 and result.project_details.studio_url
    bulk = await call(ps.get_project_setup_runs_results(run_ids=[1000]))
    assert [r.run_id for r in bulk] == [1000]


async def dub(sdk: Any) -> int:
    task = task_of(
        await call(
            sdk.dub.create_dub(video_url="https://x/v.mp4", source_language=1, target_language=54)
        )
    )
    run = await success(sdk.dub.get_dubbing_status(task))
    info = await call(sdk.dub.get_dubbed_run_info(run))
    assert info.audio_url.endswith(".wav") and info.transcript[0].text
    assert set(await call(sdk.dub.get_dubbed_runs_results(run_ids=[run]))) == {str(run)}
    text = await call(
        sdk.dub.get_dubbed_run_transcript(run, 54, format_type="srt", data_type="raw_data")
    )
    assert text["transcript"].startswith("1\n00:00:00,000 --> ")
    return run


async def dub_alt_format(sdk: Any) -> None:
    run = await dub(sdk)
    created = await call(sdk.dub.get_dubbed_output_in_alt_format(run, 54, output_format="mp3"))
    await success(sdk.dub.get_dubbed_output_in_alt_format_status(task_of(created)))


async def tts(sdk: Any) -> None:
    t = sdk.text_to_speech
    task = task_of(await call(t.create_tts(text="hi", voice_id=1, language=1)))
    run = await success(t.get_tts_result(task))
    await success(t.get_tts_result_discord(task))
    url = await call(t.get_tts_run_info(run, output_type="file_url"))
    assert url.output_url.endswith("speech.flac")
    assert set(await call(t.get_tts_results(run_ids=[run]))) == {str(run)}
    with pytest.raises(UnicodeDecodeError):  # the SDK parses the FLAC stream as JSON
        await call(t.get_tts_run_info(run))


async def translated_tts(sdk: Any) -> None:
    t = sdk.translated_tts
    created = await call(
        t.create_translated_tts(text="hi", voice_id=1, source_language=1, target_language=54)
    )
    await success(t.get_translated_tts_task_status(created.task_id))


async def translation(sdk: Any) -> None:
    t = sdk.translation
    created = await call(
        t.create_translation(texts=["Hello"], source_language=1, target_language=54)
    )
    run = await success(t.get_translation_task_status(task_of(created)))
    assert (await call(t.get_translation_result(run))).texts
    assert set(await call(t.get_translation_results(run_ids=[run]))) == {str(run)}


async def transcription(sdk: Any) -> None:
    t = sdk.transcription
    task = task_of(await call(t.create_transcription(language=1, media_file=MEDIA)))
    run = await success(t.get_transcription_task_status(task))
    segments = await call(t.get_transcription_result(run))
    assert segments.transcript[0].text == "Once upon a time."
    export = await call(t.get_transcription_result(run, format_type="vtt", data_type="raw_data"))
    assert export.transcript.startswith("WEBVTT")
    assert set(await call(t.get_transcription_results(run_ids=[run]))) == {str(run)}


async def subtitles(sdk: Any) -> None:
    s = sdk.subtitles
    task = task_of(
        await call(
            s.create_subtitle(media_url="https://x/v.mp4", source_language=1, target_languages=[54])
        )
    )
    run = await success(s.get_subtitle_task_status(task))
    assert (await call(s.get_subtitle_result(run)))["file_url"].endswith(".txt")
    got = await call(s.get_subtitle_result_for_language(run, 54, format_type="srt"))
    assert got["file_url"].endswith("subtitles-54.srt")
    assert set(await call(s.get_subtitle_results(run_ids=[run]))) == {str(run)}


async def text_to_sound(sdk: Any) -> None:
    t = sdk.text_to_audio
    task = task_of(await call(t.create_text_to_audio(prompt="rain", duration=3)))
    run = await success(t.get_text_to_audio_status(task))
    wav = await chunks(t.get_text_to_audio_result(run))
    samples, rate = soundfile.read(io.BytesIO(wav))
    assert rate == 16_000 and len(samples) > 1000
    assert (await call(t.get_text_to_sound_results(run_ids=[run])))[str(run)].output_url


async def text_to_voice(sdk: Any) -> None:
    t = sdk.text_to_voice
    task = task_of(await call(t.create_text_to_voice(text="hi", voice_description="calm")))
    run = await success(t.get_text_to_voice_status(task))
    assert len((await call(t.get_text_to_voice_result(run))).previews) == 3


async def audio_separation(sdk: Any) -> None:
    a = sdk.audio_separation
    task = task_of(await call(a.create_audio_separation(media_file=MEDIA)))
    run = await success(a.get_audio_separation_status(task))
    info = await call(a.get_audio_separation_run_info(run))
    assert info.foreground_audio_url.endswith("foreground.wav")
    assert set(await call(a.get_audio_separation_runs_results(run_ids=[run]))) == {str(run)}


async def translated_story(sdk: Any) -> None:
    t = sdk.translated_story
    source = await story(sdk)
    created = await call(t.create_translation_for_existing_story(source, target_language=54))
    assert created.message and created.task_id
    run = await success(t.get_translated_story_status(created.task_id))
    info = await call(t.get_translated_story_run_info(run, 54))
    assert info["audio_url"].endswith("audio-54.wav")


SCRIPTS: dict[str, Callable[[Any], Awaitable[Any]]] = {
    "story": story,
    "project-setup": project_setup,
    "dub": dub,
    "dub-alt-format": dub_alt_format,
    "tts": tts,
    "translated-tts": translated_tts,
    "translation": translation,
    "transcription": transcription,
    "subtitles": subtitles,
    "text-to-sound": text_to_sound,
    "text-to-voice": text_to_voice,
    "audio-separation": audio_separation,
    "translated-story": translated_story,
}

#: The SDK's status method of each family, for the ERROR lives.
STATUS_METHODS: dict[str, tuple[str, str]] = {
    "story": ("story", "get_story_status"),
    "dub": ("dub", "get_dubbing_status"),
    "dub-alt-format": ("dub", "get_dubbed_output_in_alt_format_status"),
    "tts": ("text_to_speech", "get_tts_result"),
    "translated-tts": ("translated_tts", "get_translated_tts_task_status"),
    "translation": ("translation", "get_translation_task_status"),
    "transcription": ("transcription", "get_transcription_task_status"),
    "subtitles": ("subtitles", "get_subtitle_task_status"),
    "text-to-sound": ("text_to_audio", "get_text_to_audio_status"),
    "text-to-voice": ("text_to_voice", "get_text_to_voice_status"),
    "audio-separation": ("audio_separation", "get_audio_separation_status"),
    "translated-story": ("translated_story", "get_translated_story_status"),
}


def test_every_family_has_a_script() -> None:
    assert set(SCRIPTS) == {f.name for f in FAMILIES}
    assert set(STATUS_METHODS) == {f.name for f in FAMILIES} - {"project-setup"}


@pytest.fixture
def instant(emu: Emulator) -> Emulator:
    emu.configure({"default_scenario": {"steps": [{"status": "SUCCESS"}]}})
    return emu


@pytest.fixture
def sync_sdk(server: Server) -> Iterator[CambAI]:
    with httpx.Client(timeout=10) as http:
        yield CambAI(api_key="sdk-key", base_url=server.base_url, httpx_client=http)


def run_async(server: Server, script: Callable[[Any], Awaitable[Any]]) -> None:
    async def main() -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            sdk = AsyncCambAI(api_key="sdk-key", base_url=server.base_url, httpx_client=http)
            await script(sdk)

    asyncio.run(main())


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_the_sync_sdk_runs_a_family_to_success(
    instant: Emulator, sync_sdk: CambAI, name: str
) -> None:
    asyncio.run(SCRIPTS[name](sync_sdk))
    assert any(e["kind"] == name for e in instant.journal())


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_the_async_sdk_runs_a_family_to_success(
    instant: Emulator, server: Server, name: str
) -> None:
    run_async(server, SCRIPTS[name])
    assert any(e["kind"] == name for e in instant.journal())


@pytest.mark.parametrize("name", list(STATUS_METHODS))
def test_the_sdk_reads_an_error_life_of_every_family(
    emu: Emulator, sync_sdk: CambAI, server: Server, name: str
) -> None:
    error = {
        "steps": [
            {"status": "PENDING", "polls": 1},
            {"status": "ERROR", "message": "boom", "exception_reason": "PROCESSING_ERROR"},
        ]
    }
    emu.create_task(name, f"err-{name}", error)
    module, method = STATUS_METHODS[name]
    poll = getattr(getattr(sync_sdk, module), method)
    assert poll(f"err-{name}").status == "PENDING"
    final = poll(f"err-{name}")
    assert (final.status, final.message, final.exception_reason) == (
        "ERROR",
        "boom",
        "PROCESSING_ERROR",
    )

    async def poll_async(sdk: Any) -> None:
        got = await getattr(getattr(sdk, module), method)(f"err-{name}")
        assert got.status == "ERROR"

    run_async(server, poll_async)
