"""amqtt (a broker from PyPI, not mosquitto) as a child process on a free loopback port, with
a password file: the suite's second broker implementation (MQTT 3.1.1 only)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from pwdlib.hashers.argon2 import Argon2Hasher

from testbed.broker import START_TIMEOUT_S, TlsFiles, free_port
from testbed.waiting import wait_until


class AmqttBroker:
    def __init__(self, workdir: Path, users: dict[str, str]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.tls: TlsFiles | None = None
        self.log_file = workdir / "amqtt.log"
        passwords = workdir / "passwords"
        hasher = Argon2Hasher()
        passwords.write_text("".join(f"{u}:{hasher.hash(p)}\n" for u, p in users.items()))
        self.config_file = workdir / "amqtt.yaml"
        self.config_file.write_text(
            "listeners:\n"
            "  default:\n"
            "    type: tcp\n"
            f"    bind: {self.host}:{self.port}\n"
            "plugins:\n"
            "  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
            "    allow_anonymous: false\n"
            "  amqtt.plugins.authentication.FileAuthPlugin:\n"
            f"    password_file: {passwords}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> None:
        with self.log_file.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(self.config_file)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        proc = self.proc

        def listening() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"amqtt exited {proc.returncode}: {self.log()}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
            except OSError:
                return False
            return True

        wait_until(listening, START_TIMEOUT_S * 3, lambda: f"amqtt listening: {self.log()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def __enter__(self) -> AmqttBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
