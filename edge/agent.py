"""The agent runtime: one asyncio loop running the box, the MQTT link and the housekeeping."""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import time
from pathlib import Path

from edge.box import Box, BoxServices
from edge.clock import STATE_KEY as CLOCK_STATE_KEY
from edge.clock import BoxClock, SystemClock
from edge.command_gate import CommandGate
from edge.commands import CommandVerifier
from edge.config import AgentConfig, ConfigError, load_config
from edge.configure.remote import RemoteConfig, roll_back_unusable
from edge.diagnostics.launch import Diagnostics, start_diagnostics
from edge.event_queue import StoredEvents
from edge.logs import configure, get_logger
from edge.mqtt.link import MqttLink
from edge.mqtt.topics import event_message
from edge.status.journal import StatusJournal
from edge.storage import MIB, StorageGuard
from edge.store import Store, StoreCorrupt, StoreError, StoreSchemaError, Transaction
from edge.systemd import ServiceHeartbeat, SystemdNotifier, watchdog_interval_s
from edge.ticks import aligned_delay, sleep_aligned
from edge.version import agent_version
from edge.wire.fields import EventBody
from edge.wire.telemetry import Telemetry

CLOCK_CHECKPOINT_S = 30.0
REPLAY_PURGE_S = 600.0
STORAGE_CHECK_S = 2.0  # how often the housekeeping looks again while storage is not ok
STORE_RETRY_S = 10.0  # how often a store that cannot be opened is tried again
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
    def __init__(self, config: AgentConfig, config_path: Path | None = None) -> None:
        self.config = config
        self.restart_requested = False  # by `configure`: run again on the (new) config file
        self._stop: asyncio.Event | None = None
        self.log = get_logger("agent")
        max_mb = config.storage.max_mb
        self.store = Store(
            config.storage.path, config.device.id, None if max_mb is None else int(max_mb * MIB)
        )
        self.clock = BoxClock(
            self.store.get_state(CLOCK_STATE_KEY),
            source=SystemClock(config.clock.synced_file, config.clock.boot_id_file),
            skew_s=config.security.clock_skew_s,
        )
        self.store.before_commit = self._checkpoint_clock
        self.storage = StorageGuard(self.store, self._raise_event, get_logger("storage"))
        self.store.room_made = self.storage.made_room
        self._telemetry_due = asyncio.Event()
        self.link: MqttLink | None = None
        self.diagnostics: Diagnostics | None = None
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
            storage=self.storage,
        )
        self.box = build_box(services)
        self.remote_config = RemoteConfig(
            config,
            config_path,
            self.store,
            in_use=self.box.in_use,
            restart=self._request_restart,
            raise_event=self._publish_now,
            outbox_changed=self._outbox_changed,
            log=get_logger("configure"),
        )
        gate = CommandGate(
            CommandVerifier.for_config(config, clock=self.clock),
            self.store,
            self.box,
            self._outbox_changed,
            get_logger("commands"),
            storage=self.storage,
            handlers={"configure": self.remote_config.execute},
        )
        self.events = StoredEvents(self.store, config.storage.max_events, self.storage.write_failed)
        self.link = MqttLink(
            config.mqtt,
            device_id=config.device.id,
            kind=config.device.kind,
            version=agent_version(),
            store=self.store,
            on_command=gate.handle,
            logger=get_logger("mqtt"),
            on_event=self._publish_now,
            events=self.events,
        )
        self.diagnostics = start_diagnostics(
            config, self.box, self.store, self.clock, self.link, self._outbox_changed
        )

    def _checkpoint_clock(self, tx: Transaction) -> None:
        tx.put_state(CLOCK_STATE_KEY, self.clock.checkpoint_state())

    def _raise_event(self, event: EventBody) -> None:
        """An event of the agent's own (storage), logged like the box's."""
        log = self.log.warning if event.is_fault() else self.log.info
        log("box.fault" if event.is_fault() else "box.event", type=event.event_type)
        self._publish_event(self.clock.now().wall, event)

    def _publish_now(self, event: EventBody) -> None:
        """An event the MQTT link or `configure` raised (and logged under its own name)."""
        self._publish_event(self.clock.now().wall, event)

    def _request_restart(self) -> None:
        self.restart_requested = True
        if self._stop is not None:
            self._stop.set()

    def _outbox_changed(self) -> None:
        if self.link is not None:
            self.link.outbox_changed()
        if self.diagnostics is not None:
            self.diagnostics.outbox_changed()

    def _publish_event(self, ts: str, event: EventBody) -> None:
        if self.link is not None:
            self.link.publish_event(event_message(ts, event))
        if self.diagnostics is not None:
            self.diagnostics.note_event(ts, event)

    async def run(self, stop: asyncio.Event) -> bool:
        """Serves until `stop` is set or a part of the agent fails; False after a failure."""
        ready = asyncio.Event()
        assert self.link is not None
        link = self.link
        self._stop = stop
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
        # Not among `tasks` either: the installer's page failing never stops the agent.
        page = asyncio.create_task(
            self.diagnostics.run(ready) if self.diagnostics else asyncio.sleep(0), name="page"
        )
        # Not among `tasks`: it ends once a configure under way is settled.
        configuring = asyncio.create_task(
            self.remote_config.watch(ready, lambda: link.subscribed), name="configure"
        )
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
        for pending in (*tasks, beating, waiter, stopper, page, configuring):
            pending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await page
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
            left = aligned_delay(asyncio.get_running_loop().time(), interval - gap)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._telemetry_due.wait(), left)

    def _telemetry_snapshot(self) -> Telemetry:
        snapshot = self.box.telemetry(self.clock.now().wall)
        return snapshot.model_copy(
            update={
                "events_dropped": self.events.dropped,  # also those dropped for records
                "storage": self.storage.state,
                "probe_rtt_ms": None if self.link is None else self.link.last_probe_rtt_ms,
            }
        )

    def _heartbeat(self, *, stopping: bool = False) -> None:
        """The clock checkpoint and the status journal's heartbeat, in one commit."""
        telemetry = self._telemetry_snapshot()
        with self.store.transaction() as tx:
            tx.put_state(CLOCK_STATE_KEY, self.clock.checkpoint_state())
            self.journal.heartbeat(tx, telemetry, stopping=stopping)

    async def _housekeeping(self) -> None:
        last_beat = last_purge = -math.inf
        while True:
            if time.monotonic() - last_beat >= CLOCK_CHECKPOINT_S or self.storage.state != "ok":
                last_beat = time.monotonic()
                try:
                    self._heartbeat()
                    if time.monotonic() - last_purge > REPLAY_PURGE_S:
                        # Forgotten only once expired by the wall clock (never below its
                        # floor) AND by the monotonic clock: a wall clock that jumped ahead
                        # for a while cannot empty the replay cache.
                        now_epoch, _ = self.clock.expiry_time()
                        self.store.purge_expired_commands(now_epoch, self.clock.mono())
                        last_purge = time.monotonic()
                except StoreError as exc:
                    self.storage.write_failed(exc)
                else:
                    self.storage.wrote()
                    self.storage.check()
            await sleep_aligned(STORAGE_CHECK_S)


EXIT_RESTART = -1  # `_main`: the agent stopped to run again on its config file


async def _main(config: AgentConfig, config_path: Path | None = None) -> int:
    log = get_logger("agent")
    stop = asyncio.Event()
    signalled: list[int] = []

    def on_signal(signum: int) -> None:
        signalled.append(signum)
        stop.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    while True:
        try:
            agent = Agent(config, config_path)
            break
        except (StoreCorrupt, StoreSchemaError) as exc:
            log.error("agent.store_unusable", path=str(config.storage.path), error=str(exc))
            return 1
        except StoreError as exc:
            # Read-only, full, an I/O error: no crash loop; nothing is driven meanwhile.
            log.error("agent.store_unwritable", path=str(config.storage.path), error=str(exc))
            SystemdNotifier.from_env().extend_start_timeout(STORE_RETRY_S * 3)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), STORE_RETRY_S)
            if stop.is_set():
                return 1
        except (ValueError, OSError) as exc:  # e.g. a signal profile that cannot be loaded
            log.error("agent.config_unusable", error=str(exc))
            if config_path is not None and _roll_back(config, config_path, str(exc)):
                return EXIT_RESTART
            return 2
    ok = await agent.run(stop)
    if agent.restart_requested and not signalled:
        return EXIT_RESTART
    return 0 if ok else 1


def _roll_back(config: AgentConfig, config_path: Path, reason: str) -> bool:
    """A config under trial that the agent cannot even start on: the previous file back."""
    try:
        with Store(config.storage.path, config.device.id) as store:
            return roll_back_unusable(config_path, store, reason)
    except StoreError:
        return False


def run_agent(config: AgentConfig, config_path: Path | None = None) -> int:
    """Runs the agent; again on the config file each time `configure` restarts it."""
    while True:
        configure(config.log.level)
        code = asyncio.run(_main(config, config_path))
        if code != EXIT_RESTART or config_path is None:
            return code
        get_logger("agent").info("agent.restarting", config=str(config_path))
        try:
            config = load_config(config_path)
        except ConfigError as exc:
            if not _roll_back(config, config_path, "; ".join(exc.problems)):
                get_logger("agent").error("agent.config_unusable", error=str(exc))
                return 2
            config = load_config(config_path)
