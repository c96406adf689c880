"""The agent's config (contract section 7): what loads, and every problem named by its key."""

from __future__ import annotations

import base64
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from edge.config import ConfigError, load_config, parse_config, summary
from sim.backend import BackendKeys

KEYS = BackendKeys.generate()
KEY = KEYS.public_key_b64

CONTRACT_EXAMPLE = f"""
[device]
id = "car-0001"
kind = "vehicle"            # vehicle | cabinet | parking

[mqtt]
url = "mqtts://broker.example:8883"

[security]
backend_public_key = "{KEY}"
clock_skew_s = 30
max_ttl_s = 86400

[storage]
path = "/var/lib/edge-agent/edge.db"
"""

VEHICLE = """
[vehicle]
profile = "reference"
command_timeout_s = 1.5
command_retries = 2
obd_poll_interval_s = 1.0

[vehicle.can]
interface = "slcan"
channel = "/dev/pts/3"
bitrate = 500000
options = { tty_baudrate = 115200 }
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def test_the_contract_example_with_a_vehicle_section_loads() -> None:
    config = parse_config(CONTRACT_EXAMPLE + VEHICLE)
    assert config.device.id == "car-0001"
    assert config.device.kind == "vehicle"
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.tls) == ("broker.example", 8883, True)
    assert config.security.clock_skew_s == 30
    assert config.security.max_ttl_s == 86400
    raw = config.security.public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert base64.b64encode(raw).decode() == KEY
    assert config.storage.path == Path("/var/lib/edge-agent/edge.db")
    assert config.vehicle is not None
    assert config.vehicle.can.options == {"tty_baudrate": 115200}
    assert summary(config) == (
        "ok: car-0001 vehicle mqtts://broker.example:8883 can slcan:/dev/pts/3@500000"
        " profile reference store /var/lib/edge-agent/edge.db"
    )


def test_defaults_fill_what_is_left_out() -> None:
    config = parse_config(
        f"""
        device = {{ id = "car-0001", kind = "vehicle" }}
        mqtt = {{ url = "mqtt://127.0.0.1:1883" }}
        security = {{ backend_public_key = "{KEY}" }}
        storage = {{ path = "edge.db" }}
        [vehicle]
        """
    )
    assert (config.security.clock_skew_s, config.security.max_ttl_s) == (30, 86400)
    assert config.telemetry.interval_s == 10
    assert config.log.level == "info"
    assert config.vehicle is not None
    assert config.vehicle.profile == "reference"
    assert Decimal(str(config.vehicle.command_timeout_s)) == Decimal("1.5")
    assert config.vehicle.command_retries == 2
    assert config.vehicle.obd_poll_interval_s == 1.0
    can = config.vehicle.can
    assert (can.interface, can.channel, can.bitrate, can.options) == (
        "socketcan",
        "can0",
        500000,
        {},
    )


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(CONTRACT_EXAMPLE + VEHICLE, encoding="utf-8")
    assert load_config(path).device.id == "car-0001"


def test_every_problem_is_reported_at_once() -> None:
    text = (
        CONTRACT_EXAMPLE.replace('id = "car-0001"', 'id = "car 0001"')
        .replace('url = "mqtts://broker.example:8883"', 'urll = "mqtt://x"')
        .replace("clock_skew_s = 30", "clock_skew_s = -1")
        .replace("max_ttl_s = 86400", 'max_ttl_s = "1 day"')
        + VEHICLE.replace("bitrate = 500000", "bitrate = 0")
        .replace('interface = "slcan"', 'interface = "udp_multicast"')
        .replace("command_retries = 2", "command_retries = 2.5")
        + '\n[log]\nlevel = "loud"\n'
    )
    assert sorted(problems(text)) == sorted(
        [
            "device.id: must be 1 to 64 of A-Z a-z 0-9 _ -",
            "mqtt.url: missing",
            "mqtt.urll: unknown key",
            "security.clock_skew_s: must be at least 0",
            "security.max_ttl_s: must be a number",
            "log.level: must be one of 'debug', 'info', 'warning' or 'error'",
            "vehicle.command_retries: must be an integer",
            "vehicle.can.interface: udp_multicast is refused: its CAN traffic goes out on the "
            "network and can leave the machine; use socketcan, slcan or virtual",
            "vehicle.can.bitrate: must be greater than 0",
        ]
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            'path = "/var',
            'pth = "/var',
            ["storage.path: missing", "storage.pth: unknown key"],
            id="unknown-key",
        ),
        pytest.param(
            "[storage]",
            "[storag]",
            ["storag: unknown key", "storage: section missing"],
            id="unknown-section",
        ),
        pytest.param(
            KEY,
            "not base64!",
            "security.backend_public_key: not base64 of 32 bytes",
            id="not-base64",
        ),
        pytest.param(
            KEY,
            base64.b64encode(b"\1" * 31).decode(),
            "security.backend_public_key: not base64 of 32 bytes",
            id="31-bytes",
        ),
        pytest.param(
            "bitrate = 500000",
            'bitrate = "500000"',
            "vehicle.can.bitrate: must be an integer",
            id="number-as-string",
        ),
        pytest.param(
            'interface = "slcan"',
            'interface = "slcann"',
            "vehicle.can.interface: unknown python-can interface 'slcann'",
            id="unknown-interface",
        ),
        pytest.param(
            "tty_baudrate = 115200",
            "bitrate = 250000",
            "vehicle.can.options: sets bitrate: set vehicle.can.bitrate instead",
            id="option-shadows-key",
        ),
        pytest.param(
            'channel = "/dev/pts/3"',
            'channel = ""',
            "vehicle.can.channel: must not be empty",
            id="empty-channel",
        ),
        pytest.param(
            'kind = "vehicle"',
            'kind = "boat"',
            "device.kind: must be one of 'vehicle', 'cabinet' or 'parking'",
            id="unknown-kind",
        ),
        pytest.param(
            'url = "mqtts://broker.example:8883"',
            'url = "http://broker.example"',
            "mqtt.url: must start with mqtt:// or mqtts://",
            id="mqtt-url",
        ),
        pytest.param(
            "clock_skew_s = 30",
            "clock_skew_s = 300000",
            "security.clock_skew_s: must be at most 86400",
            id="skew-slipped-digit",
        ),
        pytest.param("[vehicle.can]", "[vehicle.can.x]", "vehicle.can.x: unknown key", id="deep"),
    ],
)
def test_each_problem_is_one_line_naming_the_key(
    old: str, new: str, expected: str | list[str]
) -> None:
    text = CONTRACT_EXAMPLE + VEHICLE
    assert old in text
    found = problems(text.replace(old, new, 1))
    assert sorted(found) == ([expected] if isinstance(expected, str) else expected)


def test_a_missing_section_is_named() -> None:
    text = (CONTRACT_EXAMPLE + VEHICLE).replace("[security]", "[unused]")
    assert "security: section missing" in problems(text)


@pytest.mark.parametrize(
    ("kind", "with_vehicle", "expected"),
    [
        pytest.param("vehicle", False, ["vehicle: section missing"], id="vehicle-without"),
        pytest.param("cabinet", False, ["cabinet: section missing"], id="cabinet"),
        pytest.param("parking", False, ["parking: section missing"], id="parking"),
        pytest.param(
            "parking",
            True,
            [
                "parking: section missing",
                'vehicle: only for device.kind = "vehicle", this box is "parking"',
            ],
            id="parking-with-vehicle",
        ),
    ],
)
def test_the_kind_and_its_section_must_match(
    kind: str, with_vehicle: bool, expected: list[str]
) -> None:
    text = CONTRACT_EXAMPLE.replace('kind = "vehicle"', f'kind = "{kind}"')
    assert sorted(problems(text + (VEHICLE if with_vehicle else ""))) == expected


def test_a_toml_syntax_error_is_one_line_with_its_position() -> None:
    (line,) = problems('[device]\nid = "car-0001"\nkind = \n')
    assert line.startswith("<config>: TOML syntax error: ")
    assert "line 3" in line


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [f"{path}: no such file"]


def test_a_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(CONTRACT_EXAMPLE.replace("car-0001", "wagen-ä").encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (line,) = caught.value.problems
    assert line.startswith(f"{path}: not UTF-8")
