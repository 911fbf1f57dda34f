"""The emulated API and the admin API over real HTTP (waitress on a free port)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from mockcamb.core.emulator import Emulator
from mockcamb.serve.waitress import Server

API_KEY = "test-key-0123456789"  # what the `http` fixture sends


def admin(server: Server, method: str, path: str, **kw: Any) -> requests.Response:
    return requests.request(method, f"{server.url}/__admin{path}", timeout=5, **kw)


@pytest.mark.parametrize("kind", ["story", "project-setup"])
def test_a_task_goes_pending_to_success(server: Server, http: requests.Session, kind: str) -> None:
    r = admin(server, "POST", "/tasks", json={"kind": kind, "task_id": "t1"})
    assert r.status_code == 201 and r.json()["task_id"] == "t1"
    answers = [http.get(f"{server.base_url}/{kind}/t1") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert all(a.headers["Content-Type"] == "application/json" for a in answers)
    assert [a.json()["status"] for a in answers] == ["PENDING", "PENDING", "SUCCESS"]
    assert isinstance(answers[2].json()["run_id"], int)


def test_missing_or_wrong_key_is_401_json(server: Server, emu: Emulator) -> None:
    emu.create_task("story", "t")
    for headers in ({}, {"x-api-key": ""}):
        r = requests.get(f"{server.base_url}/story/t", headers=headers, timeout=5)
        assert r.status_code == 401 and "detail" in r.json()
    emu.configure({"api_keys": ["a", "b"]})
    assert requests.get(f"{server.base_url}/story/t", headers={"x-api-key": "c"}).status_code == 401
    assert requests.get(f"{server.base_url}/story/t", headers={"x-api-key": "b"}).status_code == 200


@pytest.mark.parametrize(
    "raw_path",
    [
        "/apis/story/nope",
        "/apis/story/",
        "/apis/story//x",
        "/apis/story/a%2Fb",
        "/apis/story/..%2F..%2Fetc%2Fpasswd",
        "/apis/story/%2e%2e",
        "/apis/story/%00",
        "/apis/story/%F0%9F%92%A9",
        "/apis/story/%FF%FE",
        "/apis/project-setup/" + "x" * 5000,
        "/apis/story/a?b=c",
        "/apis/nothing-here",
        "/apis",
    ],
)
def test_odd_task_ids_get_a_json_4xx(server: Server, raw_path: str) -> None:
    # urllib3 would normalise some of these paths; send them byte for byte.
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.putrequest("GET", raw_path, skip_accept_encoding=True)
    conn.putheader("x-api-key", API_KEY)
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    assert 400 <= resp.status < 500, (raw_path, resp.status, body[:200])
    assert resp.getheader("Content-Type") == "application/json"
    assert "detail" in json.loads(body)


def test_methods_that_do_not_exist_are_json_4xx(server: Server, http: requests.Session) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        r = http.request(method, f"{server.base_url}/story/x")
        assert 400 <= r.status_code < 500 and "detail" in r.json()


def test_http_faults_as_clients_see_them(
    server: Server, http: requests.Session, emu: Emulator
) -> None:
    emu.create_task(
        "story",
        "f",
        {
            "steps": [{"status": "PENDING", "polls": 1}, {"status": "SUCCESS", "run_id": 5}],
            "faults": [
                {"poll": 1, "http_status": 429, "retry_after": 5},
                {"poll": 2, "type": "non_json", "http_status": 502},
                {"poll": 3, "type": "empty_body"},
                {"poll": 4, "type": "truncated_json"},
                {"poll": 5, "type": "malformed_json"},
                {"poll": 6, "type": "drop_connection"},
                {"poll": 7, "http_status": 500, "body": {"error": "custom"}},
            ],
        },
    )
    url = f"{server.base_url}/story/f"
    r = http.get(url)
    assert (r.status_code, r.headers["Retry-After"]) == (429, "5") and "detail" in r.json()
    r = http.get(url)
    assert r.status_code == 502 and r.headers["Content-Type"].startswith("text/html")
    r = http.get(url)
    assert r.status_code == 200 and r.content == b""
    for _ in range(2):
        r = http.get(url)
        with pytest.raises(ValueError):
            r.json()
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get(url)
    r = http.get(url)
    assert r.status_code == 500 and r.json() == {"error": "custom"}
    assert [http.get(url).json()["status"] for _ in range(2)] == ["PENDING", "SUCCESS"]


def test_latency_is_real_wall_time_even_on_the_manual_clock(
    server: Server, http: requests.Session, emu: Emulator
) -> None:
    emu.create_task(
        "story", "slow", {"steps": [{"status": "SUCCESS"}], "latency": {"fixed_ms": 150}}
    )
    start = time.perf_counter()
    assert http.get(f"{server.base_url}/story/slow").status_code == 200
    assert time.perf_counter() - start >= 0.15
    assert emu.clock.now() == 0


def test_create_endpoints_over_http(server: Server, http: requests.Session) -> None:
    r = http.post(
        f"{server.base_url}/story",
        files={"file": ("s.txt", b"hello")},
        data={"source_language": "1", "title": "T"},
    )
    assert r.status_code == 200
    task_id = r.json()["task_id"]
    assert http.get(f"{server.base_url}/story/{task_id}").json()["status"] == "PENDING"
    r = http.post(f"{server.base_url}/story", data={"source_language": "1"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "file"]
    r = http.post(
        f"{server.base_url}/project-setup",
        data="not json",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422
    r = http.post(
        f"{server.base_url}/project-setup",
        json={
            "media_url": "https://example.com/v.mp4",
            "source_language": 1,
            "target_languages": [76],
        },
        headers={"x-mockcamb-scenario": "instant_success"},
    )
    tid = r.json()["task_id"]
    body = http.get(f"{server.base_url}/project-setup/{tid}").json()
    assert body["status"] == "SUCCESS"
    res = http.get(f"{server.base_url}/project-setup-result/{body['run_id']}")
    assert res.status_code == 200 and res.json()["run_id"] == body["run_id"]


def test_admin_api_round_trip(server: Server, http: requests.Session) -> None:
    assert admin(server, "GET", "/health").json()["status"] == "ok"
    r = admin(server, "POST", "/tasks", json={"kind": "story", "scenario": "slow_success"})
    assert r.status_code == 201
    tid = r.json()["task_id"]
    assert r.json()["scenario"]["name"] == "slow_success"
    http.get(f"{server.base_url}/story/{tid}")
    assert admin(server, "POST", "/clock/advance", json={"seconds": 60}).json()["now"] == 60
    assert admin(server, "GET", "/clock").json() == {"now": 60, "kind": "manual"}
    snap = admin(server, "GET", f"/tasks/story/{tid}").json()
    assert snap["status"] == "SUCCESS" and snap["requests"] == 1
    assert [h["status"] for h in snap["history"]] == ["PENDING"]
    assert len(admin(server, "GET", "/tasks").json()["tasks"]) == 1
    assert admin(server, "GET", "/tasks?kind=project-setup").json()["tasks"] == []
    journal = admin(server, "GET", f"/requests?task_id={tid}").json()["requests"]
    assert len(journal) == 1 and journal[0]["headers"]["x-api-key"] == "[redacted]"
    assert API_KEY not in admin(server, "GET", "/requests").text
    assert admin(server, "GET", "/requests?kind=story&limit=5").status_code == 200
    assert admin(server, "DELETE", "/requests").json() == {"cleared": True}
    assert admin(server, "GET", "/requests").json()["requests"] == []
    s = admin(server, "PUT", "/settings", json={"unknown_task": "auto", "latency": None})
    assert s.json()["unknown_task"] == "auto"
    assert http.get(f"{server.base_url}/story/brand-new").status_code == 200
    assert admin(server, "GET", "/settings").json()["unknown_task"] == "auto"
    assert "happy_path" in admin(server, "GET", "/presets").json()["presets"]
    assert admin(server, "POST", "/reset").json() == {"reset": True}
    assert admin(server, "GET", "/tasks").json()["tasks"] == []
    assert admin(server, "GET", "/clock").json()["now"] == 0


@pytest.mark.parametrize(
    ("method", "path", "kw", "status", "words"),
    [
        ("POST", "/tasks", {"data": "{not json"}, 400, "body"),
        ("POST", "/tasks", {"json": [1, 2]}, 400, "body"),
        ("POST", "/tasks", {"json": {"kind": "dubbing"}}, 400, "kind"),
        ("POST", "/tasks", {"json": {"kind": "story", "task_id": 5}}, 400, "task_id"),
        ("POST", "/tasks", {"json": {"kind": "story", "colour": "red"}}, 400, "colour"),
        ("POST", "/tasks", {"json": {"kind": "story", "scenario": "nope"}}, 400, "no preset"),
        (
            "POST",
            "/tasks",
            {"json": {"kind": "story", "scenario": {"steps": [{}]}}},
            400,
            "scenario.steps[0].status",
        ),
        (
            "POST",
            "/tasks",
            {"json": {"kind": "story", "scenario": "/etc/passwd"}},
            400,
            "no preset",
        ),
        ("GET", "/tasks/story/missing", {}, 404, "missing"),
        ("GET", "/tasks/dubbing/x", {}, 400, "kind"),
        ("GET", "/tasks?kind=x", {}, 400, "kind"),
        ("GET", "/tasks?limit=-3", {}, 400, "limit"),
        ("POST", "/clock/advance", {"json": {}}, 400, "seconds"),
        ("POST", "/clock/advance", {"json": {"seconds": -1}}, 400, "seconds"),
        ("POST", "/clock/advance", {"json": {"seconds": "1"}}, 400, "seconds"),
        (
            "POST",
            "/clock/advance",
            {"data": '{"seconds": 1e999}', "headers": {"Content-Type": "application/json"}},
            400,
            "seconds",
        ),
        ("PUT", "/settings", {"json": {"journal_size": "big"}}, 400, "settings.journal_size"),
        ("PUT", "/settings", {"json": {"x": 1}}, 400, "settings.x"),
        ("GET", "/nope", {}, 404, "Not Found"),
        ("DELETE", "/clock", {}, 405, "method"),
    ],
)
def test_admin_mistakes_are_json_4xx(
    server: Server, method: str, path: str, kw: dict[str, Any], status: int, words: str
) -> None:
    r = admin(server, method, path, **kw)
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert words.lower() in r.json()["detail"].lower()


TYPO = {"steps": [{"status": "PENDING", "polls": 1}, {"status": "SUCESS"}]}
TYPO_WARNING = '"SUCESS" is a custom status, so the task never finishes; did you mean SUCCESS?'


def test_the_admin_api_answers_near_miss_statuses_with_warnings(
    server: Server, emu: Emulator
) -> None:
    checked = admin(server, "POST", "/scenarios/validate", json=TYPO)
    assert checked.status_code == 200 and checked.json()["valid"] is True
    assert checked.json()["warnings"] == [f"scenario.steps[1].status: {TYPO_WARNING}"]
    clean = admin(server, "POST", "/scenarios/validate", json={"steps": [{"status": "SUCCESS"}]})
    assert clean.json()["warnings"] == []
    created = admin(server, "POST", "/tasks", json={"kind": "story", "scenario": TYPO})
    assert created.status_code == 201 and created.json()["status"] == "PENDING"
    assert created.json()["warnings"] == [f"scenario.steps[1].status: {TYPO_WARNING}"]
    preset = admin(server, "POST", "/tasks", json={"kind": "story", "scenario": "happy_path"})
    assert preset.status_code == 201 and preset.json()["warnings"] == []
    changed = admin(server, "PUT", "/settings", json={"default_scenario": TYPO, "seed": 4})
    assert changed.status_code == 200 and changed.json()["seed"] == 4
    assert changed.json()["warnings"] == [
        f"settings.default_scenario.steps[1].status: {TYPO_WARNING}"
    ]
    assert emu.settings.default_scenario.steps[1].status == "SUCESS"  # warned, not refused
    assert admin(server, "PUT", "/settings", json={"seed": 5}).json()["warnings"] == []


def test_every_problem_of_a_scenario_is_in_the_400(server: Server) -> None:
    doc = {"steps": [{"status": "SUCCESS", "polls": 1}, {}], "faults": [{"poll": 0}]}
    r = admin(server, "POST", "/scenarios/validate", json=doc)
    assert r.status_code == 400
    assert [line.split(":")[0] for line in r.json()["detail"].splitlines()] == [
        "scenario.steps[0].status",
        "scenario.steps[1].status",
        "scenario.faults[0].poll",
        "scenario.faults[0].http_status",
    ]


def test_admin_mistakes_leave_state_alone(server: Server, emu: Emulator) -> None:
    emu.create_task("story", "keep")
    admin(server, "PUT", "/settings", json={"seed": 3, "journal_size": "x"})
    admin(server, "POST", "/tasks", json={"kind": "story", "task_id": "keep"})
    assert emu.settings.seed == 0 and emu.task_count() == 1


def test_admin_token_protects_admin_but_not_health(emu: Emulator) -> None:
    from mockcamb.http.app import create_app

    with Server(create_app(emu, admin_token="s3cret"), "127.0.0.1", 0) as srv:
        assert requests.get(f"{srv.url}/__admin/tasks").status_code == 401
        bad = requests.get(f"{srv.url}/__admin/tasks", headers={"x-admin-token": "nope"})
        assert bad.status_code == 401 and "detail" in bad.json()
        ok = requests.get(f"{srv.url}/__admin/tasks", headers={"x-admin-token": "s3cret"})
        assert ok.status_code == 200
        bearer = requests.get(
            f"{srv.url}/__admin/tasks", headers={"Authorization": "Bearer s3cret"}
        )
        assert bearer.status_code == 200
        assert requests.get(f"{srv.url}/__admin/health").status_code == 200


def test_oversized_bodies_and_headers_are_refused(server: Server, http: requests.Session) -> None:
    r = requests.post(
        f"{server.url}/__admin/tasks",
        data=b"x" * (17 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 413
    r = http.get(f"{server.base_url}/story/x", headers={"x-big": "y" * 100_000})
    assert r.status_code == 431 or r.status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/apis/story/x", "GET, HEAD, OPTIONS"),
        ("PUT", "/apis/project-setup/x", "GET, HEAD, OPTIONS"),
        ("PUT", "/apis/story", "OPTIONS, POST"),
        ("DELETE", "/apis/story-result/1000", "GET, HEAD, OPTIONS"),
    ],
)
def test_a_route_with_the_wrong_method_is_405_with_allow(
    server: Server, http: requests.Session, method: str, path: str, allow: str
) -> None:
    r = http.request(method, f"{server.url}{path}")
    assert r.status_code == 405, r.text
    assert r.headers["Allow"] == allow
    assert r.json() == {"detail": "Method Not Allowed"}


@pytest.mark.parametrize(
    ("path", "hint"),
    [
        ("/apis/stories/x", "did you mean GET /apis/story/{task_id}?"),
        ("/apis/project_setup/x", "did you mean GET /apis/project-setup/{task_id}?"),
        ("/apis/story-results/5", "did you mean GET /apis/story-result/{run_id}?"),
        ("/apis/story/", "no task_id in the path: GET /apis/story/{task_id}"),
    ],
)
def test_a_near_miss_404_names_the_closest_route(
    server: Server, http: requests.Session, path: str, hint: str
) -> None:
    r = http.get(f"{server.url}{path}")
    assert r.status_code == 404
    assert r.json()["detail"].endswith(hint), r.json()


def test_a_path_nothing_is_close_to_gets_a_plain_404(
    server: Server, http: requests.Session
) -> None:
    r = http.get(f"{server.url}/apis/quux/zzz")
    assert r.status_code == 404 and r.json() == {"detail": "No route GET /apis/quux/zzz"}


@pytest.mark.parametrize("task_id", ["undefined", "null", "None", "NaN"])
def test_a_placeholder_task_id_says_the_client_sent_none(
    server: Server, http: requests.Session, task_id: str
) -> None:
    r = http.get(f"{server.base_url}/dub/{task_id}")
    assert r.status_code == 404
    assert f"the client sent no task id (got {task_id!r})" in r.json()["detail"]


def test_a_run_id_polled_as_a_task_id_is_named(
    server: Server, http: requests.Session, emu: Emulator
) -> None:
    emu.create_task("story", "s1", "instant_success")
    run_id = http.get(f"{server.base_url}/story/s1").json()["run_id"]
    r = http.get(f"{server.base_url}/story/{run_id}")
    assert r.status_code == 404
    assert r.json()["detail"] == (
        f"No story task with id '{run_id}': {run_id} is the run id of story task 's1': poll "
        f"with the task_id; its result is at /apis/story-result/{run_id}"
    )


@pytest.mark.parametrize(
    ("path", "hint"),
    [
        ("/apis/transcription/x", "did you mean GET /apis/transcribe/{task_id}?"),
        ("/apis/translation/x", "did you mean GET /apis/translate/{task_id}?"),
        ("/apis/dubbing/x", "did you mean GET /apis/dub/{task_id}?"),
        ("/apis/end_to_end_dubbing/x", "it is /apis/dub/x now"),
        ("/apis/tts_result/7", "it is /apis/tts-result/7 now"),
        ("/apis/create_transcription/x", "it is /apis/transcribe/x now"),
    ],
)
def test_near_misses_of_every_family_name_the_route(
    server: Server, http: requests.Session, path: str, hint: str
) -> None:
    r = http.get(f"{server.url}{path}")
    assert r.status_code == 404 and r.json()["detail"].endswith(hint), r.json()


def test_every_route_builds_its_url_as_werkzeug_builds_it() -> None:
    """The app's rules compile their URL builders on first use (LazyBuildRule, for start-up):
    each builds what an eagerly compiled werkzeug Rule builds, with unknown values in the
    query, and a path without its trailing slash still redirects."""
    from werkzeug.routing import Map, Rule

    from mockcamb.http.app import LazyBuildRule, create_app

    app = create_app()
    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    assert len(rules) > 50 and all(isinstance(r, LazyBuildRule) for r in rules)
    eager = Map([Rule(r.rule, endpoint=r.endpoint, methods=r.methods) for r in rules])
    built = eager.bind("localhost")
    with app.test_request_context():
        from flask import url_for

        for rule in rules:
            values = {name: f"v-{name}" for name in rule.arguments}
            assert url_for(rule.endpoint, **values, q="1") == built.build(
                rule.endpoint, {**values, "q": "1"}
            )
    redirect = app.test_client().get("/__admin")
    assert redirect.status_code == 308 and redirect.headers["Location"].endswith("/__admin/")
