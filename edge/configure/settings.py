"""A `configure`'s settings checked against the box's config file, as `check-config` checks it.

The settings go into the file's own TOML data (null takes a key out: back to its default),
and the whole is validated by edge.config. Every problem names its key as
`settings.<dotted key>: what is wrong`. The TLS files a new [mqtt] names are loaded the way
the link would load them, so a file that is missing or does not fit its key is refused here
and not discovered after a restart.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, JsonValue

from edge.config import AgentConfig, ConfigError, validate_config
from edge.configure.config_file import with_settings
from edge.configure.keys import KIND_SECTIONS, REMOTE_KEYS
from edge.identity import BoxKind
from edge.mqtt.config import MqttConfig


class SettingsRefused(ValueError):
    """Settings that cannot be applied; `problems` names each key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class CheckedSettings:
    config: AgentConfig  # the config with the settings in
    content: bytes  # the config file with the settings in
    changed: list[str]  # the keys whose value differs from the current file's


def check_settings(
    current_file: Path, kind: BoxKind, settings: Mapping[str, JsonValue]
) -> CheckedSettings:
    """The config `settings` make of the file at `current_file`; SettingsRefused naming every
    key that cannot be set, or every value that does not pass."""
    problems = [
        f"settings.{key}: {problem}"
        for key in settings
        if (problem := _key_problem(key, kind)) is not None
    ]
    problems += [
        f"settings.{key}: must be a string, number or true/false (or null for the default)"
        for key, value in settings.items()
        if isinstance(value, dict | list)
    ]
    if problems:
        raise SettingsRefused(problems)
    text = current_file.read_text(encoding="utf-8")
    current = tomllib.loads(text)
    changed = [key for key, value in settings.items() if _lookup(current, key) != value]
    content = with_settings(text, settings)
    try:
        config = validate_config(tomllib.loads(content.decode("utf-8")))
    except ConfigError as exc:
        problems = [_within_settings(problem, settings) for problem in exc.problems]
        raise SettingsRefused(problems) from None
    if any(key.startswith("mqtt.") for key in changed):
        _check_tls_files(config.mqtt, [key for key in changed if key.startswith("mqtt.")])
    return CheckedSettings(config, content, changed)


def _key_problem(key: str, kind: BoxKind) -> str | None:
    if key in REMOTE_KEYS:
        section = key.split(".", 1)[0]
        if section in KIND_SECTIONS and section != kind:
            return f'only for device.kind = "{section}", this box is "{kind}"'
        return None
    if _is_config_key(key):
        return "not remotely settable (docs/remote-config.md lists the keys that are)"
    return "unknown key"


def _is_config_key(key: str) -> bool:
    model: type[BaseModel] | None = AgentConfig
    for part in key.split("."):
        if model is None or part not in model.model_fields:
            return False
        annotation = model.model_fields[part].annotation
        model = next(
            (
                candidate
                for candidate in (annotation, *getattr(annotation, "__args__", ()))
                if isinstance(candidate, type) and issubclass(candidate, BaseModel)
            ),
            None,
        )
    return True


def _lookup(data: Mapping[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _within_settings(problem: str, settings: Mapping[str, JsonValue]) -> str:
    """A check-config problem, named by the setting it comes from where one matches."""
    key = problem.split(":", 1)[0]
    for setting in settings:
        if key == setting or key.startswith(setting + "."):
            return f"settings.{problem}"
    for setting in settings:
        if setting.startswith(key + "."):  # a check of the section the setting is in
            return f"settings.{setting}: {problem}"
    # a whole-section check (e.g. `mqtt: cert_file and key_file: set both or neither`)
    return f"settings: {problem}"


def _check_tls_files(mqtt: MqttConfig, keys: list[str]) -> None:
    from edge.mqtt.link import MqttSetupError, apply_credentials, make_client

    try:
        apply_credentials(make_client(mqtt, "configure-check"), mqtt)
    except MqttSetupError as exc:
        tls_keys = [key for key in keys if key.endswith("_file")] or keys
        raise SettingsRefused([f"settings.{tls_keys[0]}: {exc}"]) from None
