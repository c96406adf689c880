"""The commands every kind of box serves (contract 1.1, section 3): `configure`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import Field, JsonValue, StringConstraints

from edge.commands.args import EVERY_KIND, CommandArgs, CommandSpec

SettingKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")]
MAX_SETTINGS = 32


class ConfigureArgs(CommandArgs):
    settings: dict[SettingKey, JsonValue] = Field(
        min_length=1,
        max_length=MAX_SETTINGS,
        description='Dotted config keys and their new values, e.g. {"telemetry.interval_s": '
        "5}. null returns a key to its default. Only the keys docs/remote-config.md lists.",
    )


COMMANDS_OF_EVERY_KIND: Mapping[str, CommandSpec] = {
    "configure": CommandSpec(
        EVERY_KIND,
        ConfigureArgs,
        "Changes the keys the docs list as remotely settable, checked like check-config (a "
        "bad one: bad_schema, detail names the key; nothing changes). Applied at once when no "
        "rental, reservation or parking session depends on what it changes, else when that "
        "ends (result: {applied, pending}). The previous config is kept; if the box does not "
        "become ready, or does not reach the broker, within config.rollback_s of applying, it "
        "returns to the previous config by itself. Events config_applied, config_rolled_back.",
    ),
}
