"""Small, valid media files for result links and audio results: WAV and FLAC tones, a JSON
dialogue, subtitles in SRT, WebVTT and plain text. Everything is made with the standard
library (the FLAC encoder writes verbatim subframes, which every decoder reads) and is a
pure function of its inputs, so the same run always gets the same bytes."""

from __future__ import annotations

import io
import json
import math
import struct
import wave
from collections.abc import Sequence
from typing import Final

RATE: Final = 16_000
#: Seconds of audio in every generated file.
SECONDS: Final = 0.5
BLOCK: Final = 4096

Segment = tuple[float, float, str, str]  # start, end, text, speaker

#: The transcript every generated run has (two lines, like a short story).
SEGMENTS: Final[tuple[Segment, ...]] = (
    (0.0, 2.5, "Once upon a time.", "Narrator"),
    (2.5, 5.0, "The end.", "Narrator"),
)


def tone(seed: int, seconds: float = SECONDS, rate: int = RATE) -> list[int]:
    """16-bit mono samples of a soft sine tone whose pitch depends on ``seed``."""
    pitch = 220.0 + (seed % 24) * 20.0
    n = int(seconds * rate)
    fade = max(1, n // 20)
    out = []
    for i in range(n):
        envelope = min(1.0, i / fade, (n - 1 - i) / fade)
        out.append(int(8000 * envelope * math.sin(2 * math.pi * pitch * i / rate)))
    return out


def wav(samples: Sequence[int], rate: int = RATE) -> bytes:
    """A mono 16-bit PCM WAV file."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return buf.getvalue()


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def _utf8_number(n: int) -> bytes:
    """FLAC's frame number coding (UTF-8 style, as in the specification)."""
    return chr(n).encode("utf-8")


def _frame(number: int, block: Sequence[int]) -> bytes:
    # sync (14 bits) + reserved + fixed blocking; block size code 7 (16-bit size at the
    # end of the header); sample rate code 0 (from STREAMINFO); mono; 16 bits per sample.
    header = bytes([0xFF, 0xF8, 0x70, 0x08]) + _utf8_number(number)
    header += struct.pack(">H", len(block) - 1)
    header += bytes([_crc8(header)])
    subframe = bytes([0b0000_0010])  # zero pad bit, VERBATIM type, no wasted bits
    body = header + subframe + struct.pack(f">{len(block)}h", *block)
    return body + struct.pack(">H", _crc16(body))


def flac(samples: Sequence[int], rate: int = RATE) -> bytes:
    """A mono 16-bit FLAC file (verbatim subframes: uncompressed, valid and playable)."""
    blocks = [samples[i : i + BLOCK] for i in range(0, len(samples), BLOCK)] or [[0]]
    frames = [_frame(i, b) for i, b in enumerate(blocks)]
    min_block = BLOCK if len(blocks) > 1 else len(blocks[0])
    info = struct.pack(">HH", min_block, BLOCK)
    info += struct.pack(">I", min(len(f) for f in frames))[1:]
    info += struct.pack(">I", max(len(f) for f in frames))[1:]
    # 20 bits rate, 3 bits channels-1, 5 bits bits-per-sample-1, 36 bits total samples
    packed = (rate << 44) | (0 << 41) | (15 << 36) | len(samples)
    info += packed.to_bytes(8, "big") + bytes(16)  # MD5 unknown: all zeros is allowed
    streaminfo = bytes([0x80]) + len(info).to_bytes(3, "big") + info  # last metadata block
    return b"fLaC" + streaminfo + b"".join(frames)


def _clock(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def subtitles(fmt: str, segments: Sequence[Segment] = SEGMENTS) -> str:
    """The transcript as ``srt``, ``vtt`` or ``txt``."""
    if fmt == "txt":
        return "\n".join(text for _, _, text, _ in segments) + "\n"
    sep = "," if fmt == "srt" else "."
    cues = [
        f"{i}\n{_clock(a, sep)} --> {_clock(b, sep)}\n{text}\n"
        for i, (a, b, text, _) in enumerate(segments, 1)
    ]
    body = "\n".join(cues)
    return body if fmt == "srt" else "WEBVTT\n\n" + body


def dialogue(segments: Sequence[Segment] = SEGMENTS) -> bytes:
    """The dialogue of a story as JSON: the transcript lines."""
    lines = [{"start": a, "end": b, "text": t, "speaker": s} for a, b, t, s in segments]
    return json.dumps({"dialogue": lines}, separators=(",", ":")).encode()


#: Content types of the files a result may link to, by file extension.
CONTENT_TYPES: Final[dict[str, str]] = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "json": "application/json",
    "srt": "application/x-subrip",
    "vtt": "text/vtt; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}


def file_bytes(name: str, seed: int) -> tuple[bytes, str] | None:
    """The bytes and content type of a result file called ``name`` (``audio.wav``,
    ``speech.flac``, ``dialogue.json``, ``transcript.srt``...), or ``None`` for a name
    whose type no result links to."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or "/" in name or ext not in CONTENT_TYPES:
        return None
    if ext == "wav":
        data = wav(tone(seed + len(stem)))
    elif ext == "flac":
        data = flac(tone(seed + len(stem)))
    elif ext == "json":
        data = dialogue()
    else:
        data = subtitles(ext).encode()
    return data, CONTENT_TYPES[ext]


__all__ = [
    "CONTENT_TYPES",
    "SEGMENTS",
    "dialogue",
    "file_bytes",
    "flac",
    "subtitles",
    "tone",
    "wav",
]
