"""The agent's log event names (edge/) and docs/logs.md list the same events at the same levels.

Code side: every .py under edge/ is parsed with `ast`. A log call is a call whose first
positional argument is a string literal containing a dot and whose function is
`<anything>.<debug|info|warning|error|exception|critical>`, or a local name bound to one or
more of those (`log = self._log.info if stopping else self._log.warning`). `exception` logs at
level error.

Doc side: every markdown table row whose first cell is exactly one backticked name documents
that event; its second cell holds its level, or its levels joined by " or ".
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AGENT = REPO / "edge"
DOC = REPO / "docs" / "logs.md"

METHOD_LEVELS = {
    "debug": "debug",
    "info": "info",
    "warning": "warning",
    "error": "error",
    "exception": "error",
    "critical": "critical",
}
EVENT_NAME = re.compile(r"^[a-z]+(\.[a-z_]+)+$")
DOC_ROW = re.compile(r"^\|\s*`([^`]*)`\s*\|([^|]*)\|")


@dataclass
class Logged:
    levels: set[str] = field(default_factory=set)
    places: list[str] = field(default_factory=list)


def _levels(node: ast.expr, aliases: dict[str, set[str]]) -> set[str] | None:
    """The levels a call through `node` logs at; None when `node` is not a log method."""
    if isinstance(node, ast.Attribute) and node.attr in METHOD_LEVELS:
        return {METHOD_LEVELS[node.attr]}
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.IfExp):
        body, orelse = _levels(node.body, aliases), _levels(node.orelse, aliases)
        return None if body is None or orelse is None else body | orelse
    return None


def log_calls(source: str, where: str) -> dict[str, Logged]:
    """The event names logged in `source`, each with its levels and `where:line` places."""
    tree = ast.parse(source)
    aliases: dict[str, set[str]] = defaultdict(set)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            levels = _levels(node.value, {})
            if levels is not None:
                aliases[node.targets[0].id] |= levels
    found: dict[str, Logged] = defaultdict(Logged)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        levels = _levels(node.func, aliases)
        if levels is None or "." not in first.value:
            continue
        logged = found[first.value]
        logged.levels |= levels
        logged.places.append(f"{where}:{node.lineno}")
    return found


def agent_events() -> dict[str, Logged]:
    events: dict[str, Logged] = defaultdict(Logged)
    for path in sorted(AGENT.rglob("*.py")):
        for name, logged in log_calls(path.read_text(), str(path.relative_to(REPO))).items():
            events[name].levels |= logged.levels
            events[name].places += logged.places
    return events


def documented_events() -> tuple[dict[str, set[str]], list[str]]:
    """docs/logs.md's events with their levels, and the names it lists more than once."""
    events: dict[str, set[str]] = {}
    repeated = []
    for line in DOC.read_text().splitlines():
        row = DOC_ROW.match(line)
        if row is None:
            continue
        name, levels = row.group(1), {level.strip() for level in row.group(2).split(" or ")}
        if name in events:
            repeated.append(name)
        events[name] = levels
    return events, repeated


def test_the_scanner_reads_calls_aliases_and_skips_the_rest() -> None:
    source = """
log.info("a.ready", x=1)
self._log.exception("a.failed")
say = self._log.info if stopping else self._log.warning
say("a.gone")
log.info("not dotted")
task.exception()
",".join(["a.b"])
print("a.printed")
"""
    found = log_calls(source, "x.py")
    assert {name: logged.levels for name, logged in found.items()} == {
        "a.ready": {"info"},
        "a.failed": {"error"},
        "a.gone": {"info", "warning"},
    }
    assert found["a.ready"].places == ["x.py:2"]


def test_the_scan_finds_the_agent_events() -> None:
    events = agent_events()
    assert events["agent.ready"].levels == {"info"}
    assert len(events) > 40, sorted(events)


def test_every_logged_event_is_documented() -> None:
    documented, _ = documented_events()
    missing = {
        name: logged.places for name, logged in agent_events().items() if name not in documented
    }
    assert not missing, f"logged in edge/ but not listed in docs/logs.md: {missing}"


def test_every_documented_event_is_logged() -> None:
    logged = agent_events()
    stale = sorted(name for name in documented_events()[0] if name not in logged)
    assert not stale, f"listed in docs/logs.md but logged nowhere in edge/: {stale}"


def test_documented_levels_are_the_logged_levels() -> None:
    documented, _ = documented_events()
    wrong = {
        name: f"doc says {' or '.join(sorted(documented[name]))}, "
        f"code logs {' or '.join(sorted(logged.levels))} at {', '.join(logged.places)}"
        for name, logged in agent_events().items()
        if name in documented and documented[name] != logged.levels
    }
    assert not wrong, f"levels in docs/logs.md that differ from the code: {wrong}"


def test_event_names_are_well_formed_and_listed_once() -> None:
    documented, repeated = documented_events()
    assert not repeated, f"listed more than once in docs/logs.md: {repeated}"
    bad = sorted(name for name in {*documented, *agent_events()} if not EVENT_NAME.match(name))
    assert not bad, f"event names not of the form component.what_happened: {bad}"
    levels = {level for levels in documented.values() for level in levels}
    assert levels <= set(METHOD_LEVELS.values()), levels


def test_the_box_fault_row_lists_exactly_the_fault_event_types() -> None:
    from edge.wire.messages import FAULT_EVENT_TYPES

    (row,) = [line for line in DOC.read_text().splitlines() if line.startswith("| `box.fault` |")]
    meaning = row.split("|")[3]
    types = meaning.split("The fault types:")[1].split("(each kind")[0]
    listed = set(re.findall(r"`([a-z_]+)`", types))
    assert listed == set(FAULT_EVENT_TYPES)
