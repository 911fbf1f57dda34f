"""The Flask app of ``mockcamb serve`` behind one WSGI-to-ASGI adapter, for choosing the
adapter by measurement (``benchmarks/run.py --only adapters``).

``MOCKCAMB_ADAPTER`` picks it: ``a2wsgi`` (:class:`a2wsgi.WSGIMiddleware`, what
``mockcamb serve`` uses), ``asgiref`` (:class:`asgiref.wsgi.WsgiToAsgi`), or ``wsgi`` (no
adapter: the app as a WSGI app, served by granian's own WSGI interface, for reference).
``MOCKCAMB_BENCH_CONFIG`` is the config file to preload. Every request, status GETs too,
goes through the adapter and Flask's stack (the app's WSGI status fast path included), with
the two shims ``mockcamb serve`` puts around a2wsgi for both adapters: ``receive`` as a
coroutine, and ``wsgi.input_terminated`` (so chunked bodies are read).
Run from ``benchmarks/``:

    MOCKCAMB_ADAPTER=a2wsgi MOCKCAMB_BENCH_CONFIG=bench-config.yaml python -m granian \\
        --interface asginl --runtime-mode st --http 1 --no-ws --port PORT adapter_app:app
"""

from __future__ import annotations

import os
from typing import Any

from mockcamb.cli import build_parser
from mockcamb.http.asgi import input_terminated
from mockcamb.serve.command import build, read_config

_ARGS = build_parser(conform_options=False).parse_args(
    ["serve", "--config", os.environ["MOCKCAMB_BENCH_CONFIG"]]
)
_FLASK = build(_ARGS, read_config(_ARGS)).app
ADAPTER = os.environ.get("MOCKCAMB_ADAPTER", "a2wsgi")

_inner: Any
if ADAPTER == "a2wsgi":
    from a2wsgi import WSGIMiddleware

    _inner = WSGIMiddleware(input_terminated(_FLASK), workers=512)  # as `mockcamb serve`
elif ADAPTER == "asgiref":
    from asgiref.wsgi import WsgiToAsgi

    _inner = WsgiToAsgi(input_terminated(_FLASK))
elif ADAPTER != "wsgi":
    raise SystemExit(f"MOCKCAMB_ADAPTER: a2wsgi, asgiref or wsgi, got {ADAPTER!r}")


async def _asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    async def receive_coroutine() -> Any:  # as mockcamb.http.asgi does for a2wsgi
        return await receive()

    await _inner(scope, receive_coroutine, send)


app: Any = _FLASK if ADAPTER == "wsgi" else _asgi
