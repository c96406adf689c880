"""The agent runtime: one asyncio loop running the box, the MQTT link and the housekeeping."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from datetime import UTC, datetime

from edge.box import Box, BoxServices
from edge.clock import STATE_KEY as CLOCK_STATE_KEY
from edge.clock import BoxClock
from edge.command_gate import CommandGate
from edge.commands import CommandVerifier
from edge.config import AgentConfig
from edge.logs import configure, get_logger
from edge.mqtt.link import MqttLink
from edge.mqtt.topics import event_message
from edge.status.journal import StatusJournal
from edge.store import Store, StoreError
from edge.systemd import ServiceHeartbeat, SystemdNotifier, watchdog_interval_s
from edge.version import agent_version
from edge.wire.fields import EventBody
from edge.wire.telemetry import Telemetry

CLOCK_CHECKPOINT_S = 30.0
REPLAY_PURGE_S = 600.0
SHUTDOWN_GRACE_S = 5.0
TELEMETRY_MIN_GAP_S = 0.5


def build_box(services: BoxServices) -> Box:
    kind = services.config.device.kind
    if kind == "vehicle":
        from edge.vehicle.box import VehicleBox

        return VehicleBox(services)
    if kind == "cabinet":
        from edge.cabinet.box import CabinetBox

        return CabinetBox(services)
    if kind == "parking":
        from edge.parking.box import ParkingBox

        return ParkingBox(services)
    raise ValueError(f"box kind {kind!r} is not available in this version")


class Agent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.log = get_logger("agent")
        self.store = Store(config.storage.path, config.device.id)
        self.clock = BoxClock(self.store.get_state(CLOCK_STATE_KEY))
        self._telemetry_due = asyncio.Event()
        self.link: MqttLink | None = None
        self.notifier = SystemdNotifier.from_env()
        self.journal = StatusJournal(
            self.store,
            self.clock,
            device_id=config.device.id,
            kind=config.device.kind,
            version=agent_version(),
        )
        services = BoxServices(
            config=config,
            store=self.store,
            clock=self.clock,
            outbox_changed=self._outbox_changed,
            publish_event=self._publish_event,
            telemetry_changed=self._telemetry_due.set,
            logger=get_logger(config.device.kind),
        )
        self.box = build_box(services)
        gate = CommandGate(
            CommandVerifier.for_config(config),
            self.store,
            self.box,
            self._outbox_changed,
            get_logger("commands"),
        )
        self.link = MqttLink(
            config.mqtt,
            device_id=config.device.id,
            kind=config.device.kind,
            version=agent_version(),
            store=self.store,
            on_command=gate.handle,
            logger=get_logger("mqtt"),
        )

    def _outbox_changed(self) -> None:
        if self.link is not None:
            self.link.outbox_changed()

    def _publish_event(self, ts: str, event: EventBody) -> None:
        if self.link is not None:
            self.link.publish_event(event_message(ts, event))

    async def run(self, stop: asyncio.Event) -> bool:
        """Serves until `stop` is set or a part of the agent fails; False after a failure."""
        ready = asyncio.Event()
        assert self.link is not None
        link = self.link
        self.journal.started()
        tasks = [
            asyncio.create_task(self.box.run(ready), name="box"),
            asyncio.create_task(link.run(), name="mqtt"),
            asyncio.create_task(self._telemetry(), name="telemetry"),
            asyncio.create_task(self._housekeeping(), name="housekeeping"),
            asyncio.create_task(self.journal.watch(lambda: link.connected), name="status"),
        ]
        heartbeat = ServiceHeartbeat(
            self.notifier, watchdog_interval_s(), lambda: not any(t.done() for t in tasks)
        )
        # Not among `tasks`: it ends by itself outside systemd, which is no failure.
        beating = asyncio.create_task(heartbeat.run(ready), name="systemd")
        waiter: asyncio.Task[bool] = asyncio.create_task(ready.wait())
        stopper: asyncio.Task[bool] = asyncio.create_task(stop.wait())
        await asyncio.wait({waiter, stopper, *tasks}, return_when=asyncio.FIRST_COMPLETED)
        if ready.is_set():
            self.log.info(
                "agent.ready",
                device_id=self.config.device.id,
                kind=self.config.device.kind,
                version=agent_version(),
            )
            self.journal.ready()
            self._heartbeat()
            self.notifier.ready(self._service_status("ready"))
            await asyncio.wait({stopper, *tasks}, return_when=asyncio.FIRST_COMPLETED)
        failed = False
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                failed = True
                self.log.error(
                    "agent.task_failed", task=task.get_name(), error=repr(task.exception())
                )
        self.log.info("agent.stopping")
        self.notifier.stopping(self._service_status("stopping"))
        await self.box.finish(SHUTDOWN_GRACE_S)
        await link.stop()
        for pending in (*tasks, beating, waiter, stopper):
            pending.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(StoreError):  # the failure that stopped us may be the store's
            self._heartbeat(stopping=True)
        self.store.close()
        self.log.info("agent.stopped")
        return not failed

    def _service_status(self, what: str) -> str:
        device = self.config.device
        return f"{what}: {device.kind} {device.id}, edge-agent {agent_version()}"

    async def _telemetry(self) -> None:
        assert self.link is not None
        interval = self.config.telemetry.interval_s
        # A snapshot every `interval`, and on change, but never two closer than `gap`.
        gap = min(TELEMETRY_MIN_GAP_S, interval)
        while True:
            self._telemetry_due.clear()
            self.link.publish_telemetry(self._telemetry_snapshot())
            await asyncio.sleep(gap)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._telemetry_due.wait(), interval - gap)

    def _telemetry_snapshot(self) -> Telemetry:
        return self.box.telemetry(self.clock.now().wall)

    def _heartbeat(self, *, stopping: bool = False) -> None:
        """The clock checkpoint and the status journal's heartbeat, in one commit."""
        telemetry = self._telemetry_snapshot()
        with self.store.transaction() as tx:
            tx.put_state(CLOCK_STATE_KEY, self.clock.checkpoint_state())
            self.journal.heartbeat(tx, telemetry, stopping=stopping)

    async def _housekeeping(self) -> None:
        last_purge = 0.0
        while True:
            self._heartbeat()
            if time.monotonic() - last_purge > REPLAY_PURGE_S:
                self.store.purge_expired_commands(datetime.now(UTC).timestamp())
                last_purge = time.monotonic()
            await asyncio.sleep(CLOCK_CHECKPOINT_S)


async def _main(config: AgentConfig) -> int:
    log = get_logger("agent")
    try:
        agent = Agent(config)
    except StoreError as exc:
        log.error("agent.store_unusable", path=str(config.storage.path), error=str(exc))
        return 1
    except (ValueError, OSError) as exc:  # e.g. a signal profile that cannot be loaded
        log.error("agent.config_unusable", error=str(exc))
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return 0 if await agent.run(stop) else 1


def run_agent(config: AgentConfig) -> int:
    configure(config.log.level)
    return asyncio.run(_main(config))
