"""The contract's rules as plain functions: each raises :class:`ContractViolation` naming the
rule it saw broken, the request that broke it and what to change."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jsonschema
import pytest

from mockcamb.core.schemas import STATUS_BODY_RULES, status_body_problems, status_body_schema
from mockcamb.core.statuses import FINAL_STATUSES, PENDING, SUCCESS

from ._client import Response, Secret, TransportError, redact
from ._wire import field_values

#: Every rule the suite checks, by the name that failure messages start with.
RULES: dict[str, str] = {
    "transport": "the target answers with a complete HTTP response",
    "content-length": "Content-Length, when sent, is one number: the exact length of the body",
    "chunked-framing": "a chunked body is framed as RFC 9112 7.1 says (sizes, CRLFs, last chunk)",
    "content-encoding": "the body is encoded as Content-Encoding says (and only as requested)",
    "single-content-type": "an answer has one Content-Type field",
    "charset": "a declared charset reads the body as the bytes say (JSON is UTF-8)",
    "retry-after": "Retry-After is delta-seconds (0, 5, ...) or an HTTP-date",
    "http-200": "a status poll of an existing task answers 200",
    "json-content-type": "a status answer has Content-Type: application/json",
    "json-body": "a status answer's body is JSON",
    **STATUS_BODY_RULES,
    "schema": "the body validates against mockcamb.schemas.status_body_schema",
    "final-never-reverts": "once a task reports a final status it reports that status for ever",
    "run-id-stable": "a SUCCESS keeps the same run_id on every poll",
    "never-backwards": "a task never moves back to PENDING once it has left it",
    "auth-missing-key": "a request without x-api-key is answered 401 or 403",
    "auth-wrong-key": "a request with a wrong x-api-key is answered 401 or 403",
    "auth-near-miss-key": "a near miss of the real key (one character off, other case, same "
    "shape, empty) is answered 401 or 403",
    "error-json-body": "an error answer carries a JSON body",
    "unknown-id-4xx": "an unknown task id is answered with a 4xx (404, 422...), never 5xx or 2xx",
    "hostile-id-4xx": "an odd or malicious task id is answered with a 4xx, never 5xx or 2xx",
    "follows-scenario": "mockcamb answers exactly as the task's scenario says",
    "fault-as-documented": "mockcamb injects a fault exactly as documented",
    "latency-as-documented": "mockcamb delays an answer by the scenario's latency",
    "admin-as-documented": "mockcamb's admin API behaves as documented",
}


class ContractViolation(AssertionError):
    """A broken rule: the message starts with ``[rule]`` and the rule in words."""

    def __init__(self, rule: str, where: str, problem: str, fix: str = "") -> None:
        self.rule = rule
        self.where = where = redact(where)
        self.problem = problem = redact(problem)
        self.fix = fix = redact(fix)
        text = f"[{rule}] {RULES.get(rule, rule)}: broken by {where}: {problem}"
        if fix:
            text += f". Fix: {fix}"
        super().__init__(text)


def violations(errors: Sequence[ContractViolation]) -> None:
    """Raise one violation for several: the first names the rule (and its fix), the rest
    follow, one a line."""
    if not errors:
        return
    if len(errors) == 1:
        raise errors[0]
    first = errors[0]
    rest = "\n".join(f"  also {e}" for e in errors[1:])
    problem = f"{first.problem}. Fix: {first.fix}" if first.fix else first.problem
    raise ContractViolation(first.rule, first.where, f"{problem}\n{rest}")


@dataclass
class Poll:
    """One poll of a task: the answer, or the transport error instead of one."""

    number: int
    response: Response | None = None
    error: TransportError | None = None

    @property
    def body(self) -> Any:
        assert self.response is not None
        return self.response.json()


def describe(kind: str, task_id: str, poll: int | None = None, total: int | None = None) -> str:
    where = f"GET /{kind}/{_short(task_id)}"
    if poll is not None:
        where += f" (poll {poll}" + (f" of {total})" if total else ")")
    return where


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def is_json_media_type(media_type: str) -> bool:
    return media_type == "application/json"


# --- answers as clients read them ----------------------------------------------------------

_DAYS = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_LONG_DAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH = "|".join(_MONTHS)
_TIME = r"(?P<H>\d{2}):(?P<M>\d{2}):(?P<S>\d{2})"
#: The three HTTP-date forms a recipient must accept (RFC 9110 5.6.7): IMF-fixdate, then the
#: obsolete RFC 850 and asctime forms.
_HTTP_DATES = (
    re.compile(rf"(?:{_DAYS}), (?P<d>\d{{2}}) (?P<m>{_MONTH}) (?P<y>\d{{4}}) {_TIME} GMT"),
    re.compile(rf"(?:{_LONG_DAYS}), (?P<d>\d{{2}})-(?P<m>{_MONTH})-(?P<y>\d{{2}}) {_TIME} GMT"),
    re.compile(rf"(?:{_DAYS}) (?P<m>{_MONTH}) (?P<d>[ \d]\d) {_TIME} (?P<y>\d{{4}})"),
)


def is_http_date(value: str) -> bool:
    """True if ``value`` is an HTTP-date in one of its three forms, naming a real time."""
    for form in _HTTP_DATES:
        match = form.fullmatch(value)
        if match is None:
            continue
        year = int(match["y"])
        if year < 100:  # RFC 850's two-digit year
            year += 2000 if year < 70 else 1900
        try:
            second = min(int(match["S"]), 59)  # a leap second is a real time too
            datetime(
                year,
                _MONTHS.index(match["m"]) + 1,
                int(match["d"]),
                int(match["H"]),
                int(match["M"]),
                second,
            )
        except ValueError:
            return False
        return True
    return False


def _retry_after_problem(value: str) -> str | None:
    if (value.isdigit() and value.isascii()) or is_http_date(value):
        return None
    why = "it is neither delta-seconds (a whole number of seconds: 0, 5, 120) nor an HTTP-date"
    if re.fullmatch(r"\d*\.\d+|\d+\.\d*", value):
        why = "delta-seconds is a whole number: no fractions"
    elif re.fullmatch(r"-\d+(\.\d*)?", value):
        why = "delta-seconds cannot be negative"
    elif re.match(r"\d{4}-\d{2}-\d{2}", value):
        why = "an ISO 8601 time is no HTTP-date"
    elif re.search(r"[+-]\d{4}$|UTC$", value):
        why = "an HTTP-date is in GMT and says so ('... 08:49:37 GMT'), not as an offset or UTC"
    return (
        f"Retry-After: {value!r} is not legal ({why}); clients that parse it by RFC 9110 10.2.3 "
        "ignore it or fail on it, so they retry at once or give up"
    )


def _params(content_type: str) -> dict[str, str]:
    """The parameters of a media type, names lower case, quoted values unquoted."""
    params: dict[str, str] = {}
    for part in re.findall(r';\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', content_type):
        name, value = part
        value = value.strip()
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[name.lower()] = value
    return params


def _first_difference(a: str, b: str) -> tuple[str, str]:
    at = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    return a[max(0, at - 8) : at + 8], b[max(0, at - 8) : at + 8]


def _charset_problem(resp: Response, content_type: str) -> str | None:
    charset = _params(content_type).get("charset")
    if charset is None or not resp.body:
        return None
    try:
        codec = codecs.lookup(charset)
    except LookupError:
        return (
            f"charset={charset} names no encoding clients know: requests then guesses, other "
            "clients refuse the body"
        )
    try:
        as_declared = resp.body.decode(codec.name)
    except UnicodeDecodeError as exc:
        return (
            f"the body does not decode as the declared charset={charset} ({exc.reason} at byte "
            f"{exc.start}): requests reads replacement characters there"
        )
    try:
        as_utf8 = resp.body.decode("utf-8")
    except UnicodeDecodeError:
        if is_json_media_type(resp.media_type):
            return (
                f"the JSON body is in {charset}, as declared, but JSON is UTF-8 (RFC 8259 8.1): "
                "httpx and the SDKs read the bytes as UTF-8 and fail"
            )
        return None
    if as_declared != as_utf8:
        utf8, declared = _first_difference(as_utf8, as_declared)
        return (
            f"the body is UTF-8 but says charset={charset}: requests decodes it as {charset} "
            f"and reads {declared!r} where the body says {utf8!r}"
        )
    return None


def _readable(resp: Response, where: str) -> list[ContractViolation]:
    errors = [ContractViolation(d.rule, where, d.problem, d.fix) for d in resp.defects]
    types = field_values(resp.fields, "content-type")
    if len(types) > 1:
        same = len({" ".join(t.lower().split()) for t in types}) == 1
        errors.append(
            ContractViolation(
                "single-content-type",
                where,
                f"the answer has {len(types)} Content-Type fields ({' | '.join(types)})"
                + ("" if same else " that disagree")
                + f": requests and httpx join them into {', '.join(types)!r}, which is no "
                "media type",
                "send Content-Type once (check that the framework and the code do not both set it)",
            )
        )
    elif types:
        problem = _charset_problem(resp, types[0])
        if problem is not None:
            errors.append(
                ContractViolation(
                    "charset",
                    where,
                    problem,
                    "send 'Content-Type: application/json' (or '; charset=utf-8') with a UTF-8 "
                    "body",
                )
            )
    waits = field_values(resp.fields, "retry-after")
    problem = None
    if len(waits) > 1:
        problem = f"Retry-After is given {len(waits)} times ({', '.join(waits)})"
    elif waits:
        problem = _retry_after_problem(waits[0])
    if problem is not None:
        errors.append(
            ContractViolation(
                "retry-after",
                where,
                problem,
                "send whole seconds (str(math.ceil(seconds))) or an IMF-fixdate "
                "(email.utils.formatdate(usegmt=True))",
            )
        )
    return errors


def check_readable(resp: Response, where: str) -> list[ContractViolation]:
    """Every rule an answer breaks for a client that reads it by the HTTP specification
    (framing, content coding, Content-Type, charset, Retry-After), the answers waited out or
    redirected on the way to it included."""
    errors: list[ContractViolation] = []
    for earlier in resp.history:
        step = "retry" if earlier.status in (429, 503) else "redirect"
        errors += _readable(earlier, f"{where} (its {earlier.status} answer before the {step})")
    return errors + _readable(resp, where)


def no_answer(
    exc: TransportError, where: str, rule: str = "transport", fix: str = ""
) -> ContractViolation:
    """A request that got no usable answer: the framing rule it broke if it broke one, else
    ``rule``."""
    if exc.rule != "transport":
        return ContractViolation(exc.rule, where, exc.detail, exc.fix)
    return ContractViolation(
        rule,
        where,
        f"no answer: {exc}",
        fix or "check the base URL and the network; a server must answer every request",
    )


# --- the status body ------------------------------------------------------------------------

#: What to change for each rule of the status body (mockcamb.core.schemas names the rules).
BODY_FIXES: dict[str, str] = {
    "object-body": 'answer one JSON object, such as {"status": "PENDING"}',
    "status-field": "give every status answer a non-empty string 'status'",
    "status-vocabulary": "use the documented statuses (upper case), or pass "
    "--camb-allow-status STATUS if yours is deliberate",
    "run-id-integer": "send run_id as a JSON integer (not a string, a float or a boolean)",
    "success-run-id": "give every SUCCESS an integer run_id: clients fetch the result with it",
    "message-type": "send message as a string, an object or null",
    "exception-reason-type": "send exception_reason as a string or null",
}


def check_status_answer(
    resp: Response, where: str, allowed: Iterable[str] | None
) -> tuple[list[ContractViolation], Any]:
    """Every rule one status answer breaks, and its decoded body (None if it has none)."""
    errors = check_readable(resp, where)
    if resp.status != 200:
        errors.append(
            ContractViolation(
                "http-200",
                where,
                f"answered {resp.status} {resp.reason} with body {resp.preview()}",
                "a task that exists must be answered 200; check the task id and that the key "
                "may read it",
            )
        )
        return errors, None
    if not is_json_media_type(resp.media_type):
        errors.append(
            ContractViolation(
                "json-content-type",
                where,
                f"Content-Type is {resp.content_type or 'missing'!r}",
                "send 'Content-Type: application/json'",
            )
        )
    try:
        body = resp.json()
    except ValueError as exc:
        errors.append(
            ContractViolation(
                "json-body",
                where,
                f"the body is not JSON ({exc}): {resp.preview()}",
                'answer a JSON object such as {"status": "PENDING"}',
            )
        )
        return errors, None
    vocab = None if allowed is None else list(allowed)
    problems = status_body_problems(body, vocab)
    for rule, sentence in problems:
        errors.append(ContractViolation(rule, where, sentence, BODY_FIXES.get(rule, "")))
    if not problems:
        validator = jsonschema.Draft202012Validator(status_body_schema(vocab))
        for err in validator.iter_errors(body):
            errors.append(
                ContractViolation(
                    "schema", where, err.message, "match the status body schema (README)"
                )
            )
    return errors, body


# --- the lifecycle --------------------------------------------------------------------------


def _rank(status: str) -> int:
    if status == PENDING:
        return 0
    return 2 if status in FINAL_STATUSES else 1


def check_lifecycle(
    observed: Sequence[tuple[int, str, Any]], kind: str, task_id: str
) -> list[ContractViolation]:
    """Rules over a task's successive ``(poll, status, run_id)``: final never reverts, SUCCESS
    keeps its run_id, PENDING never comes back after the task left it."""
    errors: list[ContractViolation] = []
    final: tuple[int, str] | None = None
    success_run: tuple[int, Any] | None = None
    best: tuple[int, str] | None = None
    for poll, status, run_id in observed:
        where = describe(kind, task_id, poll)
        if final is not None and status != final[1]:
            errors.append(
                ContractViolation(
                    "final-never-reverts",
                    where,
                    f"poll {final[0]} said {final[1]} (final), poll {poll} says {status}",
                    "never change a task's status after it reached SUCCESS, FAILED, ERROR, "
                    "TIMEOUT or PAYMENT_REQUIRED",
                )
            )
        elif best is not None and _rank(status) < _rank(best[1]):
            errors.append(
                ContractViolation(
                    "never-backwards",
                    where,
                    f"poll {best[0]} said {best[1]}, poll {poll} is back at {status}",
                    "a task only moves forward: PENDING, then a final status",
                )
            )
        if status == SUCCESS:
            if success_run is None:
                success_run = (poll, run_id)
            elif run_id != success_run[1]:
                errors.append(
                    ContractViolation(
                        "run-id-stable",
                        where,
                        f"poll {success_run[0]} said run_id {success_run[1]!r}, poll {poll} says "
                        f"{run_id!r}",
                        "keep the run_id of a finished task fixed; clients fetch the result "
                        "with it",
                    )
                )
        if final is None and status in FINAL_STATUSES:
            final = (poll, status)
        if best is None or _rank(status) > _rank(best[1]):
            best = (poll, status)
    return errors


# --- errors: auth and unknown ids -----------------------------------------------------------


def check_error_answer(
    resp: Response,
    where: str,
    rule: str,
    accepted: Iterable[int] | None,
    *,
    fix: str,
    json_exempt: Iterable[int] = (),
) -> list[ContractViolation]:
    """An answer that must be an error: readable, its code in ``accepted`` (``None``: any 4xx
    but 429), and a JSON body (codes in ``json_exempt`` excepted)."""
    return check_readable(resp, where) + _error_code_and_body(
        resp, where, rule, accepted, fix, json_exempt
    )


def _error_code_and_body(
    resp: Response,
    where: str,
    rule: str,
    accepted: Iterable[int] | None,
    fix: str,
    json_exempt: Iterable[int],
) -> list[ContractViolation]:
    codes = None if accepted is None else set(accepted)
    ok = 400 <= resp.status < 500 and resp.status != 429 if codes is None else resp.status in codes
    if not ok:
        expected = "a 4xx" if codes is None else " or ".join(map(str, sorted(codes)))
        extra = f" after redirects {resp.redirects}" if resp.redirects else ""
        return [
            ContractViolation(
                rule,
                where,
                f"answered {resp.status} {resp.reason}{extra} (expected {expected}) with body "
                f"{resp.preview()}",
                fix,
            )
        ]
    if resp.status in set(json_exempt):
        return []
    try:
        resp.json()
    except ValueError:
        return [
            ContractViolation(
                "error-json-body",
                where,
                f"the {resp.status} answer's body is not JSON (Content-Type "
                f"{resp.content_type or 'missing'!r}): {resp.preview()}",
                'answer errors with JSON, e.g. {"detail": "Not found"}',
            )
        ]
    return []


# --- near misses of the key -----------------------------------------------------------------


@dataclass(frozen=True)
class NearMiss:
    """A wrong key close to the real one, described without showing either."""

    name: str
    what: str
    #: The broken key check that would let it through.
    accepted_by: str
    key: Secret


def _other(char: str, step: int = 1) -> str:
    """A different character of the same kind: letter for letter (same case), digit for
    digit, ``-`` and ``_`` for each other, ``x`` for anything else."""
    for alphabet in ("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789"):
        if char in alphabet:
            return alphabet[(alphabet.index(char) + step) % len(alphabet)]
    return {"-": "_", "_": "-"}.get(char, "x" if char != "x" else "y")


#: The near misses the suite sends, by name: how each is made and which broken check passes it.
NEAR_MISSES: dict[str, tuple[str, str]] = {
    "one-more-character": (
        "the real key with one character added at the end",
        "a prefix check (sent.startswith(key)), a comparison of only len(key) characters, or "
        "a substring check (key in sent)",
    ),
    "last-character-dropped": (
        "the real key without its last character",
        "a check that the real key starts with or contains the sent one "
        "(key.startswith(sent), sent in key)",
    ),
    "last-character-changed": (
        "the real key with its last character changed",
        "a comparison of only the first characters (sent[:n] == key[:n]) or one that ignores "
        "the last character",
    ),
    "first-character-changed": (
        "the real key with its first character changed",
        "a comparison of only the last characters (sent.endswith(key[-n:]))",
    ),
    "other-case": (
        "the real key with every letter in the other case",
        "a case-insensitive comparison (sent.lower() == key.lower())",
    ),
    "same-length-and-format": (
        "a key of the real key's length and format with every letter and digit different",
        "a check of only the length or the format (a pattern, a prefix such as 'sk-')",
    ),
    "empty": (
        "an empty x-api-key header",
        "a check that takes an empty key for no key and falls back to a default one",
    ),
}


def near_misses(key: str) -> dict[str, NearMiss]:
    """The near misses of ``key`` by name; those that would equal the key (or another near
    miss) are left out. Surrounding whitespace is none: HTTP strips it from field values."""
    if not key:
        return {}
    values = {
        "one-more-character": key + _other(key[-1]),
        "last-character-dropped": key[:-1],
        "last-character-changed": key[:-1] + _other(key[-1]),
        "first-character-changed": _other(key[0]) + key[1:],
        "other-case": key.swapcase(),
        "same-length-and-format": "".join(_other(c, 13 if c.isalpha() else 5) for c in key),
        "empty": "",
    }
    out: dict[str, NearMiss] = {}
    seen = {key}
    for name, value in values.items():
        if value in seen or (not value and name != "empty"):
            continue
        seen.add(value)
        what, accepted_by = NEAR_MISSES[name]
        out[name] = NearMiss(name, what, accepted_by, Secret(value, track=True))
    return out


@dataclass
class WrongKeys:
    """What the target answered to every wrong key the suite sent (random and near misses)."""

    sent: int = 0
    refused: int = 0
    near_misses: int = 0

    def record(self, resp: Response, *, near_miss: bool = False) -> None:
        self.sent += 1
        self.near_misses += int(near_miss)
        self.refused += int(resp.status in AUTH_CODES)

    def summary(self) -> str | None:
        """A sentence for the report when every wrong key got past the key check."""
        if not self.sent or self.refused:
            return None
        return (
            f"none of the {self.sent} wrong keys the suite sent ({self.sent - self.near_misses} "
            f"random, {self.near_misses} near misses of the real key) was refused with 401 or "
            "403: the target accepts any key, so the wrong-key and near-miss tests fail. "
            "`mockcamb serve` does that unless it is started with --api-key KEY: start it so, "
            "and give the suite the same key (--camb-api-key KEY)."
        )


AUTH_CODES = (401, 403)
WRONG_KEYS = pytest.StashKey[WrongKeys]()


def wrong_keys(config: pytest.Config) -> WrongKeys:
    """The session's tally of wrong-key answers (read by the report's summary)."""
    return config.stash.setdefault(WRONG_KEYS, WrongKeys())
