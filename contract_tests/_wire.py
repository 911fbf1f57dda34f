"""HTTP/1.1 answers read off the socket as the HTTP specification (RFC 9110, RFC 9112) tells a
client to read them: every field line kept (duplicates included), the body framed by
Transfer-Encoding or Content-Length and held to it, content codings undone.

:mod:`http.client` (under ``requests``) is lenient where httpx (h11) and the specification are
not: it skips the two bytes after a chunk without looking at them, and loses the bytes that
follow a body longer than its Content-Length. So the suite reads answers itself. Whatever a
real client would refuse is a :class:`TransportError` naming the rule; whatever it would
misread is a :class:`Defect` on an answer that is otherwise complete.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import zlib
from dataclasses import dataclass

#: What the suite asks for, as ``requests`` and httpx do by default.
ACCEPT_ENCODING = "gzip, deflate"
MAX_HEAD = 64 * 1024
MAX_FIELDS = 200
MAX_BODY = 16 * 1024 * 1024

_STATUS_LINE = re.compile(rb"HTTP/(\d)\.(\d) (\d{3})(?: ([^\r\n]*))?")
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_FIELD_NAME = re.compile(_TOKEN)
_QUOTED = rb'"(?:[^"\\\r\n]|\\.)*"'
_EXT_VALUE = rb"(?:" + _TOKEN + rb"|" + _QUOTED + rb")"
_CHUNK_EXT = rb"(?:[ \t]*;[ \t]*" + _TOKEN + rb"(?:[ \t]*=[ \t]*" + _EXT_VALUE + rb")?)*"
_CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})(" + _CHUNK_EXT + rb")[ \t]*\r\n")
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Defect:
    """A rule an answer breaks though it arrived whole: what a real client would misread."""

    rule: str
    problem: str
    fix: str


class TransportError(Exception):
    """No usable HTTP answer (refused, reset, dropped mid-body, timeout, broken framing).

    ``rule`` is the contract rule the answer broke: ``transport`` when the connection failed,
    ``content-length`` or ``chunked-framing`` when the server framed its body wrongly."""

    def __init__(
        self, message: str, rule: str = "transport", fix: str = "", detail: str = ""
    ) -> None:
        super().__init__(message)
        self.rule = rule
        self.fix = fix
        #: What went wrong, without the request it happened to.
        self.detail = detail or message


class NoAnswer(TransportError):
    """The connection closed (or reset) before the first byte of an answer."""


@dataclass
class Answer:
    """What came off the wire for one request."""

    version: tuple[int, int]
    status: int
    reason: str
    fields: list[tuple[str, str]]
    body: bytes  # after transfer framing, before content codings
    defects: list[Defect]
    keep_alive: bool


def field_values(fields: list[tuple[str, str]], name: str) -> list[str]:
    """Every value of the field ``name`` (case-insensitive), one per field line."""
    name = name.lower()
    return [value for key, value in fields if key.lower() == name]


def _list(values: list[str]) -> list[str]:
    """The elements of a comma-separated list field, lower case, empty ones dropped."""
    return [item.strip().lower() for value in values for item in value.split(",") if item.strip()]


def _framing(problem: str) -> TransportError:
    return TransportError(
        problem,
        "chunked-framing",
        "end every chunk's data with CRLF, give each chunk its exact size in hex, and finish "
        "with a zero-size chunk and an empty line (or let the server framework do the framing)",
    )


def _length(problem: str) -> TransportError:
    return TransportError(
        problem,
        "content-length",
        "send one Content-Length, the number of bytes of the body as sent (after any content "
        "coding; len() of the encoded bytes, not of the text)",
    )


class Wire:
    """One connection: requests go out as given, answers are read strictly."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.timeout = timeout
        self.uses = 0
        self.closed = False
        self._buf = bytearray()

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.close()

    def send(self, data: bytes) -> None:
        self.uses += 1
        self.sock.sendall(data)

    # --- bytes -----------------------------------------------------------------------------

    def _more(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self._buf += data
        return True

    def _raw_line(self, limit: int) -> bytes | None:
        """The next line with its terminator; what is left at end of stream (maybe b"")."""
        start = 0
        while True:
            at = self._buf.find(b"\n", start)
            if at >= 0:
                line = bytes(self._buf[: at + 1])
                del self._buf[: at + 1]
                return line
            if len(self._buf) > limit:
                raise TransportError(f"a line of the answer's head is longer than {limit} bytes")
            start = len(self._buf)
            if not self._more():
                line = bytes(self._buf)
                self._buf.clear()
                return line if line else None

    def _take(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or fewer if the stream ends first."""
        while len(self._buf) < n and self._more():
            pass
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def _until_close(self) -> bytes:
        while self._more():
            if len(self._buf) > MAX_BODY:
                raise TransportError(f"the body is longer than {MAX_BODY} bytes")
        data = bytes(self._buf)
        self._buf.clear()
        self.closed = True
        return data

    def _surplus(self) -> int:
        """How many bytes already follow the answer: none, on a server that framed it right."""
        if self._buf:
            return len(self._buf)
        try:
            self.sock.setblocking(False)
            data = self.sock.recv(65536)
        except (BlockingIOError, ssl.SSLWantReadError, InterruptedError):
            return 0
        except OSError:
            self.closed = True
            return 0
        finally:
            self.sock.settimeout(self.timeout)
        if not data:
            self.closed = True
        return len(data)

    # --- the answer -------------------------------------------------------------------------

    def read_answer(self) -> Answer:
        """Read one answer (skipping interim 1xx answers)."""
        while True:
            version, status, reason = self._status_line()
            fields = self._fields()
            if 100 <= status < 200 and status != 101:
                continue
            if status == 101:
                raise TransportError("answered 101 Switching Protocols to a plain GET")
            return self._body(version, status, reason, fields)

    def _status_line(self) -> tuple[tuple[int, int], int, str]:
        try:
            line = self._raw_line(MAX_HEAD)
        except ConnectionResetError:
            raise NoAnswer("the server reset the connection without answering") from None
        if line is None:
            raise NoAnswer("the server closed the connection without answering")
        if not line.endswith(b"\n"):
            raise TransportError(
                f"the connection closed in the middle of the status line {line[:80]!r}"
            )
        text = line.rstrip(b"\r\n")
        match = _STATUS_LINE.fullmatch(text)
        if match is None:
            hint = ""
            if self.uses > 1:
                hint = (
                    " (on a kept-alive connection: maybe bytes the previous answer sent beyond "
                    "its Content-Length or last chunk)"
                )
            raise TransportError(
                f"the answer does not start with a status line: {text[:80]!r}{hint}"
            )
        version = (int(match[1]), int(match[2]))
        return version, int(match[3]), (match[4] or b"").decode("latin-1").strip()

    def _fields(self) -> list[tuple[str, str]]:
        fields: list[tuple[str, str]] = []
        size = 0
        while True:
            line = self._raw_line(MAX_HEAD)
            if line is None or not line.endswith(b"\n"):
                raise TransportError("the connection closed in the middle of the answer's head")
            size += len(line)
            if size > MAX_HEAD or len(fields) > MAX_FIELDS:
                raise TransportError(f"the answer's head is longer than {MAX_HEAD} bytes")
            text = line.rstrip(b"\r\n")
            if not text:
                return fields
            if text[:1] in (b" ", b"\t"):
                if not fields:
                    raise TransportError(f"the first field line starts with whitespace: {text!r}")
                # obs-fold: RFC 9112 5.2 has a user agent replace it with a space
                name, value = fields[-1]
                fields[-1] = (name, f"{value} {text.strip().decode('latin-1')}")
                continue
            name, sep, value = text.partition(b":")
            if not sep or not _FIELD_NAME.fullmatch(name):
                raise TransportError(f"a field line of the answer is malformed: {text[:80]!r}")
            fields.append((name.decode("ascii"), value.strip(b" \t").decode("latin-1")))

    def _body(
        self, version: tuple[int, int], status: int, reason: str, fields: list[tuple[str, str]]
    ) -> Answer:
        defects: list[Defect] = []
        tokens = _list(field_values(fields, "connection"))
        keep = "close" not in tokens if version >= (1, 1) else "keep-alive" in tokens
        te = _list(field_values(fields, "transfer-encoding"))
        lengths = field_values(fields, "content-length")
        rule = "content-length"
        if status in (204, 304):
            body = b""
        elif te:
            if lengths:
                defects.append(
                    Defect(
                        "content-length",
                        f"the answer has both Transfer-Encoding: {', '.join(te)} and "
                        f"Content-Length: {', '.join(lengths)} (RFC 9112 6.2: a sender must not "
                        "send both; clients differ in which one they believe)",
                        "drop the Content-Length from a chunked answer",
                    )
                )
            if te[-1] == "chunked" and te.count("chunked") == 1:
                body = self._chunked()
                rule = "chunked-framing"
                others = [c for c in te[:-1] if c != "identity"]
                if others:
                    defects.append(
                        Defect(
                            "chunked-framing",
                            f"Transfer-Encoding {', '.join(te)}: requests and httpx undo no "
                            f"transfer coding but chunked, so they hand over {others[0]} data",
                            "use Content-Encoding for compression, Transfer-Encoding only for "
                            "chunked",
                        )
                    )
            else:
                raise _framing(
                    f"Transfer-Encoding: {', '.join(te)} does not end with one 'chunked' "
                    "(RFC 9112 6.1): the client cannot tell where the body ends"
                )
        elif lengths:
            body = self._counted(lengths, defects)
        else:
            body = self._until_close()
            keep = False
        if keep and not self.closed:
            extra = self._surplus()
            if extra:
                keep = False
                if rule == "chunked-framing":
                    defects.append(
                        Defect(
                            rule,
                            f"{extra} more bytes followed the last chunk: they will be read "
                            "as the start of the next answer on this connection",
                            "send nothing after the zero-size chunk and the empty line",
                        )
                    )
                else:
                    declared = field_values(fields, "content-length")[0]
                    defects.append(
                        Defect(
                            rule,
                            f"the body is longer than its Content-Length: {declared}: at least "
                            f"{extra} more bytes followed it, which clients cut off (so the "
                            "JSON is truncated) or read as the next answer",
                            "set Content-Length to the number of bytes of the body as sent "
                            "(len() of the encoded bytes, not of the text)",
                        )
                    )
        else:
            keep = False
        return Answer(version, status, reason, fields, body, defects, keep)

    def _counted(self, lengths: list[str], defects: list[Defect]) -> bytes:
        values = [v.strip() for value in lengths for v in value.split(",")]
        if not all(v.isdigit() and v.isascii() for v in values):
            raise _length(f"Content-Length {', '.join(lengths)!r} is not a number of bytes")
        if len({int(v) for v in values}) > 1:
            raise _length(
                f"Content-Length is given {len(values)} times with different values "
                f"({', '.join(values)}): RFC 9112 6.3 makes that an unrecoverable error"
            )
        if len(values) > 1:
            defects.append(
                Defect(
                    "content-length",
                    f"Content-Length is given {len(values)} times ({', '.join(values)}): a "
                    "client may refuse the answer (RFC 9110 8.6)",
                    "send Content-Length once",
                )
            )
        n = int(values[0])
        if n > MAX_BODY:
            raise _length(f"Content-Length {n} is beyond the suite's limit of {MAX_BODY} bytes")
        body = self._take(n)
        if len(body) < n:
            self.closed = True
            raise _length(
                f"the connection closed after {len(body)} of the {n} bytes Content-Length "
                "declares (requests and httpx raise an incomplete-read error)"
            )
        return body

    def _chunked(self) -> bytes:
        out = bytearray()
        while True:
            line = self._raw_line(MAX_HEAD)
            if line is None or not line.endswith(b"\n"):
                raise _framing(
                    "the connection closed before the last chunk (a chunk of size 0): the "
                    "body is incomplete"
                )
            match = _CHUNK_LINE.fullmatch(line)
            if match is None:
                raise _framing(f"{line[:40]!r} is not a chunk-size line (hex size, CRLF)")
            size = int(match[1], 16)
            if size == 0:
                break
            if len(out) + size > MAX_BODY:
                raise _framing(f"the chunked body is longer than {MAX_BODY} bytes")
            data = self._take(size)
            out += data
            if len(data) < size:
                raise _framing(
                    f"the connection closed inside a chunk: {len(data)} of its {size} bytes"
                )
            end = self._take(2)
            if end != b"\r\n":
                raise _framing(
                    f"a chunk of {size} bytes is followed by {end!r}, not CRLF: its size does "
                    "not match its data (httpx refuses the answer; requests drops two bytes "
                    "unread)"
                )
        while True:  # the trailer section, then the empty line that ends the message
            line = self._raw_line(MAX_HEAD)
            if line is None or not line.endswith(b"\n"):
                raise _framing(
                    "the connection closed after the last chunk, before the empty line that "
                    "ends a chunked body"
                )
            if line in (b"\r\n", b"\n"):
                return bytes(out)
            name, sep, _ = line.partition(b":")
            if not sep or not _FIELD_NAME.fullmatch(name):
                raise _framing(f"{line[:40]!r} after the last chunk is not a trailer field")


# --- content codings ----------------------------------------------------------------------


def _inflate(data: bytes, wbits: int) -> bytes:
    """Undo gzip (every member) or zlib/deflate, bounded by :data:`MAX_BODY`."""
    out = bytearray()
    while data:
        d = zlib.decompressobj(wbits)
        out += d.decompress(data, MAX_BODY - len(out) + 1)
        if len(out) > MAX_BODY or d.unconsumed_tail:
            raise ValueError(f"decodes to more than {MAX_BODY} bytes")
        if not d.eof:
            raise ValueError("the compressed data ends early")
        data = d.unused_data if wbits > 16 else b""
    return bytes(out)


def decode_content(fields: list[tuple[str, str]], wire: bytes) -> tuple[bytes, list[Defect]]:
    """The body a client hands its caller: ``wire`` with its content codings undone."""
    codings = _list(field_values(fields, "content-encoding"))
    if not codings:
        if wire[:2] == _GZIP_MAGIC:
            return wire, [
                Defect(
                    "content-encoding",
                    "the body is gzip data but the answer has no Content-Encoding, so "
                    "requests, httpx and the SDKs hand it over compressed",
                    "send 'Content-Encoding: gzip' with a compressed body, or do not compress",
                )
            ]
        return wire, []
    body = wire
    for coding in reversed(codings):
        if coding == "identity" or not body:
            continue
        try:
            if coding in ("gzip", "x-gzip"):
                body = _inflate(body, 16 + zlib.MAX_WBITS)
            elif coding == "deflate":
                try:
                    body = _inflate(body, zlib.MAX_WBITS)
                except (ValueError, zlib.error):
                    body = _inflate(body, -zlib.MAX_WBITS)  # raw deflate, as urllib3 accepts
            else:
                return wire, [
                    Defect(
                        "content-encoding",
                        f"Content-Encoding: {coding} is not one the request accepted "
                        f"(Accept-Encoding: {ACCEPT_ENCODING}, as requests and httpx send)",
                        "use only a content coding the request's Accept-Encoding lists",
                    )
                ]
        except (ValueError, zlib.error) as exc:
            return wire, [
                Defect(
                    "content-encoding",
                    f"Content-Encoding says {coding} but the body does not decode as {coding} "
                    f"({exc}): requests raises ContentDecodingError, httpx DecodingError",
                    "compress the body with the coding you declare, or drop the header",
                )
            ]
    return body, []
