"""The reply to a command (contract section 2, `replies`) and the codes it carries."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

Via = Literal["local"]
"""Where a command came from when not from MQTT: a local channel (contract 1.1, section 3)."""


class RejectCode(StrEnum):
    """Why a command was refused; nothing changed on the box. Listed in the order checked."""

    BAD_JSON = "bad_json"
    BAD_SCHEMA = "bad_schema"
    WRONG_DEVICE = "wrong_device"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    REPLAYED = "replayed"
    NOT_ALLOWED = "not_allowed"  # the state machine's rules from here on
    BUSY = "busy"


class FailureCode(StrEnum):
    """Why an accepted command did not take effect on the hardware."""

    HARDWARE_TIMEOUT = "hardware_timeout"
    HARDWARE_FAULT = "hardware_fault"


class CommandRejected(Exception):
    """A command refused with `code`; `command_id` is None when no id could be read."""

    def __init__(self, code: RejectCode, detail: str, command_id: str | None = None) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.command_id = command_id


def _absent_by_default(schema: dict[str, JsonValue]) -> None:
    schema.pop("default", None)


class CommandReply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    command_id: str | None
    status: Literal["ok", "rejected", "failed"]
    code: RejectCode | FailureCode | None = None
    detail: str = ""
    result: dict[str, JsonValue] | None = None
    via: Via | SkipJsonSchema[None] = Field(
        default=None,
        description='"local" on a reply to a command that came through a local channel (e.g. '
        "an installer grant pasted into the box's page; contract 1.1, section 3); such a reply "
        "reaches replies through the outbox when the link is back. Absent (never null) on a "
        "reply to a command from MQTT.",
        json_schema_extra=_absent_by_default,
    )

    @model_validator(mode="after")
    def _code_matches_status(self) -> CommandReply:
        fits = {
            "ok": self.code is None,
            "rejected": isinstance(self.code, RejectCode),
            "failed": isinstance(self.code, FailureCode),
        }[self.status]
        if not fits:
            raise ValueError(f"status {self.status!r} does not go with code {self.code!r}")
        return self

    @model_serializer(mode="wrap")
    def _via_only_when_local(self, handler: SerializerFunctionWrapHandler) -> dict[str, JsonValue]:
        """Every field present, null where empty, but `via`: absent unless set, so a reply
        to an MQTT command is byte for byte what it was before `via` existed."""
        fields: dict[str, JsonValue] = handler(self)
        if self.via is None:
            fields.pop("via", None)
        return fields

    @classmethod
    def ok(cls, command_id: str, result: dict[str, JsonValue] | None = None) -> CommandReply:
        return cls(command_id=command_id, status="ok", result=result)

    @classmethod
    def rejected(cls, error: CommandRejected, via: Via | None = None) -> CommandReply:
        return cls(
            command_id=error.command_id,
            status="rejected",
            code=error.code,
            detail=error.detail,
            via=via,
        )

    @classmethod
    def failed(cls, command_id: str, code: FailureCode, detail: str) -> CommandReply:
        return cls(command_id=command_id, status="failed", code=code, detail=detail)

    def to_json(self) -> bytes:
        """The payload published on `replies`: every field present, null where empty (but
        `via`, present only on a reply to a local command)."""
        return self.model_dump_json().encode()
