"""One box of the campaign: a BoxRig whose store lives on the power-cut filesystem and whose
agent reads a wall clock the campaign can set wrong, with the faults it can suffer."""

from __future__ import annotations

import random
import shutil
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from edge.identity import BoxKind
from testbed.campaign.findings import Findings
from testbed.fakeclock import FakeWall
from testbed.powercut import PowerCutMount
from testbed.rig import BoxRig

STORE_NAME = "edge.db"
REPLY_AFTER_FAULT_S = 8.0  # a command the fault did not lose is answered within this
REPLY_S = 20.0
KIND_SETTINGS: dict[str, tuple[tuple[str, ...], dict[str, dict[str, Any]]]] = {
    "vehicle": ((), {"vehicle": {"command_timeout_s": 0.5, "command_retries": 1}}),
    "cabinet": (
        ("--charge-step-s", "0", "--latch-ms", "20"),
        {
            "cabinet": {
                "boards": [1, 2],
                "slots_per_board": 8,
                "min_charge_pct": 20,
                "take_timeout_s": 30.0,
                "event_poll_s": 0.05,
                "inventory_poll_s": 3.0,
            }
        },
    ),
    "parking": (("--move-ms", "200"), {"parking": {"move_timeout_s": 2.0}}),
}


def clock_settings(synced_file: Path, boot_id_file: Path) -> dict[str, dict[str, Any]]:
    """The agent's `[clock]`: `synced_file` (its existence is "synchronised", so the campaign
    says when NTP has set the clock) and `boot_id_file` (a power cut is a reboot: a new boot id,
    the monotonic clock resumes from the store and the time off is counted once synced)."""
    return {"clock": {"synced_file": str(synced_file), "boot_id_file": str(boot_id_file)}}


class CampaignBox:
    def __init__(
        self,
        workdir: Path,
        kind: BoxKind,
        device_id: str,
        findings: Findings,
        *,
        powercut: bool = True,
        seed: int = 0,
        agent_env: dict[str, str] | None = None,
        settings: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.kind = kind
        self.device_id = device_id
        self.findings = findings
        self.rng = random.Random(seed)
        self.disk: PowerCutMount | None = PowerCutMount(workdir / "disk") if powercut else None
        store_dir = self.disk.mountpoint if self.disk else workdir / "store"
        store_dir.mkdir(exist_ok=True)
        self.wall = FakeWall(workdir / "wall.offset")
        self.synced_file = workdir / "clock-synced"
        self.synced_file.touch()
        self.boot_id_file = workdir / "boot-id"
        self.new_boot()
        self._agent_env = agent_env or {}
        sim_args, kind_settings = KIND_SETTINGS[kind]
        try:
            self.rig = BoxRig(
                workdir / "rig",
                kind,
                device_id=device_id,
                sim_args=sim_args,
                box_settings={
                    **kind_settings,
                    "storage": {"path": str(store_dir / STORE_NAME)},
                    "telemetry": {"interval_s": 0.5},
                    **clock_settings(self.synced_file, self.boot_id_file),
                    **(settings or {}),
                },
            )
        except BaseException:
            if self.disk:
                self.disk.stop()
            raise
        self.sent: list[dict[str, Any]] = []  # every envelope sent, in order

    # --- the agent ------------------------------------------------------------------

    def start_agent(self) -> None:
        self.rig.start_agent(env={**self.wall.env(), **self._agent_env})

    def serving_again(self) -> bool:
        """Starts the agent after a fault; False (and a finding) if it does not get ready."""
        try:
            self.start_agent()
        except (TimeoutError, EOFError) as exc:
            agent = self.rig.agent
            said = "".join(agent.stderr[-5:]) if agent is not None else ""
            self.findings.check("serving", False, f"{self.device_id}: {exc!s:.300} {said:.700}")
            return False
        self.findings.check("serving", True, "")
        return True

    def new_boot(self) -> None:
        """What the kernel does at every boot: a new boot id."""
        self.boot_id_file.write_text(f"{uuid.uuid4()}\n")

    def reboot(self, offset_s: float, *, synced: bool) -> None:
        """The agent stops and the box boots again, its wall clock `offset_s` off, NTP having
        set it (`synced`) or not yet."""
        self.rig.kill_agent()
        self.new_boot()
        self.wall.set_offset(offset_s)
        self.set_synced(synced)
        self.start_agent()

    def set_synced(self, synced: bool) -> None:
        """What the NTP client's hook does: the agent's `clock.synced_file` exists or not."""
        if synced:
            self.synced_file.touch()
        else:
            self.synced_file.unlink(missing_ok=True)

    def sigkill(self) -> None:
        self.rig.kill_agent()
        self.findings.count("sigkill")

    def power_cut(self) -> None:
        """The power goes: the agent dies and every unsynced write with it."""
        assert self.disk is not None
        self.rig.kill_agent()
        self.disk.cut()
        self.new_boot()
        self.findings.count("power cut")
        self.check_integrity()

    def unacked_kill(self, delay_s: float, cut: bool) -> None:
        """Killed between PUBLISH and PUBACK: the broker is frozen, so the agent's publishes
        wait unacknowledged in the socket, then the agent dies and the broker goes on."""
        self.rig.broker.pause()
        try:
            time.sleep(delay_s)
            if cut:
                self.power_cut()
            else:
                self.sigkill()
            self.findings.count("kill between PUBLISH and PUBACK")
        finally:
            self.rig.broker.resume()

    def check_integrity(self) -> None:
        """`PRAGMA integrity_check` on a copy of what survived on the disk."""
        assert self.disk is not None
        source = self.disk.backing / STORE_NAME
        if not source.exists():
            return
        with tempfile.TemporaryDirectory() as scratch:
            for suffix in ("", "-wal"):
                if (self.disk.backing / (STORE_NAME + suffix)).exists():
                    shutil.copy(self.disk.backing / (STORE_NAME + suffix), Path(scratch))
            conn = sqlite3.connect(Path(scratch) / STORE_NAME)
            try:
                result = conn.execute("PRAGMA integrity_check").fetchall()
            except sqlite3.DatabaseError as exc:
                result = [(f"unreadable: {exc}",)]
            finally:
                conn.close()
        self.findings.check(
            "integrity", result == [("ok",)], f"{self.device_id}: integrity_check says {result}"
        )

    # --- commands -------------------------------------------------------------------

    def envelope(self, command_type: str, **args: Any) -> dict[str, Any]:
        return self.rig.backend.command(self.device_id, command_type, args)

    def send(self, envelope: dict[str, Any]) -> None:
        self.sent.append(envelope)
        self.rig.send(envelope)

    def reply(self, command_id: str, timeout: float) -> dict[str, Any] | None:
        try:
            return self.rig.reply_to(command_id, timeout)
        except TimeoutError:
            return None

    def telemetry(self, match: Any = None, timeout: float = 20.0) -> dict[str, Any]:
        return self.rig.telemetry(match or (lambda t: True), timeout)

    def records(self) -> list[dict[str, Any]]:
        return self.rig.records()

    def record(self, record_type: str, timeout: float, **fields: Any) -> dict[str, Any] | None:
        try:
            return self.rig.wait_record(record_type, timeout, **fields)
        except TimeoutError:
            return None

    def record_since(
        self, mark: int, record_type: str, timeout: float, **fields: Any
    ) -> dict[str, Any] | None:
        """The first record of `record_type` with `fields` among the messages from `mark` on."""

        def found() -> list[dict[str, Any]]:
            return [
                r
                for r in self.rig.on_topic("records", mark)
                if r["type"] == record_type and all(r.get(k) == v for k, v in fields.items())
            ]

        try:
            self.rig.cloud.wait_until(lambda _: bool(found()), timeout)
        except TimeoutError:
            return None
        return found()[0]

    def close(self) -> None:
        self.rig.close()
        self._keep_agent_logs()
        if self.disk is not None:
            self.disk.stop()

    def _keep_agent_logs(self) -> None:
        """Every agent's output, beside the store (the campaign keeps a failed run's work
        directory): agent-N.log, stdout then stderr."""
        for n, agent in enumerate(self.rig.agents, 1):
            text = "".join(agent.raw) + "".join(agent.stderr)
            (self.workdir / f"agent-{n}.log").write_text(text)
