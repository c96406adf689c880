"""`configure` on the box: checked, deferred while the box is in use, applied by a restart of
the agent on the new file, rolled back when the box does not come back with it.

What the store keeps under STATE_KEY says where a configure stands, across restarts:
- `deferred`: checked and replied to, waiting for the rental, reservation or session to end;
- `trial`: the new file is in place (or about to be) and the agent restarted on it; it must be
  ready and connected within `config.rollback_s` of `applied_mono`, else the previous file
  goes back and the agent restarts on it;
- `rolled_back`: says so with `config_rolled_back` once connected again.

The reply and the `trial` state commit in one transaction before the file is replaced; a box
stopped between the two finds a trial whose file never changed, and reports it rolled back.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, Field, JsonValue, TypeAdapter, ValidationError

from edge.clock import BOOT_ID_FILE
from edge.commands import CommandReply, RejectCode, VerifiedCommand
from edge.config import AgentConfig
from edge.configure.commands import ConfigureArgs
from edge.configure.config_file import digest, file_digest, restore_previous, write_settings
from edge.configure.events import ConfigApplied, ConfigRolledBack
from edge.configure.keys import REMOTE_KEYS
from edge.configure.results import ConfigureResult
from edge.configure.settings import CheckedSettings, SettingsRefused, check_settings
from edge.store import Store, Transaction
from edge.wire.fields import EventBody

STATE_KEY: Final = "remote_config"
DEFERRED_POLL_S: Final = 1.0  # how often a deferred configure looks whether the box is idle
WATCH_POLL_S: Final = 0.2
MAX_DETAIL: Final = 300

Remember = Callable[[Transaction], None]


class Deferred(BaseModel):
    phase: Literal["deferred"] = "deferred"
    command_id: str
    settings: dict[str, JsonValue]


class Trial(BaseModel):
    phase: Literal["trial"] = "trial"
    command_id: str
    keys: list[str]
    new_digest: str
    applied_mono: float
    boot_id: str


class RolledBack(BaseModel):
    phase: Literal["rolled_back"] = "rolled_back"
    command_id: str
    keys: list[str]
    reason: str


ConfigState = Annotated[Deferred | Trial | RolledBack, Field(discriminator="phase")]
_STATE: Final = TypeAdapter[Deferred | Trial | RolledBack](ConfigState)


class RemoteConfig:
    """The agent's side of `configure`. `in_use()` names what a waiting key would disturb
    (None when nothing); `restart()` makes the agent start again on its config file."""

    def __init__(
        self,
        config: AgentConfig,
        path: Path | None,
        store: Store,
        *,
        in_use: Callable[[], str | None],
        restart: Callable[[], None],
        raise_event: Callable[[EventBody], None],
        outbox_changed: Callable[[], None],
        log: Any,
    ) -> None:
        self._config = config
        self._path = path
        self._store = store
        self._in_use = in_use
        self._restart = restart
        self._raise_event = raise_event
        self._outbox_changed = outbox_changed
        self._log = log
        self._deferred = asyncio.Event()  # a configure was deferred while the agent runs

    # The command.

    async def execute(self, command: VerifiedCommand, remember: Remember) -> None:
        assert isinstance(command.args, ConfigureArgs)
        state = self._state()
        if self._path is None:
            self._reject(command, remember, RejectCode.NOT_ALLOWED, "no config file to change")
            return
        if not os.access(self._path.parent, os.W_OK):
            detail = f"the box cannot write {self._path.parent} (docs/remote-config.md)"
            self._reject(command, remember, RejectCode.NOT_ALLOWED, detail)
            return
        if isinstance(state, Trial):
            detail = f"the settings of {state.command_id} are being tried"
            self._reject(command, remember, RejectCode.BUSY, detail)
            return
        settings = dict(command.args.settings)
        if isinstance(state, Deferred):
            settings = {**state.settings, **settings}
        try:
            check_settings(self._path, self._config.device.kind, command.args.settings)
            checked = check_settings(self._path, self._config.device.kind, settings)
        except SettingsRefused as refused:
            self._log.warning("configure.refused", command_id=command.id, problems=refused.problems)
            detail = "; ".join(refused.problems)[:MAX_DETAIL]
            self._reject(command, remember, RejectCode.BAD_SCHEMA, detail)
            return
        except OSError as exc:
            detail = f"cannot read the config file: {exc.strerror or exc}"
            self._reject(command, remember, RejectCode.NOT_ALLOWED, detail)
            return
        waiting = [key for key in checked.changed if REMOTE_KEYS[key].waits]
        busy_with = self._in_use() if waiting else None
        if busy_with is not None:
            self._log.info(
                "configure.deferred", command_id=command.id, keys=waiting, until=busy_with
            )
            result = ConfigureResult(applied=False, pending=sorted(checked.changed))
            with self._store.transaction() as tx:
                remember(tx)
                tx.add_reply(CommandReply.ok(command.id, result.model_dump(mode="json")))
                tx.put_state(STATE_KEY, Deferred(command_id=command.id, settings=settings))
            self._outbox_changed()
            self._deferred.set()
            return
        self._apply(command.id, checked, remember)

    def _reject(
        self, command: VerifiedCommand, remember: Remember, code: RejectCode, detail: str
    ) -> None:
        reply = CommandReply(command_id=command.id, status="rejected", code=code, detail=detail)
        with self._store.transaction() as tx:
            remember(tx)
            tx.add_reply(reply)
        self._log.info("command.replied", command_id=command.id, status="rejected", code=code)
        self._outbox_changed()

    def _apply(self, command_id: str, checked: CheckedSettings, remember: Remember | None) -> None:
        """Replies (when `remember`: the command itself is being handled), notes the trial,
        replaces the file and restarts the agent on it."""
        assert self._path is not None
        if not checked.changed:
            with self._store.transaction() as tx:
                if remember is not None:
                    remember(tx)
                    result = ConfigureResult(applied=True, pending=[])
                    tx.add_reply(CommandReply.ok(command_id, result.model_dump(mode="json")))
                tx.delete_state(STATE_KEY)
            self._outbox_changed()
            return
        trial = Trial(
            command_id=command_id,
            keys=checked.changed,
            new_digest=digest(checked.content),
            applied_mono=time.monotonic(),
            boot_id=_boot_id(),
        )
        with self._store.transaction() as tx:
            if remember is not None:
                remember(tx)
                result = ConfigureResult(applied=True, pending=[])
                tx.add_reply(CommandReply.ok(command_id, result.model_dump(mode="json")))
            tx.put_state(STATE_KEY, trial)
        self._outbox_changed()
        self._log.info("configure.applying", command_id=command_id, keys=checked.changed)
        try:
            write_settings(self._path, checked.content)
        except OSError as exc:
            self._rolled_back(trial, f"could not write {self._path}: {exc.strerror or exc}")
            return
        self._restart()

    # What the agent runs beside the box and the link.

    async def watch(self, ready: asyncio.Event, connected: Callable[[], bool]) -> None:
        """Carries a configure on from where the store says it stands (see the module doc),
        then applies each one deferred meanwhile once the box is idle."""
        state = self._state()
        if isinstance(state, Trial):
            await self._try(state, ready, connected)
        elif isinstance(state, RolledBack):
            await self._report_rollback(state, connected)
        while True:
            state = self._state()
            if isinstance(state, Deferred):
                await self._apply_when_idle(state)
                if self._state() is not None:
                    return  # applied: the agent restarts on the new file
            self._deferred.clear()
            await self._deferred.wait()

    async def _try(self, trial: Trial, ready: asyncio.Event, connected: Callable[[], bool]) -> None:
        if self._path is None or file_digest(self._path) != trial.new_digest:
            self._rolled_back(trial, "the box stopped before the new config was in place")
            await self._report_rollback(self._state(), connected)
            return
        same_boot = trial.boot_id == _boot_id()
        started = trial.applied_mono if same_boot else time.monotonic()
        deadline = started + self._config.config.rollback_s
        while time.monotonic() < deadline:
            if ready.is_set() and connected():
                with self._store.transaction() as tx:
                    tx.delete_state(STATE_KEY)
                self._log.info("configure.applied", command_id=trial.command_id, keys=trial.keys)
                self._raise_event(ConfigApplied(command_id=trial.command_id, keys=trial.keys))
                return
            await asyncio.sleep(WATCH_POLL_S)
        reason = (
            "not ready (hardware) within config.rollback_s"
            if not ready.is_set()
            else "no broker connection within config.rollback_s"
        )
        self._log.error(
            "configure.rolling_back", command_id=trial.command_id, keys=trial.keys, reason=reason
        )
        restore_previous(self._path)
        self._rolled_back(trial, reason)
        self._restart()

    def _rolled_back(self, trial: Trial, reason: str) -> None:
        state = RolledBack(command_id=trial.command_id, keys=trial.keys, reason=reason)
        with self._store.transaction() as tx:
            tx.put_state(STATE_KEY, state)

    async def _report_rollback(
        self, state: Deferred | Trial | RolledBack | None, connected: Callable[[], bool]
    ) -> None:
        if not isinstance(state, RolledBack):
            return
        await _poll_until(connected, WATCH_POLL_S)
        with self._store.transaction() as tx:
            tx.delete_state(STATE_KEY)
        self._log.warning(
            "configure.rolled_back",
            command_id=state.command_id,
            keys=state.keys,
            reason=state.reason,
        )
        self._raise_event(
            ConfigRolledBack(command_id=state.command_id, keys=state.keys, reason=state.reason)
        )

    async def _apply_when_idle(self, deferred: Deferred) -> None:
        assert self._path is not None
        await _poll_until(lambda: self._in_use() is None, DEFERRED_POLL_S)
        try:
            checked = check_settings(self._path, self._config.device.kind, deferred.settings)
        except (SettingsRefused, OSError) as exc:  # e.g. a TLS file removed meanwhile
            self._log.error("configure.dropped", command_id=deferred.command_id, error=str(exc))
            self._raise_event(
                ConfigRolledBack(
                    command_id=deferred.command_id,
                    keys=sorted(deferred.settings),
                    reason=f"no longer valid when the box became idle: {exc}"[:MAX_DETAIL],
                )
            )
            with self._store.transaction() as tx:
                tx.delete_state(STATE_KEY)
            return
        self._apply(deferred.command_id, checked, None)

    def _state(self) -> Deferred | Trial | RolledBack | None:
        saved = self._store.get_state(STATE_KEY)
        if saved is None:
            return None
        try:
            return _STATE.validate_python(saved)
        except ValidationError:
            self._log.error("configure.state_unreadable")
            return None


def roll_back_unusable(path: Path, store: Store, reason: str) -> bool:
    """When the agent cannot even be built on a config under trial: the previous file goes
    back and the trial is noted as rolled back. False when no trial was running."""
    saved = store.get_state(STATE_KEY)
    with suppress(ValidationError):
        trial = _STATE.validate_python(saved)
        if isinstance(trial, Trial) and restore_previous(path):
            state = RolledBack(command_id=trial.command_id, keys=trial.keys, reason=reason)
            with store.transaction() as tx:
                tx.put_state(STATE_KEY, state)
            return True
    return False


async def _poll_until(done: Callable[[], bool], poll_s: float) -> None:
    while True:
        if done():
            return
        await asyncio.sleep(poll_s)


def _boot_id() -> str:
    try:
        return BOOT_ID_FILE.read_text().strip()
    except OSError:
        return ""
