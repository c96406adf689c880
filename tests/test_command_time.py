"""Commands against the box's clock (docs/time-and-storage.md): the replay cache survives wall
clock jumps, expiry never goes below the floor, the policy while the clock is unsynced."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from edge.clock import BoxClock
from edge.commands import COMMAND_TYPES, CommandRejected, CommandVerifier, RejectCode
from edge.store import Store
from sim.backend import Backend, BackendKeys
from tests.fake_clock import FakeSource, boot_clock

CAR = "car-0001"
SKEW_S = 30.0
KEYS = BackendKeys.generate()


def box_verifier(clock: BoxClock) -> CommandVerifier:
    return CommandVerifier(
        device_id=CAR,
        public_key=KEYS.public_key,
        clock_skew_s=SKEW_S,
        max_ttl_s=86_400,
        allowed_types=COMMAND_TYPES["vehicle"],
        now=lambda: datetime.now(UTC),
        clock=clock,
    )


def backend(source: FakeSource) -> Backend:
    """The fleet backend, whose clock is always right."""
    return Backend(KEYS, now=lambda: datetime.fromtimestamp(source.true_wall, UTC))


def obey(store: Store, clock: BoxClock, envelope: dict[str, object]) -> None:
    """What the command gate does with a command that passes: remembered in one commit."""
    verifier = box_verifier(clock)
    command = verifier.verify(json.dumps(envelope).encode(), store.command_seen)
    with store.transaction() as tx:
        assert tx.accept_command(
            command.id, verifier.forget_at(command), verifier.forget_mono(command)
        )


def housekeeping(store: Store, clock: BoxClock) -> None:
    """The agent's purge of the replay cache."""
    now_epoch, _ = clock.expiry_time()
    store.purge_expired_commands(now_epoch, clock.mono())


def refusal(store: Store, clock: BoxClock, envelope: dict[str, object]) -> RejectCode | None:
    try:
        box_verifier(clock).verify(json.dumps(envelope).encode(), store.command_seen)
    except CommandRejected as rejected:
        return rejected.code
    return None


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "edge.db", CAR)
    yield s
    s.close()


def test_a_replay_after_a_clock_two_hours_ahead_for_one_boot_is_refused(store: Store) -> None:
    source = FakeSource()
    clock = boot_clock(store, source)
    set_service = backend(source).command(
        CAR, "set_service", {"in_service": False, "reason": "x"}, expires_in_s=3600
    )
    obey(store, clock, set_service)
    source.run(60)
    with store.transaction():
        pass
    source.power_off(60, error_s=7200, synced=False)  # one boot two hours ahead (no NTP yet)
    clock = boot_clock(store, source)
    housekeeping(store, clock)
    source.run(600)
    housekeeping(store, clock)
    with store.transaction():
        pass
    source.power_off(60, error_s=0, synced=True)  # right again
    clock = boot_clock(store, source)
    housekeeping(store, clock)
    assert refusal(store, clock, set_service) == RejectCode.REPLAYED


def test_a_command_expired_before_a_verified_issued_at_is_expired(store: Store) -> None:
    source = FakeSource()
    clock = boot_clock(store, source)
    cloud = backend(source)
    stale = cloud.command(CAR, "set_service", {"in_service": True, "reason": ""}, expires_in_s=3600)
    source.run(90 * 60)  # the stale command expired 30 minutes ago
    obey(store, clock, cloud.command(CAR, "set_service", {"in_service": True, "reason": ""}))
    source.power_off(10, error_s=-3600, synced=False)  # booted with its clock an hour behind
    clock = boot_clock(store, source)
    assert refusal(store, clock, stale) == RejectCode.EXPIRED


def test_unsynced_a_command_issued_ahead_of_the_box_is_taken_and_raises_the_floor(
    store: Store,
) -> None:
    source = FakeSource(error_s=-3600, is_synced=False)
    clock = boot_clock(store, source)
    cloud = backend(source)
    fresh = cloud.command(CAR, "set_service", {"in_service": True, "reason": ""})
    assert refusal(store, clock, fresh) is None
    obey(store, clock, fresh)
    assert clock.floor() == pytest.approx(source.true_wall)
    # The same command on a synced clock that reads an hour behind is refused.
    synced_store_source = FakeSource(error_s=-3600, is_synced=True)
    other = BoxClock(None, source=synced_store_source, skew_s=SKEW_S, sync_poll_s=0.0)
    assert refusal(store, other, cloud.command(CAR, "lock", {"order_id": "o"})) == (
        RejectCode.EXPIRED
    )


def test_unsynced_a_replay_is_refused_once_its_life_has_run_on_the_monotonic_clock(
    store: Store,
) -> None:
    source = FakeSource(error_s=-86_400 * 365, is_synced=False)  # 1970-ish
    clock = boot_clock(store, source)
    command = backend(source).command(CAR, "lock", {"order_id": "o"}, expires_in_s=120)
    obey(store, clock, command)
    source.run(120 + SKEW_S + 5)
    housekeeping(store, clock)
    assert refusal(store, clock, command) == RejectCode.EXPIRED


class ClockFaults(RuleBasedStateMachine):
    """Random runs, reboots, clock errors and syncs: durations never negative nor above the
    real time, and a command once obeyed is never obeyed again."""

    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self._dir = tempfile.TemporaryDirectory()
        self.store = Store(Path(self._dir.name) / "edge.db", CAR)
        self.source = FakeSource()
        self.clock = boot_clock(self.store, self.source)
        self.cloud = backend(self.source)
        self.marks: list[tuple[float, float]] = []  # (mono, true wall) of readings
        self.obeyed: list[dict[str, object]] = []

    def teardown(self) -> None:
        self.store.close()
        self._dir.cleanup()

    @rule(seconds=st.floats(0, 5000))
    def run(self, seconds: float) -> None:
        self.source.run(seconds)

    @rule()
    def mark(self) -> None:
        self.marks.append((self.clock.now().mono, self.source.true_wall))

    @rule(
        seconds=st.floats(0, 100_000),
        error=st.sampled_from([0.0, -3600.0, 7200.0, -1.7e9]),
        synced=st.booleans(),
    )
    def reboot(self, seconds: float, error: float, synced: bool) -> None:
        with self.store.transaction():
            pass
        self.source.power_off(seconds, error_s=error, synced=synced and error == 0.0)
        self.clock = boot_clock(self.store, self.source)

    @rule()
    def sync(self) -> None:
        self.source.error_s, self.source.is_synced = 0.0, True

    @rule(error=st.sampled_from([-3600.0, 7200.0]))
    def jump(self, error: float) -> None:
        self.source.error_s = error

    @rule(ttl=st.sampled_from([60.0, 3600.0, 3 * 3600.0]))
    def command(self, ttl: float) -> None:
        envelope = self.cloud.command(CAR, "lock", {"order_id": "o"}, expires_in_s=ttl)
        if refusal(self.store, self.clock, envelope) is None:
            obey(self.store, self.clock, envelope)
            self.obeyed.append(envelope)

    @rule()
    def purge(self) -> None:
        housekeeping(self.store, self.clock)

    @invariant()
    def durations_are_sound(self) -> None:
        now = self.clock.now()
        for mono, wall in self.marks:
            elapsed = now.since(mono)
            assert elapsed >= 0
            assert elapsed <= self.source.true_wall - wall + 1e-6  # never counted twice

    @invariant()
    def no_replay(self) -> None:
        for envelope in self.obeyed[-5:]:
            assert refusal(self.store, self.clock, envelope) is not None


TestClockFaults = ClockFaults.TestCase
TestClockFaults.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
