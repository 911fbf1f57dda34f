"""Stateless, reproducible randomness: every draw is a pure function of its keys.

A draw depends only on (seed, task, request number, purpose), never on the order in which
other tasks were polled, so a run replays exactly and any worker can compute it.
"""

from __future__ import annotations

import zlib

_MASK = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64 finaliser."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def key_of(text: str) -> int:
    """A stable 32-bit key for a string (unlike ``hash``, the same in every process)."""
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


def bits64(*keys: int) -> int:
    """64 random bits determined by ``keys``."""
    x = 0
    for k in keys:
        x = _mix(x ^ (k & _MASK))
    return x


def uuid4_int(*keys: int) -> int:
    """128 random bits determined by ``keys``, with a version-4 UUID's version and variant."""
    bits = (bits64(*keys, 1) << 64) | bits64(*keys, 2)
    bits &= ~(0xF << 76)
    bits |= 0x4 << 76  # version 4
    bits &= ~(0xC << 60)
    bits |= 0x8 << 60  # variant RFC 4122
    return bits


def uniform(*keys: int) -> float:
    """A float in [0, 1) determined by ``keys``."""
    x = 0
    for k in keys:
        x = _mix(x ^ (k & _MASK))
    return (x >> 11) / float(1 << 53)
