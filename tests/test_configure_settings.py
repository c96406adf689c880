"""`configure`'s settings checked against a config file; the file replaced atomically with its
comments kept; the docs' table of remote keys is the code's."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest

from edge.configure.config_file import (
    previous_path,
    restore_previous,
    with_settings,
    write_settings,
)
from edge.configure.keys import REMOTE_KEYS
from edge.configure.settings import SettingsRefused, check_settings

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config" / "cabinet.example.toml"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(EXAMPLE.read_text())
    os.chmod(path, 0o640)
    return path


def test_the_docs_list_exactly_the_remote_keys() -> None:
    doc = (REPO / "docs" / "remote-config.md").read_text()
    rows = re.findall(r"^\| `([a-z_.]+)` \| (yes|no) \|", doc, re.MULTILINE)
    assert {key: waits == "yes" for key, waits in rows} == {
        key: spec.waits for key, spec in REMOTE_KEYS.items()
    }


def test_good_settings_make_the_new_config_and_keep_the_comments(config_file: Path) -> None:
    checked = check_settings(
        config_file, "cabinet", {"cabinet.min_charge_pct": 60, "telemetry.interval_s": 10}
    )
    assert checked.config.cabinet is not None
    assert checked.config.cabinet.min_charge_pct == 60
    assert checked.changed == ["cabinet.min_charge_pct"]  # 10 is what the file says already
    text = checked.content.decode()
    assert "min_charge_pct = 60" in text
    assert "# Check a file with:" in text  # the operator's comments stay


def test_null_takes_a_key_back_to_its_default(config_file: Path) -> None:
    checked = check_settings(config_file, "cabinet", {"cabinet.take_timeout_s": None})
    assert "take_timeout_s" not in tomllib.loads(checked.content.decode())["cabinet"]


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"cabinet.colour": 1}, "settings.cabinet.colour: unknown key"),
        ({"cabinet.serial.port": "/dev/x"}, "settings.cabinet.serial.port: not remotely"),
        ({"vehicle.command_retries": 3}, "settings.vehicle.command_retries: only for"),
        ({"cabinet.min_charge_pct": 101}, "settings.cabinet.min_charge_pct: must be at most 100"),
        ({"cabinet.min_charge_pct": "80"}, "settings.cabinet.min_charge_pct: must be an integer"),
        ({"log.level": ["debug"]}, "settings.log.level: must be a string, number"),
        ({"mqtt.probe_timeout_s": 0}, "settings.mqtt.probe_timeout_s: must be greater than 0"),
    ],
)
def test_a_bad_setting_names_its_key(
    config_file: Path, settings: dict[str, object], problem: str
) -> None:
    with pytest.raises(SettingsRefused) as refused:
        check_settings(config_file, "cabinet", settings)  # type: ignore[arg-type]
    assert any(line.startswith(problem) for line in refused.value.problems), refused.value


def test_the_file_is_replaced_whole_and_the_previous_kept_with_its_mode(
    config_file: Path,
) -> None:
    before = config_file.read_bytes()
    new = with_settings(before.decode(), {"telemetry.interval_s": 3})
    write_settings(config_file, new)
    assert config_file.read_bytes() == new
    assert previous_path(config_file).read_bytes() == before
    assert config_file.stat().st_mode & 0o777 == 0o640
    assert previous_path(config_file).stat().st_mode & 0o777 == 0o640
    assert not [p for p in config_file.parent.iterdir() if p.name.endswith(".tmp")]
    assert restore_previous(config_file)
    assert config_file.read_bytes() == before
