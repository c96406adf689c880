"""`python -m sim.backend send` against brokers that require a login: a refused connection is
reported as such (exit 4), a client certificate logs in (the reference set-up)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sim.backend import EXIT_REFUSED, BackendKeys
from testbed.broker import Mosquitto
from testbed.fleet_broker import make_fleet_certs, reference_broker
from testbed.processes import REPO


def send(url: str, key: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim.backend", "send", "--url", url, "--key", str(key),
         "--device", "car-0001", "--type", "unlock", "--args", '{"order_id": "o1"}',
         "--timeout", "2", *args],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_a_refused_login_is_reported_as_refused(tmp_path: Path) -> None:
    key = tmp_path / "backend.key"
    BackendKeys.generate().save(key)
    with Mosquitto(tmp_path / "mosquitto", anonymous=False) as broker:
        for protocol in ("5", "3.1.1"):
            refused = send(broker.url, key, "--protocol", protocol, "--username", "nobody")
            assert refused.returncode == EXIT_REFUSED, refused.stderr
            assert "the broker refused the connection: Not authorized" in refused.stderr


def test_send_logs_in_with_a_client_certificate(tmp_path: Path) -> None:
    key = tmp_path / "backend.key"
    BackendKeys.generate().save(key)
    certs = make_fleet_certs(tmp_path / "certs", [])
    folder = certs.ca_file.parent
    with reference_broker(tmp_path / "mosquitto", certs) as broker:
        logged_in = send(
            broker.url, key, "--ca-file", str(certs.ca_file),
            "--cert-file", str(folder / "backend.pem"), "--key-file", str(folder / "backend.key"),
        )  # fmt: skip
        # No box answers here: logged in, subscribed and published, then no reply (exit 1).
        assert logged_in.returncode == 1, logged_in.stderr
        assert "no reply" in logged_in.stderr
        assert "New client connected" in broker.log()
        assert "u'backend'" in broker.log()
        without = send(broker.url, key, "--ca-file", str(certs.ca_file))
        assert without.returncode == EXIT_REFUSED, without.stderr  # no certificate
        assert "closed before CONNACK" in without.stderr
