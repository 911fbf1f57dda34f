"""Config files: scenario files found from the config's folder, problems and warnings
reported where they are (``FILE:LINE: field: problem``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockcamb.core.config import load_config, preload
from mockcamb.core.emulator import Emulator
from mockcamb.core.errors import ConfigError

ERROR_YAML = (
    "steps:\n  - {status: PENDING, polls: 2}\n"
    "  - {status: ERROR, exception_reason: ERROR_DOWNLOADING_SOURCE}\n"
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder holding ``fixtures/scenarios/error.yaml``; the current directory is
    somewhere else, as when a server is started from another folder."""
    root = tmp_path / "project"
    (root / "fixtures" / "scenarios").mkdir(parents=True)
    (root / "fixtures" / "scenarios" / "error.yaml").write_text(ERROR_YAML)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return root


def test_scenario_files_are_found_from_the_config_folder(project: Path) -> None:
    config = project / "mock.yaml"
    config.write_text(
        "settings:\n  default_scenario: fixtures/scenarios/error.yaml\n"
        "tasks:\n"
        "  - {kind: story, task_id: a, scenario: happy_path}\n"
        "  - {kind: project-setup, task_id: b, scenario: fixtures/scenarios/error.yaml}\n"
    )
    emu = Emulator()
    preload(emu, load_config(config), where=str(config))
    task = emu.get_task("project-setup", "b")
    assert task is not None and task.scenario.steps[-1].status == "ERROR"
    assert emu.settings.default_scenario.steps[-1].status == "ERROR"


def test_a_config_given_by_a_relative_path_finds_its_files_too(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "conf").mkdir()
    (project / "conf" / "mock.yaml").write_text(
        "tasks:\n  - {kind: story, task_id: a, scenario: ../fixtures/scenarios/error.yaml}\n"
    )
    monkeypatch.chdir(project.parent)
    emu = Emulator()
    preload(emu, load_config("project/conf/mock.yaml"))
    assert emu.task_count() == 1


def test_a_bad_scenario_file_is_reported_under_the_field_that_named_it(project: Path) -> None:
    (project / "fixtures" / "scenarios" / "broken.yaml").write_text(
        "steps:\n  - {status: PENDING, polls: 0}\n  - {status: SUCCESS, seconds: 1}\n"
    )
    config = project / "mock.yaml"
    config.write_text(
        "tasks:\n"
        "  - {kind: story, task_id: a}\n"
        "  - kind: story\n"
        "    scenario: fixtures/scenarios/broken.yaml\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(config)
    file = project / "fixtures" / "scenarios" / "broken.yaml"
    assert str(info.value).splitlines() == [
        f"{config}:4: tasks[1].scenario: {file}:2: steps[0].polls: must be an integer >= 1, got 0",
        f"{config}:4: tasks[1].scenario: {file}:3: steps[1]: is the last step, which holds for "
        "ever; remove 'polls'/'seconds' or add a step after it",
    ]
    missing = project / "missing.yaml"
    missing.write_text("tasks:\n  - {kind: story, scenario: fixtures/none.yaml}\n")
    with pytest.raises(ConfigError, match=r"missing\.yaml:2: tasks\[0\]\.scenario: .*none\.yaml"):
        load_config(missing)


def test_problems_in_a_config_document_carry_its_lines(project: Path) -> None:
    config = project / "mock.yaml"
    config.write_text(
        "clock: manual\n"
        "tasks:\n"
        "  - kind: story\n"
        "    scenario:\n"
        "      steps:\n"
        "        - {status: PENDING}\n"
        "        - {status: 3}\n"
        "  - {kind: story, scenario: nope}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert str(info.value).splitlines() == [
        f"{config}:6: tasks[0].scenario.steps[0]: needs 'polls' or 'seconds' (only the last "
        "step may omit them)",
        f"{config}:7: tasks[0].scenario.steps[1].status: must be a non-empty string of at most "
        "100 characters, got 3",
    ]
    config.write_text("tasks:\n  - {kind: story, scenario: nope}\n")
    with pytest.raises(ConfigError, match=r"mock\.yaml:2: tasks\[0\]\.scenario: no preset named"):
        load_config(config)
    config.write_text("clock: manual\ncolour: red\n")
    with pytest.raises(ConfigError, match=r"mock\.yaml:2: colour: unknown key"):
        load_config(config)


def test_config_warnings_go_to_the_callback_located(project: Path) -> None:
    (project / "typo.yaml").write_text("steps:\n  - {status: PENDNG, polls: 1}\n  - {status: OK}\n")
    config = project / "mock.yaml"
    config.write_text(
        "settings:\n"
        "  default_scenario: {steps: [{status: success}]}\n"
        "tasks:\n"
        "  - {kind: story, task_id: a, scenario: typo.yaml}\n"
    )
    warnings: list[str] = []
    loaded = load_config(config, on_warning=warnings.append)
    assert warnings == [
        f'{config}:2: warning: settings.default_scenario.steps[0].status: "success" is a custom '
        "status, so the task never finishes; did you mean SUCCESS?",
        f"{config}:4: tasks[0].scenario: {project / 'typo.yaml'}:2: warning: steps[0].status: "
        '"PENDNG" is a custom status, which clients treat as still running; did you mean '
        "PENDING?",
    ]
    emu = Emulator()
    preload(emu, loaded)  # warnings do not stop the preload
    assert emu.settings.default_scenario.steps[0].status == "success"
    assert load_config(config) == loaded  # without a callback the warnings are dropped


def test_preload_of_a_plain_document_labels_scenario_problems(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("steps: []\n")
    with pytest.raises(ConfigError) as info:
        preload(
            Emulator(), {"tasks": [{"kind": "story"}, {"kind": "story", "scenario": str(broken)}]}
        )
    assert str(info.value) == (
        f"config: tasks[1].scenario: {broken}:1: steps: must be a non-empty list of steps"
    )
    with pytest.raises(ConfigError) as info:
        preload(Emulator(), {"tasks": [{"kind": "story", "scenario": {"steps": [{}]}}]})
    assert str(info.value).startswith("config: tasks[0].scenario.steps[0].status: must be")


def test_a_config_fills_the_library_from_a_folder_of_scenario_files(project: Path) -> None:
    """``settings.scenarios: DIR`` (relative to the config): every scenario file in it, by
    name, for ``x-mockcamb-scenario: recorded/<name>`` over real HTTP."""
    import requests
    from _serve import serve

    lib = project / "lives"
    lib.mkdir()
    (lib / "story-slow.yaml").write_text(
        "steps:\n  - {status: PENDING, seconds: 30}\n  - {status: SUCCESS, run_id: 30}\n"
    )
    (lib / "error.yml").write_text(ERROR_YAML)
    (lib / "notes.txt").write_text("not a scenario")
    config = project / "mock.yaml"
    config.write_text("clock: manual\nsettings:\n  scenarios: lives\n")
    with serve("--config", str(config)) as (_, url), requests.Session() as s:
        s.headers["x-api-key"] = "k"
        names = sorted(s.get(f"{url}/__admin/scenarios").json()["scenarios"])
        assert names == ["error", "story-slow"]
        created = s.post(
            f"{url}/apis/story",
            data={"source_language": "1"},
            files={"file": ("s.txt", b"x")},
            headers={"x-mockcamb-scenario": "recorded/story-slow"},
        )
        assert created.status_code == 200, created.text
        task_id = created.json()["task_id"]
        assert s.get(f"{url}/apis/story/{task_id}").json()["status"] == "PENDING"
        s.post(f"{url}/__admin/clock/advance", json={"seconds": 30})
        assert s.get(f"{url}/apis/story/{task_id}").json() == {"status": "SUCCESS", "run_id": 30}


def test_a_config_names_library_scenarios_one_by_one(project: Path) -> None:
    config = project / "mock.yaml"
    config.write_text(
        "settings:\n"
        "  scenarios:\n"
        "    from-file: fixtures/scenarios/error.yaml\n"
        "    preset: slow_success\n"
        "    inline: {steps: [{status: FAILED}]}\n"
        "  default_scenario: recorded/inline\n"
    )
    emu = Emulator()
    preload(emu, load_config(config), where=str(config))
    library = emu.settings.scenarios
    assert [library[n].steps[-1].status for n in ("from-file", "preset", "inline")] == [
        "ERROR",
        "SUCCESS",
        "FAILED",
    ]
    assert library["inline"].name == "recorded/inline" and library["preset"].name == "slow_success"
    assert emu.settings.default_scenario.steps[-1].status == "FAILED"
    config.write_text(
        "settings:\n  scenarios:\n    broken: {steps: [{status: PENDING, polls: 0}]}\n"
    )
    with pytest.raises(ConfigError, match=r"mock\.yaml:3: settings\.scenarios\.broken\.steps\[0\]"):
        load_config(config)
    config.write_text("settings:\n  scenarios: missing-folder\n")
    with pytest.raises(ConfigError, match=r"settings\.scenarios: no such directory"):
        preload(Emulator(), load_config(config))
