"""Problems and where they are: field paths, and lines from a YAML or JSON text."""

from __future__ import annotations

import json

from mockcamb.core.problems import LineMap, Problem, field_name, plural

TEXT = """\
# a comment
steps:
  - {status: PENDING, polls: 2}
  - status: SUCESS
    run_id: 5
faults:
  - poll: [1,
      2]
    http_status: 503
"""


def test_field_names_and_plurals() -> None:
    assert field_name("scenario", ("steps", 0, "status")) == "scenario.steps[0].status"
    assert field_name("", ("faults", 1)) == "faults[1]"
    assert field_name("tasks[2].scenario", ()) == "tasks[2].scenario"
    assert [plural(n, "step") for n in (0, 1, 2)] == ["0 steps", "1 step", "2 steps"]


def test_lines_of_fields_present_and_missing() -> None:
    lines = LineMap.of(TEXT)
    assert lines.line(()) == 2  # the document starts after the comment
    assert lines.line(("steps",)) == 2
    assert lines.line(("steps", 0, "polls")) == 3
    assert lines.line(("steps", 1)) == 4
    assert lines.line(("steps", 1, "run_id")) == 5
    assert lines.line(("faults", 0, "poll", 1)) == 8
    assert lines.line(("faults", 0, "http_status")) == 9
    assert lines.line(("faults", 0, "retry_after")) == 7  # missing: where its parent is
    assert lines.line(("steps", 9, "status")) == 2
    assert lines.line(("nope", "deeper")) == 2


def test_lines_of_json_and_of_text_that_does_not_compose() -> None:
    text = json.dumps({"steps": [{"status": "PENDING"}, {"status": "SUCESS"}]}, indent=2)
    assert LineMap.of(text).line(("steps", 1, "status")) == 7
    broken = LineMap.of("steps: [unclosed\n")
    problem = Problem(("steps",), "bad")
    assert broken.line(("steps",)) is None
    assert broken.locate((problem,)) == (problem,)


def test_describe_places_the_problem() -> None:
    p = Problem(("steps", 1, "status"), "is odd", line=4)
    assert p.describe("scenario") == "scenario.steps[1].status: is odd"
    assert p.describe("", "x.yaml") == "x.yaml:4: steps[1].status: is odd"
    assert p.describe("", "x.yaml", "warning") == "x.yaml:4: warning: steps[1].status: is odd"
    root = Problem((), "cannot be read")
    assert root.describe("", "x.yaml") == "x.yaml: cannot be read"
    assert root.describe("scenario") == "scenario: cannot be read"
    located = LineMap.of(TEXT).locate((Problem(("run_id",), "x"),), ("steps", 1))
    assert located[0].line == 5
