"""The reference broker set-up of deploy/mosquitto/ on a free loopback port: its certificates
made by its own script, its listener options and its ACL file, as the deploy files say."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Final

from testbed.broker import Mosquitto, TlsFiles

DEPLOY: Final = Path(__file__).resolve().parent.parent / "deploy" / "mosquitto"
# The reference config's lines that the test broker takes as they are (the others, listener,
# file paths, persistence and logging, are the fixture's own).
TAKEN: Final = frozenset(
    {"require_certificate", "use_identity_as_username", "tls_version", "max_inflight_messages"}
)


def make_certs_module() -> ModuleType:
    """deploy/mosquitto/make_certs.py, loaded as a module."""
    spec = importlib.util.spec_from_file_location("make_certs", DEPLOY / "make_certs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_fleet_certs(out: Path, boxes: list[str], host: str = "127.0.0.1") -> TlsFiles:
    """The CA, the broker's certificate for `host`, the backend's and each box's, in `out`
    (as `make_certs.py --out OUT --broker-host HOST --backend --box ...` makes them)."""
    certs = make_certs_module()
    args = ["--out", str(out), "--broker-host", host, "--backend"]
    for box in boxes:
        args += ["--box", box]
    certs.main(args)
    return TlsFiles(out / "ca.pem", out / "server.pem", out / "server.key")


def reference_broker(workdir: Path, certs: TlsFiles) -> Mosquitto:
    """A Mosquitto (not started) with the reference listener options and ACL."""
    lines = []
    for line in (DEPLOY / "mosquitto.conf").read_text().splitlines():
        words = line.split()
        if words and words[0] in TAKEN:
            lines.append(line)
    return Mosquitto(
        workdir, tls=certs, anonymous=False, acl=(DEPLOY / "acl").read_text(), extra=lines
    )
