"""The box's MQTT link (contract section 2), on paho-mqtt 2.x and the agent's one asyncio loop.

A persistent session either way: MQTT 5 (`mqtt.protocol = "5"`, the default) connects with
clean start false and `session_expiry_s` as the Session Expiry Interval (paho's own default,
clean start on the first connection of the process, would wipe the session and the commands
queued in it at every restart); MQTT 3.1.1 with clean session false, kept for as long as the
broker keeps sessions. The broker keeps the subscriptions and the QoS 1 commands queued for
the box while it is away.

MQTT 5 only: every reason code the broker sends (CONNACK, SUBACK, PUBACK, DISCONNECT) is
logged by name; a PUBACK with an error reason code is no delivery (the outbox item is held,
and an `outbox_refused` event says why); the broker's Receive Maximum bounds the messages in
flight and its Maximum Packet Size the items sent; paho takes its Server Keep Alive.

The probe (contract 1.1): every `probe_interval_s` the box publishes `{"ts", "n"}` to its own
`probe` topic, to which it is subscribed. One that does not come back within
`probe_timeout_s` on the same connection raises `link_one_way`, and the box reconnects
(DISCONNECT, session kept). `last_probe_rtt_ms` is the last round trip.

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
import stat
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import BaseModel

from edge.event_queue import EventQueue, MemoryEvents
from edge.identity import BoxKind
from edge.logs import get_logger
from edge.mqtt.backoff import Backoff
from edge.mqtt.bridge import PahoLoopBridge
from edge.mqtt.config import MqttConfig
from edge.mqtt.events import LinkOneWay, LinkRefused, OutboxRefused
from edge.mqtt.inbox import CommandInbox, IncomingCommand
from edge.mqtt.outbox import ItemHeld, OutboxPump, OutboxStore
from edge.mqtt.probe import LinkProbe
from edge.mqtt.topics import Topics, event_message, json_payload
from edge.store import OutboxItem, StoreError
from edge.timefmt import rfc3339
from edge.wire.fields import EventBody, JsonObject
from edge.wire.status import StatusOffline, StatusOnline

STATUS_OFFLINE: Final = json_payload(StatusOffline(online=False))
OUTBOX_WINDOW: Final = 16  # outbox items in flight at once
OFFLINE_EVENTS_MAX: Final = 1000
# stop(): how long in-flight PUBACKs and a running command may take, then how long the
# offline status's PUBACK and the DISCONNECT may take.
STOP_GRACE_S: Final = 3.0
STOP_STATUS_S: Final = 1.0
STOP_DISCONNECT_S: Final = 1.0
HELD_RETRY_S: Final = 30.0  # an item the broker refused is offered again after this
STORE_RETRY_S: Final = 1.0  # the outbox tries the store again after a write that failed
# A PUBLISH's bytes besides topic and payload: fixed header (at most 5), topic length (2),
# packet id (2), MQTT 5 property length (1).
PUBLISH_OVERHEAD: Final = 10


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
    events_dropped: int = 0  # events dropped from the events queue (edge/event_queue.py)
    refused: int = 0  # outbox items the broker refused (PUBACK error) or that were too large
    one_way: int = 0  # probes that did not come back


class MqttLink:
    """One box's connection to the fleet broker. Use it from the agent's loop thread only.

    `store` is the agent's Store (only `outbox_pending` and `outbox_ack` are used);
    `on_command(payload)` gets each command's raw bytes, one at a time; `on_event(event)`
    publishes the link's own events (by default through `publish_event`).
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
        events: EventQueue | None = None,
        on_event: Callable[[EventBody], None] | None = None,
        held_retry_s: float = HELD_RETRY_S,
    ) -> None:
        self._config = config
        self._v5 = config.protocol == "5"
        self._on_event = on_event or self._publish_own_event
        self._held_retry_s = held_retry_s
        self._held_retry: asyncio.TimerHandle | None = None
        self._outbox_window = outbox_window
        self._refused_reason: str | None = None  # the last connection refusal raised
        self._reconnect_requested = False
        self.max_packet_size: int | None = None  # the broker's, from CONNACK (MQTT 5)
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
        # Events wait here until PUBACKed (edge/event_queue.py; the agent's is in the store).
        self._events = events or MemoryEvents(offline_events_max)
        self._connected = False
        self._subscribed = False
        self._connack_seen = False
        self._stop_requested = False
        self._running = False
        self._workers: list[asyncio.Task[None]] = []
        self._changed = asyncio.Event()  # something run() may be waiting on has changed
        self._outbox_wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self.probe = LinkProbe(
            config.probe_interval_s,
            config.probe_timeout_s,
            send=self._send_probe,
            on_lost=self._probe_lost,
            log=self._log,
        )
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

    @property
    def last_probe_rtt_ms(self) -> float | None:
        """The round trip of the last probe that came back, in milliseconds."""
        return self.probe.last_rtt_ms

    def _make_client(self, config: MqttConfig, client_id: str) -> mqtt.Client:
        client = make_client(config, client_id, manual_ack=True)
        client.will_set(self._topics.status, STATUS_OFFLINE, qos=1, retain=True)
        apply_credentials(client, config)
        connect_async(client, config)
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
            asyncio.create_task(self.probe.run(), name="mqtt-probe"),
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
            if self._held_retry is not None:
                self._held_retry.cancel()
                self._held_retry = None
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
        self._events.push(data)
        self.counters.events_dropped = self._events.dropped
        if self._connected:
            self._events.send(self._publish_event_payload)

    def _publish_event_payload(self, data: bytes) -> mqtt.MQTTMessageInfo | None:
        info = self._client.publish(self._topics.events, data, qos=1)
        return info if info.rc == mqtt.MQTT_ERR_SUCCESS else None

    # One connection, from connect to close.

    async def _connection(self) -> None:
        self._connack_seen = False
        self._log.debug("mqtt.connecting", url=self._config.url)
        try:
            await self._bridge.open()
        except (OSError, ValueError) as exc:
            self.counters.connect_failures += 1
            self._log.warning("mqtt.connect_failed", url=self._config.url, error=_describe(exc))
            if _tls_refusal(exc, self._config.tls):
                self._link_refused(_describe(exc), None)
            return
        await self._wait_until(
            lambda: self._stop_requested or self._reconnect_requested or not self._bridge.attached
        )
        if self._bridge.attached and self._stop_requested:
            await self._close_gracefully()
        elif self._bridge.attached:
            await self._close_to_reconnect()
        elif not self._connack_seen:
            self.counters.connect_failures += 1
            self._log.warning(
                "mqtt.connect_failed", url=self._config.url, error="closed before CONNACK"
            )
            if self._config.tls:  # TLS 1.3: a refused client certificate shows only now
                self._link_refused("closed before CONNACK (client certificate refused?)", None)

    async def _close_to_reconnect(self) -> None:
        """DISCONNECT with the session kept (the will is not sent); `run()` connects again."""
        self._reconnect_requested = False
        self._client.disconnect()
        await self._wait_until(lambda: not self._bridge.attached, within_s=STOP_DISCONNECT_S)
        if self._bridge.attached:
            self._bridge.abort()

    def reconnect(self) -> None:
        """Drops the connection (cleanly, session kept) and connects again."""
        if self._connected:
            self._reconnect_requested = True
            self._notify()

    def _reconnect_if_still(self, connection: int) -> None:
        if connection == self.counters.connects:
            self.reconnect()

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
        self._client.subscribe([(self._topics.commands, 1), (self._topics.probe, 1)])
        self._events.send(self._publish_event_payload)
        self._outbox.release_held()
        self._outbox_wake.set()

    async def _pump_outbox(self) -> None:
        while True:
            await self._outbox_wake.wait()
            self._outbox_wake.clear()
            try:
                self._pump_outbox_once()
            except StoreError:
                # Full, read-only or failing (the storage watch reports it): what the broker
                # acknowledged stays in flight until the store takes its deletion.
                asyncio.get_running_loop().call_later(STORE_RETRY_S, self._outbox_wake.set)

    def _pump_outbox_once(self) -> None:
        self._events.sweep()
        self._outbox.drop_refused()
        if self._outbox.held and self._held_retry is None:
            self._held_retry = asyncio.get_running_loop().call_later(
                self._held_retry_s, self._release_held
            )
        acked = self._outbox.acknowledged()
        try:
            if acked:
                self.last_sync = datetime.now(UTC)
                self._outbox.delete(acked, rfc3339(self.last_sync))
                self.counters.acked += len(acked)
                self._log.debug("mqtt.outbox_acked", count=len(acked), last_id=acked[-1])
                self._notify()
        finally:  # what is already durable goes out even while deletions fail
            if self._connected and not self._stop_requested:
                self.counters.published += len(self._outbox.fill())

    def _release_held(self) -> None:
        self._held_retry = None
        self._outbox.release_held()
        self._outbox_wake.set()

    def _publish_outbox_item(self, item: OutboxItem) -> mqtt.MQTTMessageInfo | None:
        topic = self._topics.outbox(item.topic)
        size = len(topic.encode()) + len(item.payload) + PUBLISH_OVERHEAD
        if self.max_packet_size is not None and size > self.max_packet_size:
            reason = f"{size} bytes, more than the broker's Maximum Packet Size"
            self._outbox_refused(item.id, item.topic, reason, None)
            raise ItemHeld(reason)
        info = self._client.publish(topic, item.payload, qos=1)
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

    def _publish_own_event(self, event: EventBody) -> None:
        self.publish_event(event_message(rfc3339(datetime.now(UTC)), event))

    def _outbox_refused(self, item_id: int, topic: str, reason: str, code: int | None) -> None:
        self.counters.refused += 1
        self._log.warning(
            "mqtt.outbox_refused", id=item_id, topic=topic, reason=reason, reason_code=code
        )
        suffix: Any = topic
        self._on_event(
            OutboxRefused(topic=suffix, outbox_id=item_id, reason=reason, reason_code=code)
        )

    # The probe's side.

    def _send_probe(self, payload: bytes) -> bool:
        if not self._subscribed:
            return False
        info = self._client.publish(self._topics.probe, payload, qos=1)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def _probe_lost(self, n: int, waited_s: float) -> None:
        self.counters.one_way += 1
        self._on_event(LinkOneWay(probe=n, waited_s=waited_s))
        self.reconnect()

    # paho's callbacks. All run on the loop inside loop_read/loop_write/loop_misc, except
    # on_disconnect, which may also run in the connect thread (see bridge.py).

    def _socket_closed(self) -> None:
        self._connected = False
        self._subscribed = False
        self.probe.down()
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
            self._log.warning(
                "mqtt.connect_refused",
                url=self._config.url,
                reason=str(reason_code),
                reason_code=reason_code.value,
            )
            self._link_refused(str(reason_code), reason_code.value)
            return
        self._connected = True
        self._refused_reason = None
        self._backoff.reset()
        self.counters.connects += 1
        if self.counters.connects > 1:
            self.counters.reconnects += 1
        limits = self._apply_broker_limits(properties)
        self._log.info(
            "mqtt.connected",
            url=self._config.url,
            protocol=self._config.protocol,
            session_present=flags.session_present,
            **limits,
        )
        # paho resends the unacknowledged messages right after this callback returns; the
        # session's new messages go after them.
        asyncio.get_running_loop().call_soon(self._session_up)

    def _apply_broker_limits(self, properties: Properties | None) -> dict[str, int | None]:
        """The broker's Receive Maximum, Maximum Packet Size and Server Keep Alive (MQTT 5
        CONNACK properties); what they are, for the log."""
        receive_maximum = getattr(properties, "ReceiveMaximum", None) if self._v5 else None
        self.max_packet_size = getattr(properties, "MaximumPacketSize", None) if self._v5 else None
        keepalive = getattr(properties, "ServerKeepAlive", None) if self._v5 else None
        # The outbox leaves room for the status, an event and a probe within the broker's
        # bound; paho's own (20, and it cannot change on a live client) queues the rest of
        # its QoS 1 messages in order until PUBACKs make room.
        self._outbox.window = max(1, min(self._outbox_window, (receive_maximum or 65535) - 3))
        return {
            "receive_maximum": receive_maximum,
            "maximum_packet_size": self.max_packet_size,
            "server_keepalive_s": keepalive,
        }

    def _link_refused(self, reason: str, code: int | None) -> None:
        if reason != self._refused_reason:
            self._refused_reason = reason
            self._on_event(LinkRefused(reason=reason, reason_code=code))

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
            reason_code=reason_code.value,
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
        if reason_code.is_failure:
            refused = self._outbox.refuse(mid, str(reason_code))
            if refused is None:
                self._log.warning(
                    "mqtt.publish_refused",
                    mid=mid,
                    reason=str(reason_code),
                    reason_code=reason_code.value,
                )
            else:
                self._outbox_refused(*refused, str(reason_code), reason_code.value)
        self._outbox_wake.set()
        self._notify()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            topic: str | None = message.topic
        except UnicodeDecodeError:
            topic = None
        if topic == self._topics.probe:
            self.probe.returned(bytes(message.payload))
            client.ack(message.mid, message.qos)
            return
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
        topics = (self._topics.commands, self._topics.probe)
        refused = {
            topic: str(code)
            for topic, code in zip(topics, reason_codes, strict=False)
            if code.is_failure
        }
        if refused:
            self._log.error(
                "mqtt.subscribe_refused",
                topic=next(iter(refused)),
                reasons=[str(code) for code in reason_codes],
                reason_codes=[code.value for code in reason_codes],
            )
            # Receiving nothing is a one-way link too: try again on a new connection.
            asyncio.get_running_loop().call_later(
                self._config.probe_interval_s, self._reconnect_if_still, self.counters.connects
            )
        if self._topics.commands not in refused:
            self._subscribed = True
            self._log.debug("mqtt.subscribed", topic=self._topics.commands)
            self.probe.up()
            self._notify()


def make_client(config: MqttConfig, client_id: str, *, manual_ack: bool = False) -> mqtt.Client:
    """A paho client speaking `config.protocol`, reconnecting only when told to. With MQTT
    3.1.1 the session is persistent (clean session false); with 5 see `connect_async`."""
    if config.protocol == "5":
        return mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
            manual_ack=manual_ack,
        )
    return mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=False,
        protocol=mqtt.MQTTv311,
        reconnect_on_failure=False,
        manual_ack=manual_ack,
    )


def connect_async(client: mqtt.Client, config: MqttConfig) -> None:
    """Where and how `client.reconnect()` connects. MQTT 5: clean start false on every
    connection, with `session_expiry_s` as the Session Expiry Interval."""
    if config.protocol != "5":
        client.connect_async(config.host, config.port, keepalive=config.keepalive_s)
        return
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = config.session_expiry_s
    client.connect_async(
        config.host,
        config.port,
        keepalive=config.keepalive_s,
        clean_start=False,
        properties=properties,
    )


def check_key_file(path: Path) -> None:
    """A private key must be readable by its owner only (no group or other bits)."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise MqttSetupError(f"mqtt.key_file: cannot read {path}: {exc.strerror}") from exc
    if mode & 0o077:
        raise MqttSetupError(
            f"mqtt.key_file: {path} is mode {stat.S_IMODE(mode):04o}, readable by group or "
            "others: chmod 600 it"
        )


def apply_credentials(client: mqtt.Client, config: MqttConfig) -> None:
    """The [mqtt] username, password and TLS files, onto a paho client."""
    if config.username is not None:
        client.username_pw_set(config.username, config.password)
    if config.key_file is not None:
        check_key_file(config.key_file)
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


def _tls_refusal(exc: BaseException, tls: bool) -> bool:
    """The broker refused the TLS session: a handshake error, or (TLS 1.3, where the server
    checks the client certificate after the handshake) the connection closed under CONNECT."""
    if isinstance(exc, ssl.SSLError):
        return True
    closed = isinstance(exc, ConnectionResetError | BrokenPipeError) or type(exc) is ConnectionError
    return tls and closed


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {exc.verify_message}"
    return f"{type(exc).__name__}: {exc}"
