"""The bulk SLCAN reader: lines cut at CR or BEL wherever the reads split them, the ids the link
does not read dropped by their first characters, garbage counted, python-can's recv kept."""

from __future__ import annotations

import contextlib
import os
import pty
import tty
from collections.abc import Iterator

import can
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.can.slcan import BulkSlcanBus, SlcanLines, parse_data_frame, read_prefixes
from sim.slcan import format_frame

FRAMES = [
    can.Message(arbitration_id=0x100 + n, data=bytes(range(n)), is_extended_id=False)
    for n in range(9)
]
STREAM = b"".join(format_frame(m) for m in FRAMES)
WANTED = [(m.arbitration_id, bytes(m.data)) for m in FRAMES]


def feed_in_pieces(data: bytes, cuts: list[int]) -> tuple[list[bytes], SlcanLines]:
    lines = SlcanLines()
    out: list[bytes] = []
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        out += lines.feed(data[start:cut])
        start = cut
    return out, lines


def frames_of(lines: list[bytes]) -> list[tuple[int, bytes]]:
    return [parse_data_frame(line) for line in lines]


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=20))
def test_frames_split_at_any_bytes_come_out_whole(cuts: list[int]) -> None:
    out, lines = feed_in_pieces(STREAM, cuts)
    assert frames_of(out) == WANTED
    assert lines.garbage == 0
    assert lines.buffered == 0


def test_every_single_split_point() -> None:
    for cut in range(len(STREAM) + 1):
        out, _ = feed_in_pieces(STREAM, [cut])
        assert frames_of(out) == WANTED


def test_several_frames_in_one_read() -> None:
    lines = SlcanLines()
    assert frames_of(lines.feed(STREAM)) == WANTED


def test_bel_answers_end_a_line_and_are_counted_as_refusals() -> None:
    lines = SlcanLines()
    out = lines.feed(b"\a" + format_frame(FRAMES[3]) + b"\a\a" + format_frame(FRAMES[4]))
    assert frames_of(out) == WANTED[3:5]
    assert lines.refused == 3
    assert lines.garbage == 0


def test_a_half_line_waits_and_is_garbage_when_the_stream_ends() -> None:
    lines = SlcanLines()
    assert frames_of(lines.feed(STREAM[:-4])) == WANTED[:-1]
    assert lines.buffered > 0
    lines.finish()
    assert lines.garbage == 1
    assert lines.buffered == 0


def test_a_line_running_on_past_any_slcan_line_is_garbage() -> None:
    lines = SlcanLines()
    assert lines.feed(b"t1" + b"0" * 400) == []
    assert lines.garbage == 1
    assert frames_of(lines.feed(format_frame(FRAMES[2]))) == [WANTED[2]]


def test_read_prefixes_spell_both_cases() -> None:
    assert read_prefixes([0x7E8]) >= {b"t7e8", b"t7E8"}
    assert b"t7e9" not in read_prefixes([0x7E8])


@pytest.mark.parametrize("line", [b"t12", b"t1239", b"t1232001", b"t12G100", b"t1231GG"])
def test_malformed_data_frames_raise_value_error(line: bytes) -> None:
    with pytest.raises(ValueError, match="bad SLCAN data frame"):
        parse_data_frame(line)


@pytest.fixture
def adapter() -> Iterator[tuple[int, BulkSlcanBus]]:
    """A pty standing in for the adapter: the test writes to its master what the adapter sends."""
    master, slave = pty.openpty()
    tty.setraw(master)
    bus = BulkSlcanBus(os.ttyname(slave), bitrate=500_000, sleep_after_open=0)
    try:
        os.read(master, 4096)  # the bus's set-up commands
        yield master, bus
    finally:
        bus.shutdown()
        os.close(slave)
        os.close(master)


def read_until(bus: BulkSlcanBus, count: int) -> list[tuple[int, bytes]]:
    frames: list[tuple[int, bytes]] = []
    for _ in range(1000):
        frames += bus.read_frames()
        if len(frames) >= count:
            break
        os.sched_yield()
    return frames


def test_the_bus_reads_many_frames_at_once_and_drops_unread_ids(
    adapter: tuple[int, BulkSlcanBus],
) -> None:
    master, bus = adapter
    assert bus.read_frames() == []  # nothing waiting: no wait either
    bus.read_only([0x102, 0x107])
    os.write(master, STREAM + format_frame(FRAMES[7]))
    assert read_until(bus, 3) == [WANTED[2], WANTED[7], WANTED[7]]
    assert bus.take_garbage() == 0


def test_garbage_between_frames_is_counted_and_the_frames_around_it_kept(
    adapter: tuple[int, BulkSlcanBus],
) -> None:
    master, bus = adapter
    noisy = format_frame(FRAMES[1]) + b"\x00\xffjunk\r" + b"t12\r" + format_frame(FRAMES[5])
    os.write(master, noisy + b"z\r\a")
    assert read_until(bus, 2) == [WANTED[1], WANTED[5]]
    assert bus.take_garbage() == 2
    assert bus.take_garbage() == 0


def test_python_can_recv_still_reads_every_frame(adapter: tuple[int, BulkSlcanBus]) -> None:
    master, bus = adapter
    os.write(master, STREAM[:3])
    assert bus.recv(0) is None
    os.write(master, STREAM[3:])
    got = [bus.recv(1.0) for _ in FRAMES]
    assert [(m.arbitration_id, bytes(m.data)) for m in got if m is not None] == WANTED
    assert bus.recv(0) is None


def test_a_closed_line_raises_can_operation_error() -> None:
    master, slave = pty.openpty()
    bus = BulkSlcanBus(os.ttyname(slave), sleep_after_open=0)
    try:
        os.close(master)
        with pytest.raises((can.CanOperationError, OSError)):
            bus.read_frames()
    finally:
        with contextlib.suppress(can.CanError):
            bus.shutdown()  # its `C` has nowhere to go
        os.close(slave)
