"""Secrets out of ``ps`` (issue 17): ``mockcamb serve`` takes its API keys and admin token from
files (``--api-key-file``, ``--admin-token-file``) or the environment (``MOCKCAMB_API_KEYS``,
``MOCKCAMB_ADMIN_TOKEN``), and no process it starts, forked workers included, carries them on
its command line."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
from _redis import redis_url
from _serve import children, run, serve

from mockcamb.cli import build_parser
from mockcamb.core.errors import MockCambError
from mockcamb.serve.keysources import resolve_secrets

KEY = "file-key-" + uuid.uuid4().hex
OTHER_KEY = "env-key-" + uuid.uuid4().hex
TOKEN = "token-" + uuid.uuid4().hex


def _secret_file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o600)
    return str(path)


def _args(*words: str) -> argparse.Namespace:
    return build_parser(conform_options=False).parse_args(["serve", *words])


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    todo = [pid]
    while todo:
        here = todo.pop()
        kids = children(here)
        found += kids
        todo += kids
    return found


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


# --- precedence, in process ----------------------------------------------------------------


def test_the_command_line_beats_the_environment_which_beats_the_config(tmp_path: Path) -> None:
    keys = _secret_file(tmp_path, "keys", f"\n  {KEY}  \r\nsecond\n\n")
    env = {"MOCKCAMB_API_KEYS": f" {OTHER_KEY} ,,third ", "MOCKCAMB_ADMIN_TOKEN": TOKEN}
    args = _args("--api-key", "flag", "--api-key-file", keys, "--admin-token", "flag-token")
    resolve_secrets(args, env)
    assert args.api_key == ["flag", KEY, "second"] and args.admin_token == "flag-token"
    assert env == {}  # read once, then gone from the environment the workers inherit
    args = _args()
    resolve_secrets(
        args, {"MOCKCAMB_API_KEYS": f" {OTHER_KEY} ,,third ", "MOCKCAMB_ADMIN_TOKEN": TOKEN}
    )
    assert args.api_key == [OTHER_KEY, "third"] and args.admin_token == TOKEN
    args = _args()  # nothing given: None, so that the --config file's settings apply
    resolve_secrets(args, {})
    assert args.api_key is None and args.admin_token is None
    token = _secret_file(tmp_path, "token", f"{TOKEN}\n")
    args = _args("--admin-token-file", token)
    resolve_secrets(args, {"MOCKCAMB_ADMIN_TOKEN": "from-env"})
    assert args.admin_token == TOKEN and args.admin_token_file is None


@pytest.mark.parametrize(
    ("words", "env", "message"),
    [
        (["--api-key-file", "/no/such/keys"], {}, "--api-key-file: cannot read /no/such/keys"),
        (["--api-key-file", "EMPTY"], {}, "is empty"),
        (["--api-key-file", "DIR"], {}, "--api-key-file: cannot read"),
        (["--admin-token-file", "/no/such/token"], {}, "--admin-token-file: cannot read"),
        (["--admin-token-file", "EMPTY"], {}, "is empty"),
        (["--admin-token-file", "TWO"], {}, "holds 2 lines; expected one token"),
        (["--admin-token-file", "TWO", "--admin-token", "t"], {}, "not both"),
        ([], {"MOCKCAMB_API_KEYS": " , "}, "MOCKCAMB_API_KEYS: is set but holds no key"),
        ([], {"MOCKCAMB_ADMIN_TOKEN": " "}, "MOCKCAMB_ADMIN_TOKEN: is set but empty"),
    ],
)
def test_a_missing_empty_or_ambiguous_source_is_named(
    tmp_path: Path, words: list[str], env: dict[str, str], message: str
) -> None:
    files = {
        "EMPTY": _secret_file(tmp_path, "empty", "\n \n"),
        "TWO": _secret_file(tmp_path, "two", "a\nb\n"),
        "DIR": str(tmp_path),
    }
    args = _args(*[files.get(word, word) for word in words])
    with pytest.raises(MockCambError, match=re.escape(message)):
        resolve_secrets(args, env)


def test_bad_sources_exit_2_with_one_line(tmp_path: Path) -> None:
    empty = _secret_file(tmp_path, "empty", "")
    for words, env in (
        (["--api-key-file", empty], {}),
        (["--admin-token-file", str(tmp_path / "missing")], {}),
        ([], {"MOCKCAMB_API_KEYS": ","}),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "mockcamb", "serve", "--port", "0", *words],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, **env},
        )
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mockcamb: error: "), lines
    usage = run("serve", "--help").stdout
    assert "--api-key-file FILE" in usage and "--admin-token-file FILE" in usage


def test_a_key_file_that_others_may_read_is_warned_about(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"{KEY}\n")
    keys.chmod(0o644)
    result = run("serve", "--api-key-file", str(keys), "--threads", "0")  # stops after reading
    assert result.returncode == 2
    assert "WARNING: --api-key-file" in result.stderr and "chmod 600" in result.stderr
    assert KEY not in result.stderr
    keys.chmod(0o600)
    assert "WARNING" not in run("serve", "--api-key-file", str(keys), "--threads", "0").stderr


# --- real processes ------------------------------------------------------------------------


@pytest.mark.parametrize("server", ["granian", "waitress"])
def test_no_worker_carries_a_secret_on_its_command_line(tmp_path: Path, server: str) -> None:
    keys = _secret_file(tmp_path, "keys", f"{KEY}\n")
    token = _secret_file(tmp_path, "token", f"{TOKEN}\n")
    store = f"{redis_url()}?prefix=keys-{uuid.uuid4().hex[:10]}:"
    options = ["--server", server, "--store", store, "--workers", "2", "--threads", "4"]
    options += ["--api-key-file", keys, "--admin-token-file", token]
    # the environment's key loses to the file's: a server that took it would accept it
    with serve(*options, env={"MOCKCAMB_API_KEYS": OTHER_KEY}) as (proc, url):
        workers = _descendants(proc.pid)
        assert len(workers) >= 2
        for pid in [proc.pid, *workers]:
            line = _cmdline(pid)
            assert KEY not in line and TOKEN not in line and OTHER_KEY not in line, line
        status = f"{url}/apis/story/nope"
        assert requests.get(status, headers={"x-api-key": KEY}, timeout=5).status_code == 404
        assert requests.get(status, headers={"x-api-key": OTHER_KEY}, timeout=5).status_code == 401
        admin = f"{url}/__admin/settings"
        assert requests.get(admin, timeout=5).status_code == 401
        answer = requests.get(admin, headers={"x-admin-token": TOKEN}, timeout=5)
        assert answer.status_code == 200 and answer.json()["api_keys"] == {"count": 1}


def test_keys_and_token_from_the_environment(tmp_path: Path) -> None:
    env = {"MOCKCAMB_API_KEYS": f"{KEY},{OTHER_KEY}", "MOCKCAMB_ADMIN_TOKEN": TOKEN}
    with serve("--clock", "manual", env=env) as (proc, url):
        for key in (KEY, OTHER_KEY):
            answer = requests.get(f"{url}/apis/story/x", headers={"x-api-key": key}, timeout=5)
            assert answer.status_code == 404
        assert requests.get(f"{url}/apis/story/x", headers={"x-api-key": "k"}).status_code == 401
        assert requests.get(f"{url}/__admin/clock", timeout=5).status_code == 401
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert requests.get(f"{url}/__admin/clock", headers=headers, timeout=5).status_code == 200
        for pid in [proc.pid, *_descendants(proc.pid)]:
            assert KEY not in _cmdline(pid)
