"""The last fault the agent logged, kept for `edge-agent status`.

A fault is any log line at warning level or worse. The recorder is a structlog processor:
it only remembers the line (log calls may come from the CAN reader thread); the agent's
loop writes it to the store.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any, Final

from edge.status.models import FaultState

FAULT_LEVELS: Final = frozenset({"warning", "error", "exception", "critical"})
DETAIL_MAX_CHARS: Final = 500
_NOT_DETAIL: Final = frozenset({"event", "level", "ts", "component", "exc_info"})


@dataclass(frozen=True, slots=True)
class Fault:
    number: int  # counts faults since the process started; tells a new fault from the last
    ts: str | None
    level: str
    event: str
    component: str | None
    detail: str

    def as_state(self) -> FaultState:
        return FaultState(
            ts=self.ts,
            level=self.level,
            event=self.event,
            component=self.component,
            detail=self.detail,
        )


def describe_fields(fields: MutableMapping[str, Any]) -> str:
    """`key=value` pairs of a log line's own fields, cut to DETAIL_MAX_CHARS."""
    text = " ".join(f"{key}={value}" for key, value in fields.items() if key not in _NOT_DETAIL)
    return text if len(text) <= DETAIL_MAX_CHARS else text[: DETAIL_MAX_CHARS - 1] + "…"


class FaultRecorder:
    """structlog processor: remembers the last line logged at warning or worse."""

    def __init__(self) -> None:
        self.last: Fault | None = None
        self._count = 0

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if method_name in FAULT_LEVELS:
            self._count += 1
            component = event_dict.get("component")
            self.last = Fault(
                number=self._count,
                ts=event_dict.get("ts"),
                level="error" if method_name in ("exception", "critical") else method_name,
                event=str(event_dict.get("event")),
                component=None if component is None else str(component),
                detail=describe_fields(event_dict),
            )
        return event_dict


# Installed by edge.logs.configure(); one per process, like the log configuration itself.
FAULTS: Final = FaultRecorder()
