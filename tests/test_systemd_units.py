"""The files an installer puts on a box: the unit passes `systemd-analyze verify` and holds
what the agent relies on, the networkd file matches the vehicle's bitrate, the udev rule
is well formed, and the install script, the unit and the example configs agree on paths."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from edge.systemd import PINGS_PER_WATCHDOG, START_EXTENSION_S

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "systemd" / "edge-agent.service"
NETWORK = REPO / "systemd" / "80-edge-can0.network"
UDEV = REPO / "systemd" / "99-edge-rs485.rules"
INSTALL = REPO / "scripts" / "install-service"
INSTALLED_AGENT = "/opt/edge-agent/venv/bin/edge-agent"
INSTALLED_CONFIG = "/etc/edge-agent/agent.toml"


def unit_settings(text: str) -> dict[str, dict[str, list[str]]]:
    """systemd's ini dialect: a key may repeat; comments start with # or ;."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|min)?", value)
    assert match, value
    number, unit = int(match[1]), match[2] or "s"
    return number * {"ms": 0.001, "s": 1, "min": 60}[unit]


@pytest.fixture(scope="module")
def service() -> dict[str, list[str]]:
    return unit_settings(UNIT.read_text())["Service"]


def test_systemd_analyze_verify_passes_without_a_warning(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "scripts/bootstrap.sh installs systemd (for systemd-analyze) when missing"
    # verify checks that ExecStart is executable: point it at this checkout's agent.
    agent = REPO / ".venv" / "bin" / "edge-agent"
    assert agent.exists()
    unit = tmp_path / "edge-agent.service"
    unit.write_text(UNIT.read_text().replace(INSTALLED_AGENT, str(agent)))
    done = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if str(unit) in line] == []
    # And it does catch a broken unit (so the check above means something).
    broken = tmp_path / "broken" / "edge-agent.service"
    broken.parent.mkdir()
    broken.write_text(unit.read_text().replace("WatchdogSec=30s", "WatchdogSec=soon"))
    bad = subprocess.run(
        [analyze, "verify", "--man=no", str(broken)], capture_output=True, text=True, timeout=60
    )
    assert "Failed to parse" in bad.stderr


def test_the_unit_holds_what_the_agent_relies_on(service: dict[str, list[str]]) -> None:
    assert service["Type"] == ["notify"]
    assert service["ExecStart"] == [f"{INSTALLED_AGENT} run --config {INSTALLED_CONFIG}"]
    assert service["Restart"] == ["on-failure"]
    assert service["RestartPreventExitStatus"] == ["2"]  # edge.cli's exit for a bad config
    watchdog = seconds(service["WatchdogSec"][0])
    assert watchdog / PINGS_PER_WATCHDOG <= 10  # a beat at least every 10 s
    # While starting, each beat asks for START_EXTENSION_S more: more than a beat apart.
    assert seconds(service["TimeoutStartSec"][0]) > watchdog / PINGS_PER_WATCHDOG
    assert watchdog / PINGS_PER_WATCHDOG < START_EXTENSION_S
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "User": "edge-agent",
        "StandardOutput": "journal",
    }.items():
        assert service[key] == [value], key
    assert "dialout" in service["SupplementaryGroups"][0].split()
    families = service["RestrictAddressFamilies"][0].split()
    assert {"AF_UNIX", "AF_INET", "AF_INET6", "AF_CAN"} <= set(families)
    # The clock's sync check reads adjtimex: no @clock syscall filter, no ProtectClock.
    assert "ProtectClock" not in service
    assert "SystemCallFilter" not in service


@pytest.mark.parametrize("kind", ["vehicle", "cabinet", "parking"])
def test_the_store_of_every_example_config_is_writable_under_the_unit(
    service: dict[str, list[str]], kind: str
) -> None:
    config = tomllib.loads((REPO / "config" / f"{kind}.example.toml").read_text())
    store_dir = Path(config["storage"]["path"]).parent
    assert str(store_dir) in service["ReadWritePaths"][0].split()
    assert f"/var/lib/{service['StateDirectory'][0]}" == str(store_dir)


def test_the_config_folder_is_writable_under_the_unit_for_configure(
    service: dict[str, list[str]],
) -> None:
    assert str(Path(INSTALLED_CONFIG).parent) in service["ReadWritePaths"][0].split()
    script = INSTALL.read_text()
    assert 'install -d -m 0770 -o root -g "$SERVICE_USER" "$CONFIG_DIR"' in script


def test_the_install_script_installs_what_the_unit_runs() -> None:
    script = INSTALL.read_text()
    assert INSTALL.stat().st_mode & 0o111, "scripts/install-service is not executable"
    assert "PREFIX=/opt/edge-agent" in script
    assert "CONFIG_DIR=/etc/edge-agent" in script
    assert "CONFIG=$CONFIG_DIR/agent.toml" in script
    assert "SERVICE_USER=edge-agent" in script
    assert "systemd/edge-agent.service" in script
    assert NETWORK.name in script
    done = subprocess.run(["bash", "-n", str(INSTALL)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    usage = subprocess.run([str(INSTALL)], capture_output=True, text=True, timeout=30)
    assert usage.returncode == 2
    assert "usage:" in usage.stderr


def test_networkd_brings_can0_up_at_the_vehicle_bitrate_and_recovers_from_bus_off() -> None:
    network = configparser.ConfigParser()
    network.optionxform = str  # type: ignore[assignment,method-assign]
    network.read_string(NETWORK.read_text())
    assert network["Match"]["Name"] == "can0"
    assert network["Link"]["RequiredForOnline"] == "no"
    vehicle = tomllib.loads((REPO / "config" / "vehicle.example.toml").read_text())["vehicle"]
    assert vehicle["can"]["channel"] == "can0"
    bitrate = network["CAN"]["BitRate"]
    assert (
        int(bitrate.removesuffix("K")) * (1000 if bitrate.endswith("K") else 1)
        == (vehicle["can"]["bitrate"])
    )
    assert 0 < seconds(network["CAN"]["RestartSec"]) <= 1


UDEV_PAIR = re.compile(r'\s*([A-Z]+(?:\{[^}]+\})?)\s*(==|!=|\+=|=|:=)\s*"([^"]*)"\s*(?:,|$)')


def test_the_udev_rule_is_well_formed_and_names_the_adapter() -> None:
    rules = [
        line
        for line in UDEV.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert rules
    for rule in rules:
        pairs = []
        position = 0
        while position < len(rule):
            match = UDEV_PAIR.match(rule, position)
            assert match, f"cannot parse the rule at {rule[position:]!r}"
            pairs.append(match.groups())
            position = match.end()
        keys = {key: (op, value) for key, op, value in pairs}
        assert keys["SUBSYSTEM"] == ("==", "tty")
        assert keys["SYMLINK"] == ("+=", "edge-rs485")
        assert keys["GROUP"] == ("=", "dialout")
    for kind in ("cabinet", "parking"):
        assert "/dev/edge-rs485" in (REPO / "config" / f"{kind}.example.toml").read_text()
