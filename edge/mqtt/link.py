"""The box's MQTT link (contract section 2), on paho-mqtt 2.x and the agent's one asyncio loop.

MQTT 3.1.1 with clean session false: the broker keeps the `commands` subscription and the
QoS 1 commands queued for the box while it is away, for as long as the broker keeps
sessions (`config.session_expiry_s` is an MQTT 5 setting and is not used with 3.1.1).

What goes out:
- `status`, retained, QoS 1: `{"online": true, ...}` on each connection; the Last Will and
  a clean `stop()` leave `{"online": false}`.
- `records` and `replies` from the durable outbox (see edge/mqtt/outbox.py for the rule on
  repeats): QoS 1, in id order, deleted from the store on PUBACK only.
- `events`, QoS 1: while offline kept in a bounded queue in memory (oldest dropped, counted).
- `telemetry`, QoS 0: dropped (counted) while offline; a snapshot is stale by the next one.

`run()` keeps connecting until `stop()` or cancellation. Network trouble (refused, DNS,
TLS, a broker gone mid-session) is logged and retried with backoff; only the store's own
errors end `run()` with an exception.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import BaseModel

from edge.identity import BoxKind
from edge.logs import get_logger
from edge.mqtt.backoff import Backoff
from edge.mqtt.bridge import PahoLoopBridge
from edge.mqtt.config import MqttConfig
from edge.mqtt.inbox import CommandInbox, IncomingCommand
from edge.mqtt.outbox import OutboxPump, OutboxStore
from edge.mqtt.topics import Topics, json_payload
from edge.store import OutboxItem
from edge.timefmt import rfc3339
from edge.wire.fields import JsonObject
from edge.wire.status import StatusOffline, StatusOnline

STATUS_OFFLINE: Final = json_payload(StatusOffline(online=False))
OUTBOX_WINDOW: Final = 16  # outbox items in flight at once
OFFLINE_EVENTS_MAX: Final = 1000
# stop(): how long in-flight PUBACKs and a running command may take, then how long the
# offline status's PUBACK and the DISCONNECT may take.
STOP_GRACE_S: Final = 3.0
STOP_STATUS_S: Final = 1.0
STOP_DISCONNECT_S: Final = 1.0


class MqttSetupError(ValueError):
    """The [mqtt] config cannot be applied, e.g. an unreadable CA, certificate or key file."""


@dataclass
class LinkCounters:
    published: int = 0  # outbox items handed to the client (first sends; not paho's DUP resends)
    acked: int = 0  # outbox items PUBACKed and deleted from the store
    connects: int = 0  # CONNACKs accepted
    reconnects: int = 0  # of those, the ones after the first
    connect_failures: int = 0  # attempts that ended without an accepted CONNACK
    telemetry_dropped: int = 0  # snapshots not sent for want of a connection
    events_dropped: int = 0  # events pushed out of the full offline queue


class MqttLink:
    """One box's connection to the fleet broker. Use it from the agent's loop thread only.

    `store` is the agent's Store (only `outbox_pending` and `outbox_ack` are used);
    `on_command(payload)` gets each command's raw bytes, one at a time.
    """

    def __init__(
        self,
        config: MqttConfig,
        *,
        device_id: str,
        kind: BoxKind,
        version: str,
        store: OutboxStore,
        on_command: Callable[[bytes], Awaitable[None]],
        logger: structlog.stdlib.BoundLogger | None = None,
        outbox_window: int = OUTBOX_WINDOW,
        offline_events_max: int = OFFLINE_EVENTS_MAX,
    ) -> None:
        self._config = config
        self._kind = kind
        self._version = version
        self._topics = Topics(device_id)
        self._log = logger or get_logger("mqtt")
        self._client = self._make_client(config, client_id=config.client_id or device_id)
        self._bridge = PahoLoopBridge(self._client, on_closed=self._socket_closed)
        self._outbox = OutboxPump(store, self._publish_outbox_item, outbox_window)
        self._commands = CommandInbox(on_command, self._ack_command, self._log)
        self._commands.on_done = self._notify
        self._backoff = Backoff(config.reconnect_min_s, config.reconnect_max_s)
        self._offline_events: deque[bytes] = deque(maxlen=offline_events_max)
        self._connected = False
        self._subscribed = False
        self._connack_seen = False
        self._stop_requested = False
        self._running = False
        self._workers: list[asyncio.Task[None]] = []
        self._changed = asyncio.Event()  # something run() may be waiting on has changed
        self._outbox_wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self.last_sync: datetime | None = None  # when the last outbox PUBACK arrived
        self.counters = LinkCounters()

    @property
    def connected(self) -> bool:
        """True from an accepted CONNACK until the connection closes."""
        return self._connected

    @property
    def subscribed(self) -> bool:
        """True once the broker has confirmed the `commands` subscription on this connection.

        Only a box's first connection ever can miss commands published before this: after
        that the persistent session holds the subscription while the box is away."""
        return self._subscribed

    def _make_client(self, config: MqttConfig, client_id: str) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,
            manual_ack=True,
        )
        client.will_set(self._topics.status, STATUS_OFFLINE, qos=1, retain=True)
        apply_credentials(client, config)
        client.connect_async(config.host, config.port, keepalive=config.keepalive_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    # The agent's side.

    async def run(self) -> None:
        """Connects and stays connected until `stop()` or cancellation."""
        if self._running:
            raise RuntimeError("MqttLink.run() is already running")
        self._running = True
        self._stopped.clear()
        self._workers = [
            asyncio.create_task(self._pump_outbox(), name="mqtt-outbox"),
            asyncio.create_task(self._commands.serve(), name="mqtt-commands"),
        ]
        for worker in self._workers:
            worker.add_done_callback(lambda _: self._notify())
        try:
            while not self._stop_requested:
                await self._connection()
                if self._stop_requested:
                    break
                delay = self._backoff.next_delay()
                self._log.info(
                    "mqtt.reconnect_wait", delay_s=round(delay, 3), attempt=self._backoff.attempt
                )
                await self._wait_until(lambda: self._stop_requested, within_s=delay)
            # Stopped while offline: a command taken before the connection went may finish.
            self._commands.stop_after_current()
            await self._wait_until(lambda: not self._commands.busy, within_s=STOP_GRACE_S)
        finally:
            self._bridge.abort()
            self._connected = False
            for worker in self._workers:
                worker.cancel()
            await asyncio.gather(*self._workers, return_exceptions=True)
            self._workers = []
            self._running = False
            self._stop_requested = False
            self._stopped.set()
            self._log.info("mqtt.stopped")

    async def stop(self) -> None:
        """Ends `run()`: waits briefly for in-flight PUBACKs and a running command, publishes
        the retained `{"online": false}`, and disconnects cleanly (the will is not sent).
        Returns once `run()` has ended; called before `run()`, that `run()` returns at once."""
        self._stop_requested = True
        self._notify()
        if self._running:
            await self._stopped.wait()

    def outbox_changed(self) -> None:
        """Call after committing records or replies: the outbox is published without delay."""
        self._outbox_wake.set()

    def publish_telemetry(self, payload: BaseModel | JsonObject) -> None:
        if not self._connected:
            self.counters.telemetry_dropped += 1
            return
        self._client.publish(self._topics.telemetry, json_payload(payload), qos=0)

    def publish_event(self, payload: JsonObject) -> None:
        data = json_payload(payload)
        if self._connected and not self._offline_events:  # else behind the queued ones
            self._client.publish(self._topics.events, data, qos=1)
            return
        if len(self._offline_events) == self._offline_events.maxlen:
            self.counters.events_dropped += 1
        self._offline_events.append(data)

    # One connection, from connect to close.

    async def _connection(self) -> None:
        self._connack_seen = False
        self._log.debug("mqtt.connecting", url=self._config.url)
        try:
            await self._bridge.open()
        except (OSError, ValueError) as exc:
            self.counters.connect_failures += 1
            self._log.warning("mqtt.connect_failed", url=self._config.url, error=_describe(exc))
            return
        await self._wait_until(lambda: self._stop_requested or not self._bridge.attached)
        if self._bridge.attached:
            await self._close_gracefully()
        elif not self._connack_seen:
            self.counters.connect_failures += 1
            self._log.warning(
                "mqtt.connect_failed", url=self._config.url, error="closed before CONNACK"
            )

    async def _close_gracefully(self) -> None:
        # From here the pump hands out no new outbox items and the inbox starts no new command.
        self._commands.stop_after_current()
        await self._wait_until(
            lambda: (
                not self._bridge.attached
                or (self._outbox.in_flight == 0 and not self._commands.busy)
            ),
            within_s=STOP_GRACE_S,
        )
        if self._connected:
            info = self._client.publish(self._topics.status, STATUS_OFFLINE, qos=1, retain=True)
            await self._wait_until(
                lambda: not self._bridge.attached or _acknowledged(info), within_s=STOP_STATUS_S
            )
        if self._bridge.attached:
            self._client.disconnect()
            await self._wait_until(lambda: not self._bridge.attached, within_s=STOP_DISCONNECT_S)

    def _session_up(self) -> None:
        """After an accepted CONNACK, and after paho has resent what was in flight."""
        if not self._connected:
            return
        status = StatusOnline(
            online=True, kind=self._kind, version=self._version, ts=rfc3339(datetime.now(UTC))
        )
        self._client.publish(self._topics.status, json_payload(status), qos=1, retain=True)
        self._client.subscribe(self._topics.commands, qos=1)
        while self._offline_events:
            self._client.publish(self._topics.events, self._offline_events.popleft(), qos=1)
        self._outbox_wake.set()

    async def _pump_outbox(self) -> None:
        while True:
            await self._outbox_wake.wait()
            self._outbox_wake.clear()
            acked = self._outbox.acknowledged()
            if acked:
                self.last_sync = datetime.now(UTC)
                self._outbox.delete(acked, rfc3339(self.last_sync))
                self.counters.acked += len(acked)
                self._log.debug("mqtt.outbox_acked", count=len(acked), last_id=acked[-1])
                self._notify()
            if self._connected and not self._stop_requested:
                self.counters.published += len(self._outbox.fill())

    def _publish_outbox_item(self, item: OutboxItem) -> mqtt.MQTTMessageInfo | None:
        info = self._client.publish(self._topics.outbox(item.topic), item.payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self._log.warning("mqtt.outbox_not_taken", id=item.id, error=mqtt.error_string(info.rc))
            return None
        return info

    def _ack_command(self, command: IncomingCommand) -> None:
        # Without a connection the PUBACK is lost; the broker sends the command again.
        if self._connected:
            self._client.ack(command.mid, command.qos)

    async def _wait_until(self, done: Callable[[], bool], within_s: float | None = None) -> bool:
        """Waits until `done()` (True) or `within_s` passed (False); raises what a worker
        died of."""
        loop = asyncio.get_running_loop()
        deadline = None if within_s is None else loop.time() + within_s
        while True:
            for worker in self._workers:
                if worker.done() and not worker.cancelled() and worker.exception() is not None:
                    worker.result()
            if done():
                return True
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            self._changed.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    def _notify(self) -> None:
        self._changed.set()

    # paho's callbacks. All run on the loop inside loop_read/loop_write/loop_misc, except
    # on_disconnect, which may also run in the connect thread (see bridge.py).

    def _socket_closed(self) -> None:
        self._connected = False
        self._subscribed = False
        self._notify()

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connack_seen = True
        if reason_code.is_failure:
            self.counters.connect_failures += 1
            self._log.warning("mqtt.connect_refused", url=self._config.url, reason=str(reason_code))
            return
        self._connected = True
        self._backoff.reset()
        self.counters.connects += 1
        if self.counters.connects > 1:
            self.counters.reconnects += 1
        self._log.info(
            "mqtt.connected", url=self._config.url, session_present=flags.session_present
        )
        # paho resends the unacknowledged messages right after this callback returns; the
        # session's new messages go after them.
        asyncio.get_running_loop().call_soon(self._session_up)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        log = self._log.info if self._stop_requested else self._log.warning
        log(
            "mqtt.disconnected",
            reason=str(reason_code),
            by_broker=flags.is_disconnect_packet_from_server,
        )

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties,
    ) -> None:
        self._outbox_wake.set()
        self._notify()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            topic: str | None = message.topic
        except UnicodeDecodeError:
            topic = None
        if topic != self._topics.commands:
            self._log.warning("mqtt.unexpected_message", topic=topic)
            client.ack(message.mid, message.qos)
            return
        self._commands.deliver(
            IncomingCommand(
                mid=message.mid,
                qos=message.qos,
                dup=bool(message.dup),
                payload=bytes(message.payload),
            )
        )

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if any(code.is_failure for code in reason_codes):
            self._log.error(
                "mqtt.subscribe_refused",
                topic=self._topics.commands,
                reasons=[str(code) for code in reason_codes],
            )
        else:
            self._subscribed = True
            self._log.debug("mqtt.subscribed", topic=self._topics.commands)


def apply_credentials(client: mqtt.Client, config: MqttConfig) -> None:
    """The [mqtt] username, password and TLS files, onto a paho client."""
    if config.username is not None:
        client.username_pw_set(config.username, config.password)
    if config.tls:
        try:
            client.tls_set(
                ca_certs=_path_or_none(config.ca_file),
                certfile=_path_or_none(config.cert_file),
                keyfile=_path_or_none(config.key_file),
            )
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise MqttSetupError(f"mqtt TLS files: {exc}") from exc


def _path_or_none(path: object) -> str | None:
    return None if path is None else str(path)


def _acknowledged(info: mqtt.MQTTMessageInfo) -> bool:
    try:
        return info.is_published()
    except (RuntimeError, ValueError):  # never queued: nothing to wait for
        return True


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {exc.verify_message}"
    return f"{type(exc).__name__}: {exc}"
