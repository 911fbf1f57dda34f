"""PROTOTYPE (not part of mockcamb): an asyncio front for the emulator, to measure a fix.

Status GETs (``/apis/story/<id>``, ``/apis/project-setup/<id>``) are answered on the event
loop straight from :meth:`Emulator.status`; an injected delay is ``await asyncio.sleep`` and
holds no thread. Every other request goes to the unchanged Flask app through a small thread
pool (a minimal WSGI gateway). Used by ``benchmarks/run.py --only proposal`` to show what the
targets of issue 6 would look like with such a front; run it by hand with

    python benchmarks/proto_async_server.py --port 8080 [--config FILE] [--api-key K]

Limits (it is a prototype): HTTP/1.1 with Content-Length bodies only (chunked requests get
411), no TLS, no pipelining beyond sequential keep-alive.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from flask import Flask

from mockcamb.app import MAX_BODY, create_app
from mockcamb.emulator import Emulator, Reply

MAX_HEAD = 64 * 1024
_FAST = {b"/apis/story/": "story", b"/apis/project-setup/": "project-setup"}


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Status"


def _head(code: int, headers: Iterable[tuple[str, str]], length: int, close: bool) -> bytes:
    lines = [f"HTTP/1.1 {code} {_phrase(code)}", "Server: mockcamb"]
    lines += [f"{k}: {v}" for k, v in headers if k.lower() not in ("content-length", "connection")]
    lines.append(f"Content-Length: {length}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class AsyncFront:
    """Serve ``app`` (whose emulator is ``emu``) on an asyncio loop."""

    def __init__(self, app: Flask, emu: Emulator, threads: int = 16) -> None:
        self.app = app
        self.emu = emu
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="mockcamb-wsgi")

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                except asyncio.LimitOverrunError:
                    writer.write(_error(431, "request header too large"))
                    return
                lines = head[:-4].split(b"\r\n")
                try:
                    method_b, target, version = lines[0].split(b" ")
                    headers = []
                    for raw in lines[1:]:
                        name, _, value = raw.partition(b":")
                        headers.append(
                            (name.strip().decode("latin-1"), value.strip().decode("latin-1"))
                        )
                except ValueError:
                    writer.write(_error(400, "malformed request line or header"))
                    return
                hmap = {k.lower(): v for k, v in headers}
                if "chunked" in hmap.get("transfer-encoding", "").lower():
                    writer.write(_error(411, "send a Content-Length"))
                    return
                length_s = hmap.get("content-length", "0") or "0"
                if not length_s.isdigit() or int(length_s) > MAX_BODY:
                    writer.write(_error(413 if length_s.isdigit() else 400, "bad body length"))
                    return
                body = await reader.readexactly(int(length_s)) if int(length_s) else b""
                close = version == b"HTTP/1.0" or hmap.get("connection", "").lower() == "close"
                path_b, _, query_b = target.partition(b"?")
                fast = None
                if method_b == b"GET":
                    for prefix, kind in _FAST.items():
                        if path_b.startswith(prefix) and len(path_b) > len(prefix):
                            fast = kind, path_b[len(prefix) :]
                            break
                if fast is not None:
                    kind, raw_id = fast
                    task_id = unquote(raw_id.decode("latin-1"), errors="surrogateescape")
                    reply = self.emu.status(
                        kind,
                        task_id,
                        hmap.get("x-api-key"),
                        path=path_b.decode("latin-1"),
                        headers=headers,
                    )
                    if reply.delay > 0:
                        await asyncio.sleep(reply.delay)  # holds no thread
                    if reply.drop:
                        writer.transport.abort()
                        return
                    payload = reply.payload()
                    hdrs = [("Content-Type", reply.content_type), *reply.headers.items()]
                    writer.write(_head(reply.status_code, hdrs, len(payload), close) + payload)
                else:
                    environ = _environ(method_b, path_b, query_b, headers, body, peer)
                    loop = asyncio.get_running_loop()
                    code, hdrs, payload = await loop.run_in_executor(self.pool, self._wsgi, environ)
                    writer.write(_head(code, hdrs, len(payload), close) + payload)
                await writer.drain()
                if close:
                    return
        finally:
            writer.close()

    def _wsgi(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        status: list[Any] = []

        def start_response(s: str, h: list[tuple[str, str]], exc: Any = None) -> Any:
            status[:] = [int(s.split()[0]), h]
            return None

        chunks = self.app(environ, start_response)
        try:
            payload = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return status[0], status[1], payload


def _error(code: int, detail: str) -> bytes:
    payload = Reply(code, {"detail": detail}).payload()
    return _head(code, [("Content-Type", "application/json")], len(payload), True) + payload


def _environ(
    method: bytes, path: bytes, query: bytes, headers: list[tuple[str, str]], body: bytes, peer: Any
) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": method.decode("latin-1"),
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(path.decode("latin-1"), encoding="latin-1"),
        "QUERY_STRING": query.decode("latin-1"),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "0",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": str(peer[0]),
        "REMOTE_PORT": str(peer[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in headers:
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            env["CONTENT_TYPE"] = value
        elif key != "CONTENT_LENGTH":
            env[f"HTTP_{key}"] = value
    return env


async def serve(front: AsyncFront, host: str, port: int) -> None:
    server = await asyncio.start_server(front.handle, host, port, limit=MAX_HEAD, backlog=2048)
    async with server:
        await server.serve_forever()


def main() -> None:
    from mockcamb.clock import RealClock
    from mockcamb.config import load_config, preload

    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--config")
    p.add_argument("--api-key", action="append")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    emu = Emulator(clock=RealClock())
    if args.config:
        preload(emu, load_config(args.config), where=args.config)
    if args.api_key:
        emu.configure({"api_keys": args.api_key})
    front = AsyncFront(create_app(emu), emu)
    asyncio.run(serve(front, args.host, args.port))


if __name__ == "__main__":
    main()
