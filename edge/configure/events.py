"""What `configure` publishes on `events` (contract 1.1, section 3)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from edge.wire.fields import EventBody


class ConfigApplied(EventBody):
    """A configure's settings are in force: the box came back ready and connected with them
    within config.rollback_s."""

    event_type: ClassVar[str] = "config_applied"
    fault: ClassVar[bool] = False

    command_id: str = Field(description="The configure command that changed them.")
    keys: list[str] = Field(description="The keys it changed.")


class ConfigRolledBack(EventBody):
    """The box returned to its previous config by itself: with the new one it did not become
    ready, or did not reach the broker, within config.rollback_s."""

    event_type: ClassVar[str] = "config_rolled_back"
    fault: ClassVar[bool] = True

    command_id: str = Field(description="The configure command whose settings were undone.")
    keys: list[str] = Field(description="The keys it had changed.")
    reason: str = Field(description="What the box could not do with the new config.")


CONFIG_EVENTS: tuple[type[EventBody], ...] = (ConfigApplied, ConfigRolledBack)
