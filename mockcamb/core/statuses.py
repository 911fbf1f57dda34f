"""The status vocabulary of CAMB.AI tasks (an open set: any other string is allowed)."""

from __future__ import annotations

from typing import Final

PENDING: Final = "PENDING"
SUCCESS: Final = "SUCCESS"
FAILED: Final = "FAILED"
ERROR: Final = "ERROR"
TIMEOUT: Final = "TIMEOUT"
PAYMENT_REQUIRED: Final = "PAYMENT_REQUIRED"

#: Statuses after which a task never changes again.
FINAL_STATUSES: Final = frozenset({SUCCESS, FAILED, ERROR, TIMEOUT, PAYMENT_REQUIRED})
#: Every status CAMB's documentation names.
DOCUMENTED_STATUSES: Final = (PENDING, SUCCESS, FAILED, ERROR, TIMEOUT, PAYMENT_REQUIRED)
#: Final statuses other than SUCCESS.
FAILURE_STATUSES: Final = (FAILED, ERROR, TIMEOUT, PAYMENT_REQUIRED)

#: ``exception_reason`` values the official SDK knows.
EXCEPTION_REASONS: Final = (
    "HARMFUL_CONTENT_DETECTED",
    "VOICE_CONVERSION_ERROR",
    "PROCESSING_ERROR",
    "SOURCE_TOO_LONG",
    "SOURCE_TOO_LARGE",
    "SOURCE_TYPE_NOT_SUPPORTED",
    "ERROR_DOWNLOADING_SOURCE",
    "TOO_MANY_GDRIVE_REQUESTS",
    "SOURCE_BLOCKED_IN_REGION",
    "SOURCE_IS_AGE_RESTRICTED",
    "SOURCE_NOT_FOUND",
    "MISMATCHED_SOURCE_CODEC",
    "CONTENT_DOES_NOT_MATCH_EXTENSION",
    "INVALID_SOURCE_DATA",
    "VIDEO_DOES_NOT_HAVE_AUDIO_STREAMS",
    "MASTERING_OUT_OF_RANGE",
    "INVALID_AUDIO_TRACKS_SELECTION",
    "PAYMENT_REQUIRED",
    "FORBIDDEN",
    "INTERNAL_ERROR",
    "NONE",
)


def is_final(status: str) -> bool:
    """True for the documented final statuses; custom strings count as still running."""
    return status in FINAL_STATUSES
