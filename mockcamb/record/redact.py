"""Secrets never reach a recording: secret headers, secret query parameters, and every
occurrence of a key the client sent, wherever it appears (path, query, bodies, headers).
Which names are secret: :mod:`mockcamb.core.redaction`, shared with the journal."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from ..core.redaction import MIN_SECRET_LENGTH, REDACTED, is_secret_name

_URL = re.compile(r"https?://[^\s\"'<>]+")


def secret_values(headers: Iterable[tuple[str, str]]) -> list[str]:
    """The secrets a request carries in its headers (the key itself, a bearer token, the
    password of basic auth, cookie values): what must be searched for and removed elsewhere."""
    found: set[str] = set()
    for name, value in headers:
        if not is_secret_name(name):
            continue
        value = value.strip()
        found.add(value)
        low = name.lower()
        if low in ("authorization", "proxy-authorization") and " " in value:
            scheme, _, credential = value.partition(" ")
            found.add(credential.strip())
            if scheme.lower() == "basic":
                try:
                    user_pass = base64.b64decode(credential.strip(), validate=True).decode()
                except (binascii.Error, UnicodeDecodeError):
                    user_pass = ""
                found.update(part for part in user_pass.split(":", 1) if part)
        if low in ("cookie", "set-cookie"):
            for item in value.split(";"):
                _, _, cookie = item.partition("=")
                found.add(cookie.strip())
    return sorted((v for v in found if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)


class Redactor:
    """Removes a fixed set of secret values (and their URL-encoded forms) from text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if len(secret) >= MIN_SECRET_LENGTH:
                forms.update({secret, quote(secret, safe=""), quote_plus(secret)})
        self._forms = sorted(forms, key=len, reverse=True)

    def text(self, text: str) -> str:
        """``text`` with every secret value, and every secret query parameter of every URL
        in it, replaced by ``[redacted]``."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        if "://" in text:
            text = _URL.sub(lambda m: redact_query(m.group(0)), text)
        return text

    def bytes(self, data: bytes) -> bytes:
        """Binary data with every secret value replaced."""
        for form in self._forms:
            data = data.replace(form.encode("utf-8", "surrogatepass"), REDACTED.encode())
        return data

    def path(self, path: str) -> str:
        """A request target (path and query): secret values and secret query parameters go."""
        return redact_query(self.text(path))

    def value(self, value: Any) -> Any:
        """A JSON value with every string (keys too) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        return value

    def headers(self, headers: Iterable[tuple[str, str]], limit: int = 64) -> dict[str, str]:
        """Headers as a recording keeps them: lower-cased names, secret ones redacted,
        the others searched for secret values; at most ``limit`` of them, 1 KiB each."""
        out: dict[str, str] = {}
        for name, value in headers:
            low = name.lower()
            if low not in out and len(out) >= limit:
                continue
            clean = REDACTED if is_secret_name(low) else self.text(value)[:1024]
            out[low] = f"{out[low]}, {clean}" if low in out else clean
        return out


def redact_query(url: str) -> str:
    """``url`` (or a path with a query) with the values of secret-looking query parameters,
    and any ``user:password@``, replaced by ``[redacted]``; everything else is kept as is."""
    if "://" in url and "@" in url.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = url.split("://", 1)
        host_part, sep, tail = rest.partition("/")
        url = f"{scheme}://{REDACTED}@{host_part.rsplit('@', 1)[1]}{sep}{tail}"
    base, sep, query = url.partition("?")
    if not sep:
        return url
    query, hash_sep, fragment = query.partition("#")
    items = []
    for item in query.split("&"):
        name, eq, _ = item.partition("=")
        items.append(f"{name}={REDACTED}" if eq and is_secret_name(name) else item)
    return f"{base}?{'&'.join(items)}{hash_sep}{fragment}"


__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "Redactor",
    "is_secret_name",
    "redact_query",
    "secret_values",
]
