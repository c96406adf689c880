"""A real mosquitto on a free 127.0.0.1 port, and a cloud-side MQTT client for tests.

`Mosquitto` keeps its config, persistence file and log in its own directory, so a
`restart()` on the same port keeps persistent sessions, their queued QoS 1 messages and
the retained messages. `CloudClient` stands where the fleet backend would: it subscribes to
`fleet/v1/+/#` and collects what arrives.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from testbed.waiting import wait_until, wait_until_async

START_TIMEOUT_S = 10.0


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(found).exists():
        raise FileNotFoundError("mosquitto not found on PATH nor at /usr/sbin/mosquitto")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    cert_file: Path
    key_file: Path


class Mosquitto:
    """mosquitto as a child process; `start()`, `stop()`, `kill()`, `restart()` on one port."""

    def __init__(
        self,
        workdir: Path,
        *,
        tls: TlsFiles | None = None,
        anonymous: bool = True,
        acl: str | None = None,
        extra: Sequence[str] = (),
    ) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.tls = tls
        self.anonymous = anonymous
        self.extra = tuple(extra)  # more lines for the listener, e.g. require_certificate true
        self.config_file = workdir / "mosquitto.conf"
        self.log_file = workdir / "mosquitto.log"
        self.acl_file = workdir / "acl" if acl is not None else None
        self.proc: subprocess.Popen[bytes] | None = None
        if acl is not None:
            self.set_acl(acl)
        self._write_config()

    def set_acl(self, text: str) -> None:
        """Writes the ACL file (mosquitto's acl_file syntax); `reload()` makes it count."""
        assert self.acl_file is not None, "a broker made without an ACL keeps none"
        self.acl_file.write_text(text)

    def reload(self) -> None:
        """SIGHUP: mosquitto reads its ACL file again (connections stay)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def _write_config(self) -> None:
        lines = [
            # As root, mosquitto would switch to the `mosquitto` user and lose its files.
            f"user {pwd.getpwuid(os.geteuid()).pw_name}",
            f"listener {self.port} {self.host}",
            f"allow_anonymous {'true' if self.anonymous else 'false'}",
            "persistence true",
            f"persistence_location {self.workdir}/",
            "persistence_file mosquitto.db",
            f"log_dest file {self.log_file}",
            "log_type all",
            "connection_messages true",
            "max_queued_messages 100000",
        ]
        if self.tls:
            lines += [
                f"cafile {self.tls.ca_file}",
                f"certfile {self.tls.cert_file}",
                f"keyfile {self.tls.key_file}",
            ]
        if self.acl_file is not None:
            lines.append(f"acl_file {self.acl_file}")
        lines += self.extra
        self.config_file.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("mosquitto is already running")
        self.proc = subprocess.Popen(
            [mosquitto_binary(), "-c", str(self.config_file)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        proc = self.proc

        def listening() -> bool:
            if proc.poll() is not None:
                stderr = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"mosquitto exited {proc.returncode}: {stderr}{self.log()}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
            except OSError:
                return False
            return True

        try:
            wait_until(
                listening,
                START_TIMEOUT_S,
                lambda: f"mosquitto listening on {self.port}: {self.log()}",
                poll_s=0.02,
            )
        except TimeoutError:
            self.kill()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: mosquitto writes its persistence file and exits."""
        self._end(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL: what was not yet persisted is gone."""
        self._end(signal.SIGKILL, 10.0)

    def pause(self) -> None:
        """SIGSTOP: connections stay open, nothing is read or acknowledged."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def _end(self, sig: signal.Signals, timeout: float) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            if sig != signal.SIGKILL:
                proc.send_signal(signal.SIGCONT)  # a paused broker cannot act on SIGTERM
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr:
            proc.stderr.close()

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Broker(Protocol):
    """Where a client connects: a Mosquitto, or another broker the tests start."""

    host: str
    port: int
    tls: TlsFiles | None


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool

    @property
    def device_id(self) -> str:
        return self.topic.split("/")[2]

    @property
    def suffix(self) -> str:
        return self.topic.split("/", 3)[3]

    def json(self) -> Any:
        return json.loads(self.payload)


class CloudClient:
    """The cloud side: a paho client on its own network thread (loop_start), subscribed to
    `fleet/v1/+/#` at QoS 1, collecting every message; it reconnects on its own.

    With `clean_session=False` (the default) the broker keeps its subscription and queues
    messages for it while it is away, including across a broker restart.
    """

    def __init__(
        self,
        broker: Broker,
        client_id: str = "cloud",
        *,
        clean_session: bool = False,
        subscribe: str = "fleet/v1/+/#",
        username: str | None = None,
        password: str | None = None,
        client_cert: tuple[Path, Path] | None = None,
    ) -> None:
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._subscribe = subscribe
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session
        )
        self.client.reconnect_delay_set(min_delay=0.05, max_delay=0.2)  # type: ignore[arg-type]
        if username is not None:
            self.client.username_pw_set(username, password)
        if broker.tls:
            cert, key = client_cert or (None, None)
            self.client.tls_set(
                ca_certs=str(broker.tls.ca_file),
                certfile=None if cert is None else str(cert),
                keyfile=None if key is None else str(key),
            )
        self._subscribed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self._subscribed.set()
        self.client.connect(broker.host, broker.port, keepalive=10)
        self.client.loop_start()
        if not self._subscribed.wait(START_TIMEOUT_S):
            self.close()
            raise TimeoutError("cloud client did not subscribe")

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any
    ) -> None:
        if not rc.is_failure:
            client.subscribe(self._subscribe, qos=1)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(
                Received(
                    message.topic,
                    bytes(message.payload),
                    message.qos,
                    bool(message.retain),
                    bool(message.dup),
                )
            )
            self._cond.notify_all()

    def select(self, match: Callable[[Received], bool]) -> list[Received]:
        with self._cond:
            return [m for m in self.messages if match(m)]

    def wait_for(self, match: Callable[[Received], bool], timeout: float = 10.0) -> Received:
        """The first message so far that matches, or the next one to arrive."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.messages:
                    if match(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no matching message; got {self.messages[-5:]}")
                self._cond.wait(left)

    def wait_until(
        self, condition: Callable[[list[Received]], bool], timeout: float = 10.0
    ) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not condition(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"condition not met; last messages {self.messages[-5:]}")
                self._cond.wait(left)

    async def wait_for_async(
        self, match: Callable[[Received], bool], within_s: float = 10.0
    ) -> Received:
        """`wait_for` for a test running on an asyncio loop: polls, never blocks the loop."""
        found = await wait_until_async(
            lambda: self.select(match),
            within_s,
            lambda: f"a matching message; got {self.messages[-5:]}",
        )
        return found[0]

    async def wait_until_async(
        self, condition: Callable[[list[Received]], bool], within_s: float = 10.0
    ) -> None:
        def met() -> bool:
            with self._cond:
                return condition(self.messages)

        await wait_until_async(
            met, within_s, lambda: f"the condition; last messages {self.messages[-5:]}"
        )

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publishes and waits for the broker's acknowledgement."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout=START_TIMEOUT_S)
        if not info.is_published():
            raise TimeoutError(f"publish to {topic} not acknowledged")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def retained(broker: Mosquitto, topic: str, timeout: float = 5.0) -> Any:
    """The retained message of `topic` as JSON, read by a fresh clean-session subscriber."""
    got = threading.Event()
    box: list[bytes] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
    if broker.tls:
        client.tls_set(ca_certs=str(broker.tls.ca_file))

    def on_connect(c: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        c.subscribe(topic, qos=1)

    def on_message(c: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.retain and not box:
            box.append(bytes(message.payload))
            got.set()

    client.on_connect = on_connect
    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        if not got.wait(timeout):
            raise TimeoutError(f"no retained message on {topic}")
        return json.loads(box[0])
    finally:
        client.disconnect()
        client.loop_stop()


def make_tls_files(directory: Path, host: str = "127.0.0.1") -> TlsFiles:
    """A fresh CA and a server certificate it signed for `host` (an IP address SAN), made by
    deploy/mosquitto/make_certs.py."""
    from testbed.fleet_broker import make_certs_module

    directory.mkdir(parents=True, exist_ok=True)
    certs = make_certs_module()
    certs.make_leaf(directory, "server", certs.make_ca(directory), server_host=host)
    return TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
