"""Which names carry secrets, and how a request target loses the secrets in it: the one list
the journal (:mod:`.journal`) and recordings (:mod:`mockcamb.record.redact`) share.

A header is secret when its name, lower-cased and with underscores read as dashes (as the
servers mockcamb runs on read them: ``x_api_key`` is ``HTTP_X_API_KEY``, the key), is one of
:data:`SECRET_HEADERS` or ends in a word that says so (``api-key``, ``x-auth-token``...);
recordings of another service redact more widely, any name :data:`SECRET_NAME` matches. A
request target (path and query) is scrubbed of the API keys it carries: a path segment or a
query value that is an accepted key (or the key this request sent), any longer secret
wherever it appears, and the values of secret-named query parameters.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Container, Iterable, Sequence
from typing import Final
from urllib.parse import quote, quote_plus, unquote_plus

REDACTED: Final = "[redacted]"
#: Headers that always carry credentials: every name the API's and the admin API's auth
#: reads (``x-api-key``, ``x-admin-token``, ``authorization``), and the usual others.
SECRET_HEADERS: Final = frozenset(
    {
        "x-api-key",
        "api-key",
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-admin-token",
        "x-amz-security-token",
    }
)
#: How the name of a secret header ends (after normalising, see :func:`is_secret_header`).
SECRET_HEADER_END: Final = re.compile(r"(^|-)(api-?key|token|secret|password|passwd)$")
#: A header or query parameter of a recorded service, or a query parameter of the emulated
#: API, whose name says it holds a secret.
SECRET_NAME: Final = re.compile(
    r"key|token|secret|passw|auth|cookie|session|signature|credential|(^|-)sig($|-)",
)
#: Shorter secrets are only matched whole (a path segment, a query value), never searched for
#: inside text (they would match innocent words).
MIN_SECRET_LENGTH: Final = 6

_HEADERS: dict[str, bool] = {}


def normal_name(name: str) -> str:
    """A header name as servers compare them: lower case, underscores read as dashes."""
    return name.strip().lower().replace("_", "-")


def is_secret_header(name: str) -> bool:
    """True for a request header the journal redacts (any case, underscores or dashes):
    :data:`SECRET_HEADERS`, or a name :data:`SECRET_HEADER_END` ends."""
    known = _HEADERS.get(name)
    if known is None:
        low = normal_name(name)
        known = low in SECRET_HEADERS or SECRET_HEADER_END.search(low) is not None
        if len(_HEADERS) < 512 and len(name) <= 64:  # hostile clients send endless names
            _HEADERS[name] = known
    return known


def is_secret_name(name: str) -> bool:
    """True for any header or query parameter name that may carry a secret (a wider net
    than :func:`is_secret_header`: ``x-session-id``, ``signature``...)."""
    low = normal_name(name)
    return low in SECRET_HEADERS or SECRET_NAME.search(low) is not None


def credentials(value: str) -> tuple[str, ...]:
    """The secrets in a secret header's value: the value, and the credential after a scheme
    such as ``Bearer``."""
    value = value.strip()
    _, sep, credential = value.partition(" ")
    credential = credential.strip()
    if sep and credential:
        return value, credential
    return (value,) if value else ()


def _secret_test(keys: Container[str] | None, sent: Iterable[str]) -> Callable[[str], bool]:
    """Whether a whole token (URL-decoded) is an accepted key or a secret ``sent``."""
    whole = frozenset(s for s in sent if s)

    def secret(token: str) -> bool:
        if not token:
            return False
        plain = unquote_plus(token) if "%" in token or "+" in token else token
        return plain in whole or (keys is not None and plain in keys)

    return secret


def _without_sent(text: str, sent: Iterable[str]) -> str:
    """``text`` without any secret ``sent`` of :data:`MIN_SECRET_LENGTH` or more characters
    (nor its URL-encoded forms), wherever it appears."""
    for value in sorted((s for s in sent if len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True):
        for form in _forms(value):
            if form in text:
                text = text.replace(form, REDACTED)
    return text


@functools.lru_cache(maxsize=64)
def _forms(value: str) -> tuple[str, ...]:
    """``value`` and its URL-encoded forms, each once (every request computed them anew)."""
    return tuple(dict.fromkeys((value, quote(value, safe=""), quote_plus(value))))


def scrub_target(target: str, keys: Container[str] | None, sent: Sequence[str] = ()) -> str:
    """``target`` (a path with its query) without the API keys in it: each path segment or
    query value that is in ``keys`` (the accepted keys, plain or as a digest set that hashes
    what it is asked about) or is one of the secrets ``sent`` with the request, every
    occurrence of a sent secret of :data:`MIN_SECRET_LENGTH` characters or more (and its
    URL-encoded forms), and the value of every secret-named query parameter."""
    if any(len(value) >= MIN_SECRET_LENGTH for value in sent):
        target = _without_sent(target, sent)
    path, sep, query = target.partition("?")
    segments = path.split("/")
    hit = False
    if "%" in path or "+" in path:
        secret = _secret_test(keys, sent)
        hit = any(secret(s) for s in segments)
    else:  # every status poll: plain segments, tested as they are
        for s in segments:
            if s and (s in sent or (keys is not None and s in keys)):
                hit = True
                break
        secret = _secret_test(keys, sent) if hit or sep else _never
    if hit:
        path = "/".join(REDACTED if secret(s) else s for s in segments)
    if sep:
        query = _scrub_query(query, secret)
    return path + sep + query


def _never(token: str) -> bool:
    return False


#: A word of free text, as :func:`scrub_text` tests it.
_TOKEN = re.compile(r"[^\s/'\"?&=,;:()\[\]{}]+")


def scrub_text(text: str, keys: Container[str] | None, sent: Sequence[str] = ()) -> str:
    """Free text (a 404's hint) without the API keys in it: as :func:`scrub_target`, each
    word between spaces, quotes and URL punctuation tested whole."""
    secret = _secret_test(keys, sent)
    return _TOKEN.sub(
        lambda m: REDACTED if secret(m.group()) else m.group(), _without_sent(text, sent)
    )


def _scrub_query(query: str, secret: Callable[[str], bool]) -> str:
    items = []
    for item in query.split("&"):
        name, eq, value = item.partition("=")
        if (eq and is_secret_name(unquote_plus(name))) or secret(value or name):
            items.append(f"{name}={REDACTED}" if eq else REDACTED)
        else:
            items.append(item)
    return "&".join(items)


__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "SECRET_HEADERS",
    "SECRET_HEADER_END",
    "SECRET_NAME",
    "credentials",
    "is_secret_header",
    "is_secret_name",
    "normal_name",
    "scrub_target",
    "scrub_text",
]
