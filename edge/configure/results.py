"""The result of a `configure` reply."""

from __future__ import annotations

from pydantic import Field

from edge.wire.fields import ReplyResult


class ConfigureResult(ReplyResult):
    applied: bool = Field(description="True when the settings were put in force at once.")
    pending: list[str] = Field(
        description="Keys waiting for the running rental, reservation or session to end."
    )


RESULTS: tuple[type[ReplyResult], ...] = (ConfigureResult,)
