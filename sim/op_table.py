"""A simulator's control ops, faults and stdout events as tables: `--help` is made from them,
and the simulator checks every control line against them."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass


@dataclass(frozen=True)
class Spec:
    """An op or a fault: the keys it takes besides `op` (a fault's besides `name` and `on`),
    how it is written, and what it does."""

    keys: tuple[str, ...]
    usage: str
    help: str


def help_text(
    ops: dict[str, Spec], faults: dict[str, Spec], events: dict[str, str], notes: str = ""
) -> str:
    """The ops, faults and events for `--help`."""
    lines = [indented(notes, first=0, rest=0), ""] if notes else []
    lines.append("control ops (JSON lines on stdin):")
    for spec in ops.values():
        lines += [f"  {spec.usage}", indented(spec.help)]
    lines.append("faults:")
    for name, spec in faults.items():
        lines += [f"  {name}: {spec.usage}", indented(spec.help)]
    lines.append("events (JSON lines on stdout):")
    lines += [indented(text, first=2) for text in events.values()]
    return "\n".join(lines)


def indented(text: str, first: int = 6, rest: int = 6) -> str:
    return textwrap.fill(text, width=96, initial_indent=" " * first, subsequent_indent=" " * rest)
