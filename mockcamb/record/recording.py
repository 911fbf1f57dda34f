"""What ``mockcamb record`` writes: one JSON record and one scenario YAML per task.

A directory of recordings holds, for each task, ``<name>.json`` (every request and answer of
the task, secrets redacted: its create, its status polls with their times, codes, headers and
bodies, transport failures, its result fetches) and ``<name>.yaml`` (the scenario that replays
it, see :mod:`mockcamb.record.scenario`). Every file is written whole to a temporary file and
moved into place (``os.replace``), so a crash or Ctrl-C leaves each file as it was before or
as it is after, never half written. A second run in the same directory adds new tasks and
continues the ones it sees again; it never rewrites another task's files.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import json
import logging
import os
import re
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, TypeGuard
from urllib.parse import unquote

from ..core.errors import ConfigError
from .redact import Redactor, redact_query, secret_values

FORMAT = "mockcamb-recording/1"
#: Bytes of one body kept in a recording; the rest is counted, not kept.
MAX_RECORDED_BODY = 1024 * 1024
#: Status answers kept per task; later polls are counted only.
MAX_POLLS_PER_TASK = 20_000
#: Result fetches kept per task.
MAX_RESULTS_PER_TASK = 100
#: Task records kept in memory; older ones live on disk only and are read back when touched.
MAX_TASKS_IN_MEMORY = 2_000
#: Requests to ``/<family>/<id>`` that have not (yet) shown a task: kept in memory, unwritten.
MAX_CANDIDATES = 2_000
_FAMILY = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,48}$")
_VARIANTS = ("discord", "twitter")
log = logging.getLogger("mockcamb.record")


# --- routes -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Route:
    """What a request is, from its method and path: a ``status`` poll of a task, a ``create``
    (a POST that may answer ``{"task_id"}``) or a ``result`` fetch by run id."""

    kind: str
    family: str
    ident: str


def classify(method: str, path: str) -> Route | None:
    """The route of a request relative to the API base (``/story/abc``,
    ``/discord/dub/abc``, ``/dub-result/12``, ``POST /tts``), or ``None`` for anything else.
    Families come from the path, so every family the service has is recorded."""
    segs = [unquote(s) for s in path.split("?", 1)[0].split("/") if s]
    if not segs:
        return None
    method = method.upper()
    if method == "POST":
        return Route("create", segs[0], "") if _FAMILY.match(segs[0]) else None
    if method != "GET":
        return None
    head = segs[0]
    if (head.endswith("-result") and len(segs) in (2, 3)) or (
        head == "transcript" and len(segs) == 3
    ):
        return Route("result", head, segs[1])
    if len(segs) == 3 and head in _VARIANTS:
        segs = segs[1:]
    if len(segs) == 2 and _FAMILY.match(segs[0]) and not segs[0].endswith("-results"):
        return Route("status", segs[0], segs[1])
    return None


def task_name(family: str, task_id: str) -> str:
    """The file name (without suffix) of a task's recording: ``<family>-<id>``, the id made
    safe for a file name (with a hash of the real id when it had to change)."""
    if _SAFE_ID.match(task_id):
        return f"{family}-{task_id}"
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", task_id).strip("-")[:40] or "id"
    digest = hashlib.sha256(task_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{family}-{safe}-{digest}"


# --- bodies -------------------------------------------------------------------------------


def compact_json(value: Any) -> bytes:
    """JSON as the emulator writes it (no spaces)."""
    return json.dumps(value, separators=(",", ":")).encode()


def decode_content(data: bytes, encoding: str | None) -> bytes | None:
    """The body behind a ``Content-Encoding`` (gzip, deflate; br and zstd when their modules
    are installed), or ``None`` if it cannot be decoded."""
    codings = [c.strip().lower() for c in (encoding or "").split(",") if c.strip()]
    try:
        for coding in reversed(codings):
            if coding in ("gzip", "x-gzip"):
                data = gzip.decompress(data)
            elif coding == "deflate":
                try:
                    data = zlib.decompress(data)
                except zlib.error:
                    data = zlib.decompress(data, -zlib.MAX_WBITS)
            elif coding == "br":
                import brotli  # type: ignore[import-not-found]

                data = brotli.decompress(data)
            elif coding != "identity":
                return None
    except (OSError, EOFError, zlib.error, ImportError, ValueError):
        return None
    return data


def body_doc(data: bytes, truncated: bool, redactor: Redactor) -> dict[str, Any]:
    """A body as a recording keeps it: ``json`` (parsed; ``compact`` says whether the bytes
    were the compact form), ``text``, or ``base64``; with its ``size``."""
    out: dict[str, Any] = {"size": len(data)}
    if truncated:
        out["truncated"] = True
    if not truncated and data:
        try:
            value = json.loads(data)
        except (ValueError, RecursionError):
            pass
        else:
            out["json"] = redactor.value(value)
            out["compact"] = compact_json(value) == data
            return out
    try:
        out["text"] = redactor.text(data.decode("utf-8"))
    except UnicodeDecodeError:
        out["base64"] = base64.b64encode(redactor.bytes(data)).decode("ascii")
    return out


def body_bytes(doc: Mapping[str, Any] | None) -> bytes:
    """The bytes a recorded body stands for (JSON in its compact form)."""
    if not doc:
        return b""
    if "json" in doc:
        return compact_json(doc["json"])
    if "text" in doc:
        return str(doc["text"]).encode()
    if "base64" in doc:
        return base64.b64decode(doc["base64"])
    return b""


# --- files --------------------------------------------------------------------------------


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` whole or not at all: a temporary file in the same folder,
    flushed (and fsynced when ``durable``), then moved over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def read_record(path: Path) -> dict[str, Any] | None:
    """A task record from ``path``, or ``None`` if the file is not one."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return None
    if not isinstance(doc.get("family"), str) or not isinstance(doc.get("task_id"), str):
        return None
    return doc


def record_files(directory: Path) -> Iterator[Path]:
    """The task records in ``directory``, by name (temporary and hidden files skipped)."""
    for path in sorted(directory.glob("*.json")):
        if not path.name.startswith("."):
            yield path


class DirectoryLock:
    """One recorder per directory at a time (an advisory lock that dies with the process)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / ".lock"
        self._file: IO[bytes] | None = None

    def acquire(self) -> None:
        self._file = open(self.path, "ab")  # noqa: SIM115 - held until release()
        try:
            import fcntl
        except ImportError:  # pragma: no cover - no advisory locks on this platform
            return
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.close()
            self._file = None
            raise ConfigError(
                f"--out: {self.path.parent} is in use by another mockcamb record"
            ) from None

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# --- the recorder -------------------------------------------------------------------------


@dataclass(slots=True)
class Exchange:
    """One forwarded request and what came back: an answer, or a transport failure."""

    method: str
    path: str
    request_headers: list[tuple[str, str]]
    request_body: bytes | None
    sent: float
    elapsed: float
    status_code: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes = b""
    response_truncated: bool = False
    transport: str | None = None
    error: str | None = None


@dataclass(slots=True)
class _Task:
    doc: dict[str, Any]
    confirmed: bool
    version: int = 0
    written: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Each poll of ``doc["polls"]`` as its line in the record file, encoded once.
    lines: list[str] = field(default_factory=list)
    #: Names this task was written under before (a create re-filed under its status family),
    #: removed once the new files are in place.
    retired: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lines = [_line(p) for p in self.doc.get("polls") or ()]

    def serialize(self) -> bytes:
        """The record file: the task's fields, then one poll per line."""
        head = {k: v for k, v in self.doc.items() if k != "polls"}
        text = json.dumps(head, indent=1, ensure_ascii=False)[:-2]
        polls = ",\n".join(f"  {line}" for line in self.lines)
        return f'{text},\n "polls": [\n{polls}\n ]\n}}\n'.encode()


def _line(entry: Mapping[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False)


def _utc(wall: float) -> str:
    return datetime.fromtimestamp(wall, timezone.utc).isoformat(timespec="seconds")


def _header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def looks_like_status(body: Any) -> TypeGuard[dict[str, Any]]:
    """A status answer: a JSON object with a non-empty string ``status``."""
    return isinstance(body, dict) and isinstance(body.get("status"), str) and bool(body["status"])


class Recorder:
    """Turns forwarded exchanges into task records in ``directory``, thread-safely.

    ``clock`` gives the seconds that timings are measured in (the wall clock by default; a
    test passes its emulator's virtual clock). ``target`` is only written down (redacted)."""

    def __init__(
        self,
        directory: str | Path,
        target: str = "",
        *,
        clock: Callable[[], float] = time.time,
        durable: bool = True,
        render: Callable[[Mapping[str, Any]], str] | None = None,
        on_task: Callable[[str, str, str], None] | None = None,
        flush_interval: float = 0.2,
    ) -> None:
        self.directory = Path(directory)
        self.target = redact_query(target)
        self.clock = clock
        self.durable = durable
        #: Seconds between writes of what changed (0: write before each answer goes back).
        self.flush_interval = flush_interval
        self._render = render
        self._on_task = on_task
        self._lock = threading.Lock()
        self._dirty: dict[tuple[str, str], _Task] = {}
        self._failed: set[str] = set()
        self._closing = threading.Event()
        self._flusher: threading.Thread | None = None
        self._tasks: OrderedDict[tuple[str, str], _Task] = OrderedDict()
        self._candidates: OrderedDict[tuple[str, str], _Task] = OrderedDict()
        self._on_disk: dict[tuple[str, str], str] = {}
        self._runs: dict[int, list[tuple[str, str]]] = {}
        self._earlier: set[tuple[str, str]] = set()
        self._dir_lock = DirectoryLock(self.directory)
        self.stats: dict[str, int] = {
            "exchanges": 0,
            "tasks_new": 0,
            "tasks_continued": 0,
            "transport_failures": 0,
            "unmatched_results": 0,
            "write_errors": 0,
        }

    # --- life -----------------------------------------------------------------------------

    def open(self) -> Recorder:
        """Create the directory, take its lock, clean up after a crashed run, and index the
        tasks recorded there already."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"--out: cannot create {self.directory}: {exc.strerror}") from None
        if not os.access(self.directory, os.W_OK):
            raise ConfigError(f"--out: {self.directory} is not writable")
        self._dir_lock.acquire()
        for stale in self.directory.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()
        for path in record_files(self.directory):
            doc = read_record(path)
            if doc is None:
                continue
            key = (doc["family"], doc["task_id"])
            self._on_disk[key] = path.stem
            self._earlier.add(key)
            for run_id in _run_ids(doc):
                self._runs.setdefault(run_id, []).append(key)
        if self.flush_interval > 0:
            self._flusher = threading.Thread(
                target=self._flush_loop, name="mockcamb-record-writer", daemon=True
            )
            self._flusher.start()
        return self

    def close(self) -> None:
        """Write what is left and release the directory."""
        self._closing.set()
        if self._flusher is not None:
            self._flusher.join()
            self._flusher = None
        self.flush()
        self._dir_lock.release()

    def _flush_loop(self) -> None:
        while not self._closing.wait(self.flush_interval):
            self.flush()

    def flush(self) -> None:
        """Write every task that changed since the last write, each file whole."""
        with self._lock:
            batch = [
                (task, task.version, task.doc["name"], task.serialize())
                for task in self._dirty.values()
            ]
            self._dirty.clear()
        for task, version, name, record in batch:
            self._write(task, version, name, record)

    def __enter__(self) -> Recorder:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- recording ------------------------------------------------------------------------

    def record(self, ex: Exchange, route_path: str | None = None) -> None:
        """Record one exchange (``route_path``: its path relative to the API base, for
        telling what it is). Never raises: a recording problem is logged, not passed on
        to the client's traffic."""
        try:
            self._record(ex, ex.path if route_path is None else route_path)
        except Exception:  # pragma: no cover - a bug; the traffic must flow on regardless
            log.exception("mockcamb record: could not record %s", ex.method)

    def _record(self, ex: Exchange, route_path: str) -> None:
        route = classify(ex.method, route_path)
        redactor = Redactor(secret_values(ex.request_headers))
        with self._lock:
            self.stats["exchanges"] += 1
            if ex.transport is not None:
                self.stats["transport_failures"] += 1
            if route is None:
                return
            if route.kind == "status":
                task = self._status(route, ex, redactor)
            elif route.kind == "create":
                task = self._create(route, ex, redactor)
            else:
                task = self._result(route, ex, redactor)
            if task is None or not task.confirmed:
                return
            task.version += 1
            task.doc["revision"] = int(task.doc.get("revision", 0)) + 1
            self._dirty[(task.doc["family"], task.doc["task_id"])] = task
        if self.flush_interval <= 0:
            self.flush()

    def _entry(self, ex: Exchange, t: float, redactor: Redactor) -> dict[str, Any]:
        entry: dict[str, Any] = {"t": t, "path": redactor.path(ex.path)}
        if ex.transport is not None:
            entry["transport"] = ex.transport
            entry["error"] = redactor.text(ex.error or "")[:500]
        else:
            entry["status_code"] = ex.status_code
            entry["headers"] = redactor.headers(ex.response_headers)
            body = ex.response_body
            decoded = decode_content(body, _header(ex.response_headers, "content-encoding"))
            if decoded is None:  # cannot be searched for secrets, so not kept
                entry["body"] = {"size": len(body), "undecoded": True}
            else:
                cut = len(decoded) > MAX_RECORDED_BODY
                entry["body"] = body_doc(
                    decoded[:MAX_RECORDED_BODY] if cut else decoded,
                    ex.response_truncated or cut,
                    redactor,
                )
        entry["elapsed_ms"] = round(ex.elapsed * 1000, 3)
        return entry

    def _new_doc(self, family: str, task_id: str, now: float) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "family": family,
            "task_id": task_id,
            "name": task_name(family, task_id),
            "target": self.target,
            "recorded_at": _utc(time.time()),
            "origin": now,
            "create": None,
            "polls": [],
            "polls_total": 0,
            "results": [],
        }

    def _status(self, route: Route, ex: Exchange, redactor: Redactor) -> _Task | None:
        key = (route.family, route.ident)
        task = self._get(key)
        if task is None:
            task = self._claim_create(key)
        if task is None:
            task = self._candidates.pop(key, None)
            if task is None:
                task = _Task(self._new_doc(key[0], key[1], ex.sent), confirmed=False)
        doc = task.doc
        doc["polls_total"] = n = int(doc.get("polls_total", 0)) + 1
        if len(doc["polls"]) < MAX_POLLS_PER_TASK:
            entry = {"n": n, **self._entry(ex, ex.sent - float(doc["origin"]), redactor)}
            if n == 1 or not doc["polls"]:
                entry["request_headers"] = redactor.headers(ex.request_headers)
            doc["polls"].append(entry)
            task.lines.append(_line(entry))
            body = entry.get("body", {}).get("json")
            if looks_like_status(body):
                if not task.confirmed:
                    task.confirmed = True
                    self._new_task(key)
                run_id = body.get("run_id")
                if isinstance(run_id, int) and not isinstance(run_id, bool):
                    keys = self._runs.setdefault(run_id, [])
                    if key not in keys:
                        keys.append(key)
        if task.confirmed:
            self._keep(key, task)
        else:
            self._candidates[key] = task
            self._candidates.move_to_end(key)
            while len(self._candidates) > MAX_CANDIDATES:
                self._candidates.popitem(last=False)
        return task

    def _create(self, route: Route, ex: Exchange, redactor: Redactor) -> _Task | None:
        answer: Any = None
        if ex.transport is None and ex.status_code is not None and 200 <= ex.status_code < 300:
            with contextlib.suppress(ValueError, RecursionError):
                answer = json.loads(
                    decode_content(
                        ex.response_body, _header(ex.response_headers, "content-encoding")
                    )
                    or b""
                )
        raw_id = answer.get("task_id") if isinstance(answer, dict) else None
        if isinstance(raw_id, int) and not isinstance(raw_id, bool):
            raw_id = str(raw_id)
        if not isinstance(raw_id, str) or not raw_id:
            return None
        key = (route.family, raw_id)
        task = self._get(key)
        if task is None:
            task = _Task(self._new_doc(route.family, raw_id, ex.sent), confirmed=True)
            self._new_task(key)
        entry = {
            "method": ex.method,
            **self._entry(ex, ex.sent - float(task.doc["origin"]), redactor),
            "request_headers": redactor.headers(ex.request_headers),
            "request_body": _request_body(ex, redactor),
        }
        task.doc["create"] = entry
        self._keep(key, task)
        return task

    def _result(self, route: Route, ex: Exchange, redactor: Redactor) -> _Task | None:
        run = route.ident
        keys = self._runs.get(int(run), []) if run.isascii() and run.isdigit() else []
        if not keys:
            self.stats["unmatched_results"] += 1
            return None
        key = max(keys, key=lambda k: (_common_prefix(k[0], route.family), keys.index(k)))
        task = self._get(key)
        if task is None:
            return None
        results = task.doc.setdefault("results", [])
        if len(results) >= MAX_RESULTS_PER_TASK:
            return None
        results.append(
            {"run_id": run, **self._entry(ex, ex.sent - float(task.doc["origin"]), redactor)}
        )
        return task

    def _claim_create(self, key: tuple[str, str]) -> _Task | None:
        """A task created under another path (``POST /story-setup``) and first polled now
        under its status family: the record moves to the family it is polled under."""
        for other, task in list(self._tasks.items()):
            if other[1] == key[1] and other[0] != key[0] and not task.doc["polls"]:
                del self._tasks[other]
                self._dirty.pop(other, None)
                task.retired.append(task.doc["name"])
                task.doc["family"] = key[0]
                task.doc["name"] = task_name(*key)
                self._on_disk.pop(other, None)
                return task
        return None

    def _new_task(self, key: tuple[str, str]) -> None:
        self.stats["tasks_new"] += 1
        if self._on_task is not None:
            self._on_task(key[0], key[1], "new")

    def _get(self, key: tuple[str, str]) -> _Task | None:
        task = self._tasks.get(key) or self._dirty.get(key)
        if task is not None:
            self._keep(key, task)
            return task
        name = self._on_disk.get(key)
        if name is None:
            return None
        doc = read_record(self.directory / f"{name}.json")
        if doc is None:
            return None
        if key in self._earlier:
            self._earlier.discard(key)
            self.stats["tasks_continued"] += 1
            if self._on_task is not None:
                self._on_task(key[0], key[1], "continued")
        task = _Task(doc, confirmed=True)
        self._keep(key, task)
        return task

    def _keep(self, key: tuple[str, str], task: _Task) -> None:
        self._tasks[key] = task
        self._tasks.move_to_end(key)
        self._on_disk[key] = task.doc["name"]
        while len(self._tasks) > MAX_TASKS_IN_MEMORY:
            self._tasks.popitem(last=False)  # on disk already: read back when touched

    def _write(self, task: _Task, version: int, name: str, record: bytes) -> None:
        """Write a task's record, then its scenario (derived from the record, so a crash
        between the two leaves a scenario one exchange behind, which the loader notices).
        A failed write is tried again at the next flush."""
        with task.lock:
            if version <= task.written:
                return  # a newer state of this task is on disk already
            scenario = None
            if self._render is not None:
                try:
                    scenario = self._render(json.loads(record)).encode()
                except Exception:  # pragma: no cover - a bug; the record itself is still kept
                    log.exception("mockcamb record: no scenario for %s", name)
            try:
                atomic_write(self.directory / f"{name}.json", record, durable=self.durable)
                if scenario is not None:
                    atomic_write(self.directory / f"{name}.yaml", scenario, durable=self.durable)
                for old in task.retired:
                    for suffix in (".json", ".yaml"):
                        with contextlib.suppress(OSError):
                            (self.directory / f"{old}{suffix}").unlink()
                task.retired.clear()
            except OSError as exc:
                with self._lock:
                    self.stats["write_errors"] += 1
                    self._dirty.setdefault((task.doc["family"], task.doc["task_id"]), task)
                    first = name not in self._failed
                    self._failed.add(name)
                if first:
                    log.warning("mockcamb record: cannot write %s: %s", name, exc.strerror or exc)
                return
            task.written = version

    def tasks(self) -> list[dict[str, Any]]:
        """The records this recorder has in memory (a copy of each)."""
        with self._lock:
            return [json.loads(t.serialize()) for t in self._tasks.values()]


def _request_body(ex: Exchange, redactor: Redactor) -> dict[str, Any] | None:
    if ex.request_body is None:
        return {"streamed": True}
    content_type = (_header(ex.request_headers, "content-type") or "").lower()
    if content_type.startswith("multipart/"):
        return {"size": len(ex.request_body), "multipart": _multipart_fields(ex, redactor)}
    cut = len(ex.request_body) > MAX_RECORDED_BODY
    body = ex.request_body[:MAX_RECORDED_BODY] if cut else ex.request_body
    return body_doc(body, cut, redactor)


def _multipart_fields(ex: Exchange, redactor: Redactor) -> dict[str, Any]:
    """Form fields of a multipart create: text values (redacted), and files by name and size
    only (their content is not recorded)."""
    import io

    from werkzeug.formparser import parse_form_data

    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": _header(ex.request_headers, "content-type") or "",
        "CONTENT_LENGTH": str(len(ex.request_body or b"")),
        "wsgi.input": io.BytesIO(ex.request_body or b""),
    }
    try:
        _, form, files = parse_form_data(environ)
    except Exception:  # a malformed form is forwarded as it is; only its size is recorded
        return {}
    out: dict[str, Any] = {k: redactor.text(v)[:1000] for k, v in form.items()}
    for name, item in files.items(multi=True):
        try:
            size = len(item.read())
        finally:
            item.close()
        out[name] = {"filename": redactor.text(item.filename or ""), "size": size}
    return out


def _run_ids(doc: Mapping[str, Any]) -> list[int]:
    found: list[int] = []
    for poll in doc.get("polls") or ():
        body = (poll.get("body") or {}).get("json")
        if looks_like_status(body):
            run_id = body.get("run_id")
            if isinstance(run_id, int) and not isinstance(run_id, bool) and run_id not in found:
                found.append(run_id)
    return found


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
