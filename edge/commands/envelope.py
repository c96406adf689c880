"""The signed command envelope (contract section 3).

Strict and closed like every command model: an unknown field or a number sent as a string is
`bad_schema`. The args of each command type are its kind's (edge/commands/table.py).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import BeforeValidator, JsonValue

from edge.commands.args import StrictModel
from edge.identity import DeviceId
from edge.timefmt import parse_rfc3339

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def is_command_id(value: object) -> bool:
    """Whether `value` has the shape of an envelope `id`: a UUID, 8-4-4-4-12 hex digits."""
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def _command_id(value: object) -> object:
    if isinstance(value, str) and not is_command_id(value):
        raise ValueError("must be a UUID (8-4-4-4-12 hex digits)")
    return value


def _timestamp(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 timestamp string")
    return parse_rfc3339(value)


CommandId = Annotated[str, BeforeValidator(_command_id)]
Timestamp = Annotated[datetime, BeforeValidator(_timestamp)]


class Envelope(StrictModel):
    id: CommandId
    device_id: DeviceId
    type: str
    issued_at: Timestamp
    expires_at: Timestamp
    args: dict[str, JsonValue]
    sig: str
