"""The Redis store's Lua scripts (``*.lua`` here), their arguments, and the data they share
with Python: the one place that names every key and field.

Keys, each under the store's prefix (``member`` is ``kind + "\\n" + task_id``):

- ``settings``: the settings as JSON (API keys as salted digests); ``settings:v``: their
  version, incremented on each change and checked by every poll; ``salt``: the digests' salt.
- ``epoch``: a random token written when the store is first set up (or re-seeded after it
  was lost): a process that finds another one knows the store was emptied under it.
  ``lost``: a hash of ``count`` (times the store was found lost), ``at`` (Redis time of the
  last), ``epoch`` (the one it made) and ``clock`` (the clock value it resumed from).
- ``clock``: a hash of ``kind`` (manual/real), ``scale``, ``origin`` (Redis time), ``offset``.
- ``sc:<sid>``: a hash per scenario, by content address: ``doc`` (JSON, read by Python) and
  ``plan`` (:func:`plan`, read by Lua).
- ``t:<member>``: a hash per task, :data:`TASK_FIELDS`; ``h:<member>``: a list, the task's
  history as JSON ``[n, clock, http_status, status, fault_type]``, oldest first.
- ``tasks``: a sorted set of members in the order they were created; ``fin``: a sorted set
  of the finished ones in the order they finished (both scored by ``ctr:order``).
- ``runs``: a hash from run id to member; ``ctr:run`` counts the run ids drawn (the first is
  :data:`~mockcamb.core.machine.FIRST_RUN_ID`); ``ctr:created`` numbers generated task ids.
- ``j``: a list, the journal newest first, each a JSON :func:`mockcamb.core.journal.entry`
  after its cost (:func:`~mockcamb.core.journal.entry_bytes`) and a space; ``j:bytes``: the
  sum of the costs; ``j:seq``: the last sequence number given.
"""

from __future__ import annotations

import json
from importlib import resources
from math import inf
from typing import Any

from ...core.scenario import Fault, Latency, Scenario
from ...core.statuses import SUCCESS, is_final

#: The fields of a task's hash (``t:<member>``) and the TaskState attribute each holds
#: (``ri`` and ``fa`` are absent until the task has a run id / has finished).
TASK_FIELDS: dict[str, str] = {
    "sc": "scenario",  # the scenario's id: sc:<sid>
    "sk": "seed_key",
    "ca": "created_at",
    "st": "step",
    "ss": "step_started",
    "sp": "step_polls",
    "rq": "requests",
    "an": "answered",
    "ri": "run_id",
    "fa": "finished_at",
}

#: ARGV of poll.lua, in order. The first eleven change only with the settings (the store
#: encodes them once per settings version); an 'answer' call adds the last four.
POLL_ARGV = (
    "prefix",
    "version",  # settings:v the request was checked against
    "max_tasks",
    "ttl",  # finished_ttl, '' = none
    "history_limit",
    "global_faults",  # the settings' by-number and by-time faults, JSON of fault_list
    "global_prob",  # '1' if the settings have probability faults
    "journal_size",
    "journal_bytes",
    "global_delay",  # the settings' delay_ms, see fixed_delay_ms
    "first_run_id",
    "member",
    "auto_sid",  # the scenario to create a missing task with, '' = none
    "auto_seed",  # its seed key
    "journal_head",  # journal.known_members
    "journal_tail",
    "journal_cost",  # journal.entry_bytes of the entry
    "phase",  # 'poll', 'answer' with the fault Python drew, or 'view' (settle only)
    "answer_n",
    "answer_now",
    "answer_code",  # '' = no fault
    "answer_type",
)
SETTINGS_ARGS = POLL_ARGV.index("member")
PHASE_ARG = POLL_ARGV.index("phase")


def source(name: str) -> str:
    """The text of the script ``name``: common.lua, then ``name``.lua."""
    here = resources.files(__package__)
    common = (here / "common.lua").read_text(encoding="utf-8")
    return common + "\n" + (here / f"{name}.lua").read_text(encoding="utf-8")


def fault_list(faults: tuple[Fault, ...]) -> list[list[Any]]:
    """The by-number and by-time faults as poll.lua reads them: ``[[request numbers], code,
    type, [[from, to], ...]]`` (a window's ``to`` -1 for ever)."""
    return [
        [sorted(f.polls), f.http_status, f.type, [[a, -1 if b == inf else b] for a, b in f.windows]]
        for f in faults
        if f.probability is None
    ]


def fixed_delay_ms(latency: Latency | None) -> str:
    """The journal's ``delay_ms`` text for a latency known in advance: '' for none, 'x' for
    one drawn per request."""
    if latency is None:
        return ""
    if latency.kind != "fixed":
        return "x"
    return json.dumps(round(latency.sample(0.0, 0.0) * 1000, 3))


def plan(scenario: Scenario) -> str:
    """The compact form of a scenario poll.lua runs: ``s`` the steps as ``[polls, seconds,
    final, success, run_id, status]`` (-1 and '' for none, 0/1 for booleans), ``f`` the
    by-number faults, ``p`` 1 if any fault has a probability (Python then picks the fault),
    ``l`` the delay text of its latency."""
    steps = [
        [
            -1 if s.polls is None else s.polls,
            -1 if s.seconds is None else s.seconds,
            1 if is_final(s.status) else 0,
            1 if s.status == SUCCESS else 0,
            "" if s.run_id is None else str(s.run_id),
            s.status,
        ]
        for s in scenario.steps
    ]
    prob = 1 if scenario.has_probability_faults else 0
    return json.dumps(
        {
            "s": steps,
            "f": fault_list(scenario.faults),
            "p": prob,
            "l": fixed_delay_ms(scenario.latency),
        }
    )
