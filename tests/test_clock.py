"""The box's clock (docs/time-and-storage.md): off time counted once the clock syncs, durations
that never go negative or count an off time twice, the wall-clock floor."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.clock import Now
from edge.store import Store
from tests.fake_clock import FakeSource, boot_clock


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "edge.db", "car-0001")
    yield s
    s.close()


def checkpoint(store: Store) -> None:
    with store.transaction():
        pass


def test_off_time_is_counted_when_sync_arrives_later_in_the_boot(store: Store) -> None:
    source = FakeSource()
    clock = boot_clock(store, source)
    started = clock.now()  # a rental starts on a synced clock
    source.run(600)
    checkpoint(store)
    source.power_off(3600, error_s=-86_400 * 300, synced=False)  # a Pi without RTC
    clock = boot_clock(store, source)
    source.run(60)
    assert clock.now().since(started.mono) == pytest.approx(660)  # the off time not known yet
    counted: list[float] = []
    clock.on_off_time.append(counted.append)
    source.is_synced, source.error_s = True, 0.0  # NTP
    now = clock.now()
    assert now.clock_synced
    assert now.since(started.mono) == pytest.approx(600 + 3600 + 60)
    assert counted == [pytest.approx(3600)]
    source.run(10)
    assert clock.now().since(started.mono) == pytest.approx(600 + 3600 + 70)  # only once


def test_a_duration_begun_after_the_reboot_does_not_get_the_off_time(store: Store) -> None:
    source = FakeSource()
    clock = boot_clock(store, source)
    checkpoint(store)
    source.power_off(3600, synced=False)
    clock = boot_clock(store, source)
    started = clock.now()  # begun on the unsynced clock, after the box was back
    source.run(100)
    source.is_synced = True
    assert clock.now().since(started.mono) == pytest.approx(100)


def test_off_time_across_two_unsynced_boots_is_counted_once(store: Store) -> None:
    source = FakeSource()
    clock = boot_clock(store, source)
    before = clock.now()
    source.run(1)
    checkpoint(store)
    source.power_off(1000, synced=False)
    clock = boot_clock(store, source)
    source.run(50)
    checkpoint(store)
    source.power_off(2000, synced=False)
    clock = boot_clock(store, source)
    source.run(5)
    source.is_synced = True
    assert clock.now().since(before.mono) == pytest.approx(1 + 1000 + 50 + 2000 + 5)
    checkpoint(store)
    source.power_off(10, synced=True)
    clock = boot_clock(store, source)
    source.run(1)
    assert clock.now().since(before.mono) == pytest.approx(1 + 1000 + 50 + 2000 + 5 + 10 + 1)


def test_a_clock_that_synced_backwards_never_counts_negative_time(store: Store) -> None:
    source = FakeSource(error_s=7200)  # "synced" but two hours ahead
    clock = boot_clock(store, source)
    before = clock.now()
    checkpoint(store)
    source.power_off(600, error_s=0, synced=True)  # right again
    clock = boot_clock(store, source)
    assert clock.now().since(before.mono) >= 0


def test_the_wall_clock_never_reads_below_the_floor(store: Store) -> None:
    source = FakeSource()
    clock = boot_clock(store, source)
    clock.raise_floor(source.true_wall)
    checkpoint(store)
    source.power_off(30, error_s=-3600, synced=True)  # booted an hour behind, "synced"
    clock = boot_clock(store, source)
    now = clock.now()
    assert not now.clock_synced  # below its floor: not believed
    epoch, synced = clock.expiry_time()
    assert epoch >= source.true_wall - 30 - 1
    assert not synced
    source.error_s = 0.0
    assert clock.now().clock_synced


def test_now_since_counts_off_times_between_the_readings_only() -> None:
    from edge.clock import OffTime

    now = Now(200.0, "", True, (OffTime(50.0, 1000.0), OffTime(150.0, 7.0)))
    assert now.since(100.0) == pytest.approx(107.0)
    assert now.since(10.0) == pytest.approx(1197.0)
    assert now.since(199.0) == pytest.approx(1.0)
