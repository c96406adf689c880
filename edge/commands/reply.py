"""The reply to a command (contract section 2, `replies`) and the codes it carries."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, JsonValue, model_validator


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


class CommandReply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    command_id: str | None
    status: Literal["ok", "rejected", "failed"]
    code: RejectCode | FailureCode | None = None
    detail: str = ""
    result: dict[str, JsonValue] | None = None

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

    @classmethod
    def ok(cls, command_id: str, result: dict[str, JsonValue] | None = None) -> CommandReply:
        return cls(command_id=command_id, status="ok", result=result)

    @classmethod
    def rejected(cls, error: CommandRejected) -> CommandReply:
        return cls(
            command_id=error.command_id, status="rejected", code=error.code, detail=error.detail
        )

    @classmethod
    def failed(cls, command_id: str, code: FailureCode, detail: str) -> CommandReply:
        return cls(command_id=command_id, status="failed", code=code, detail=detail)

    def to_json(self) -> bytes:
        """The payload published on `replies`: every field present, null where empty."""
        return self.model_dump_json().encode()
