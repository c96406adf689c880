"""The serial line the board simulators stand behind, opened with pyserial as the agent opens it."""

from __future__ import annotations

import os
import random
import re
import select
import threading
import time
import tty
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import serial
from hypothesis import given
from hypothesis import strategies as st
from loop_thread import LoopThread

from sim.serial import pty as serial_pty
from sim.serial.lines import SerialDevice, SerialLine, SerialPty
from sim.serial.noise import DirectionStats, LineFaults, LineNoise
from sim.serial.pty import Pty
from testbed.waiting import wait_until

FAST_BAUD = 921600


class Board:
    """The board's end: collects what the host sent, from the loop thread."""

    def __init__(self) -> None:
        self.data = bytearray()
        self._changed = threading.Condition()

    def __call__(self, chunk: bytes) -> None:
        with self._changed:
            self.data += chunk
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> bytes:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.data) >= count, timeout), (
                f"board got {len(self.data)} of {count} bytes"
            )
            return bytes(self.data)


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.stop()


OpenLine = Callable[..., tuple[SerialPty, Board]]


@pytest.fixture
def open_line(loop_thread: LoopThread) -> Iterator[OpenLine]:
    lines: list[SerialLine] = []

    def open_line(**options: Any) -> tuple[SerialPty, Board]:
        board = Board()
        line = SerialPty(board, **options)
        loop_thread.run(line.start())
        lines.append(line)
        return line, board

    yield open_line
    for line in lines:
        loop_thread.run(line.close())


def board_writes(loop_thread: LoopThread, line: SerialLine, data: bytes) -> None:
    loop_thread.loop.call_soon_threadsafe(line.write, data)


def delivered_to_host(loop_thread: LoopThread, line: SerialLine) -> int:
    return int(loop_thread.call(line.stats)["to_host"]["bytes_delivered"])


def wait_delivered_to_host(loop_thread: LoopThread, line: SerialLine, count: int) -> None:
    """Until `count` bytes in all came off the wire towards the host (the line paces them)."""
    wait_until(
        lambda: delivered_to_host(loop_thread, line) == count,
        5.0,
        lambda: f"{count} bytes delivered to the host; {delivered_to_host(loop_thread, line)}",
    )


def flipped_bits(sent: bytes, received: bytes) -> int:
    return sum((a ^ b).bit_count() for a, b in zip(sent, received, strict=True))


def is_subsequence(part: bytes, whole: bytes) -> bool:
    rest = iter(whole)
    return all(byte in rest for byte in part)


def test_bytes_cross_both_ways(loop_thread: LoopThread, open_line: OpenLine) -> None:
    line, board = open_line(baudrate=FAST_BAUD)
    assert line.connect == {"port": line.path, "baudrate": FAST_BAUD}
    with serial.Serial(line.path, FAST_BAUD, timeout=2) as host:
        host.write(b"\x7e\x00ping\r\n\xff")
        assert board.wait_for(9) == b"\x7e\x00ping\r\n\xff"
        board_writes(loop_thread, line, b"\x00pong\x7e\r")
        assert host.read(7) == b"\x00pong\x7e\r"


def test_bytes_take_as_long_as_on_the_wire(loop_thread: LoopThread, open_line: OpenLine) -> None:
    # 11520 bytes of 10 bits at 115200 baud: one second each way, both ways at once.
    line, board = open_line(baudrate=115200)
    data = random.Random(1).randbytes(11520)
    with serial.Serial(line.path, 115200, timeout=3) as host:
        started = time.monotonic()
        board_writes(loop_thread, line, data)
        host.write(data)
        assert host.read(len(data)) == data
        to_host_s = time.monotonic() - started
        assert board.wait_for(len(data)) == data
        from_host_s = time.monotonic() - started
    assert to_host_s > 0.8
    assert from_host_s > 0.8


def test_bit_errors_flip_about_ber_of_the_bits_both_ways(
    loop_thread: LoopThread, open_line: OpenLine
) -> None:
    count = 20000
    line, board = open_line(baudrate=FAST_BAUD, seed=3)
    loop_thread.call(line.set_faults, ber=1e-3)
    sent_down, sent_up = random.Random(4).randbytes(count), random.Random(5).randbytes(count)
    with serial.Serial(line.path, FAST_BAUD, timeout=3) as host:
        board_writes(loop_thread, line, sent_down)
        host.write(sent_up)
        received_down = host.read(count)
        received_up = board.wait_for(count)
    stats = loop_thread.call(line.stats)
    expected = count * 8 * 1e-3  # 160, standard deviation about 12.6
    for sent, received, direction in (
        (sent_down, received_down, "to_host"),
        (sent_up, received_up, "from_host"),
    ):
        flips = flipped_bits(sent, received)
        assert 0.6 * expected < flips < 1.4 * expected
        assert stats[direction]["bits_flipped"] == flips
        assert stats[direction]["bytes_delivered"] == count
        assert stats[direction]["bytes_corrupted"] == sum(
            a != b for a, b in zip(sent, received, strict=True)
        )


def test_drop_loses_about_drop_of_the_bytes_both_ways(
    loop_thread: LoopThread, open_line: OpenLine
) -> None:
    count = 20000
    line, board = open_line(baudrate=FAST_BAUD, seed=6)
    loop_thread.call(line.set_faults, drop=0.02)
    sent_down, sent_up = random.Random(7).randbytes(count), random.Random(8).randbytes(count)
    expected = count * 0.02  # 400, standard deviation about 20
    with serial.Serial(line.path, FAST_BAUD, timeout=3) as host:
        board_writes(loop_thread, line, sent_down)
        host.write(sent_up)

        def everything_crossed() -> bool:
            stats = loop_thread.call(line.stats)
            return all(
                stats[d]["bytes_delivered"] + stats[d]["bytes_dropped"] == count
                for d in ("to_host", "from_host")
            )

        wait_until(everything_crossed, 5.0, "every byte crossed or dropped")
        stats = loop_thread.call(line.stats)
        received_down = host.read(stats["to_host"]["bytes_delivered"])
        received_up = board.wait_for(stats["from_host"]["bytes_delivered"])
    for sent, received, direction in (
        (sent_down, received_down, "to_host"),
        (sent_up, received_up, "from_host"),
    ):
        dropped = stats[direction]["bytes_dropped"]
        assert 0.7 * expected < dropped < 1.3 * expected
        assert len(received) == count - dropped
        assert is_subsequence(received, sent)
        assert stats[direction]["bits_flipped"] == 0


def test_noise_is_reproducible_from_the_seed() -> None:
    data = random.Random(9).randbytes(5000)
    faults = LineFaults(ber=0.01, drop=0.01)
    outputs = [LineNoise(random.Random(42), DirectionStats()).apply(data, faults) for _ in "ab"]
    other_seed = LineNoise(random.Random(43), DirectionStats()).apply(data, faults)
    assert outputs[0] == outputs[1]
    assert outputs[0] != other_seed


def test_ber_one_flips_every_bit() -> None:
    stats = DirectionStats()
    noise = LineNoise(random.Random(0), stats)
    assert noise.apply(b"\x00\x0f\xff", LineFaults(ber=1.0)) == b"\xff\xf0\x00"
    assert stats.bits_flipped == 24
    assert noise.apply(b"\x00\x0f\xff", LineFaults()) == b"\x00\x0f\xff"


@given(data=st.binary(max_size=300), drop=st.floats(0.0, 1.0), seed=st.integers(0, 2**32))
def test_drop_only_keeps_the_order_and_counts_every_byte(
    data: bytes, drop: float, seed: int
) -> None:
    stats = DirectionStats()
    received = LineNoise(random.Random(seed), stats).apply(data, LineFaults(drop=drop))
    assert is_subsequence(received, data)
    assert stats.bytes_delivered == len(received)
    assert stats.bytes_delivered + stats.bytes_dropped == len(data)


@pytest.mark.parametrize("changes", [{"ber": 1.5}, {"drop": -0.1}, {"ber": float("nan")}])
def test_faults_must_be_probabilities(changes: dict[str, float]) -> None:
    line = SerialPty(Board())
    with pytest.raises(ValueError, match="probability"):
        line.set_faults(**changes)
    assert line.faults == LineFaults()


def test_deaf_and_mute_lines(loop_thread: LoopThread, open_line: OpenLine) -> None:
    line, board = open_line(baudrate=FAST_BAUD)
    with serial.Serial(line.path, FAST_BAUD, timeout=0.3) as host:
        loop_thread.call(line.set_faults, deaf=True, mute=True)
        host.write(b"unheard")
        board_writes(loop_thread, line, b"unsaid")
        assert host.read(6) == b""
        loop_thread.call(line.set_faults, deaf=False, mute=False)
        host.write(b"heard")
        board_writes(loop_thread, line, b"said")
        assert host.read(4) == b"said"
        assert board.wait_for(5) == b"heard"
    stats = loop_thread.call(line.stats)
    assert stats["from_host"]["bytes_lost"] == len(b"unheard")
    assert stats["to_host"]["bytes_lost"] == len(b"unsaid")


def test_host_closes_and_opens_again(loop_thread: LoopThread, open_line: OpenLine) -> None:
    line, board = open_line(baudrate=FAST_BAUD)
    for round_ in range(3):
        with serial.Serial(line.path, FAST_BAUD, timeout=2) as host:
            host.write(b"up%d;" % round_)
            assert board.wait_for(4 * (round_ + 1)).endswith(b"up%d;" % round_)
            board_writes(loop_thread, line, b"down%d;" % round_)
            # Bytes the board sent while no one listened may come first.
            assert host.read_until(b"down%d;" % round_).endswith(b"down%d;" % round_)
        unheard = b"nobody hears this" * 10
        crossed = delivered_to_host(loop_thread, line) + len(unheard)
        board_writes(loop_thread, line, unheard)
        wait_delivered_to_host(loop_thread, line, crossed)  # while no host has the port open


def test_unread_bytes_are_bounded(loop_thread: LoopThread, open_line: OpenLine) -> None:
    out_cap = 4096
    line, _board = open_line(baudrate=4_000_000, out_cap=out_cap)
    sent = 60_000  # within what the board may have waiting to go out
    board_writes(loop_thread, line, bytes(sent))  # no host has the port open

    # A byte that finds the line's buffer full is counted lost as it comes off the wire.
    wait_delivered_to_host(loop_thread, line, sent)
    lost = loop_thread.call(line.stats)["to_host"]["bytes_lost"]
    # The rest is in the kernel: HOST_BACKLOG_MAX, more when its buffer worker lags, never
    # more than its pty buffers hold (about 22 KiB on Linux 6).
    assert lost >= sent - out_cap - 32 * 1024
    with serial.Serial(line.path, FAST_BAUD, timeout=0.3) as host:
        stale = host.read(sent)
    assert len(stale) <= out_cap
    assert len(stale) + lost <= sent


def test_a_host_flush_never_leaves_half_a_chunk(
    loop_thread: LoopThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the backlog limit, writes for a host that does not read fill the kernel until one
    # is taken only in part. pyserial flushes on open; the rest of that chunk must not follow.
    monkeypatch.setattr(serial_pty, "HOST_BACKLOG_MAX", 1 << 20)
    pty = loop_thread.call(Pty, lambda data: None)
    try:
        loop_thread.call(pty.start)
        chunks = [b"<%06d%s>" % (n, b"x" * 24) for n in range(4000)]
        for chunk in chunks:
            loop_thread.call(pty.write, chunk)
        assert 0 < loop_thread.call(lambda: pty.channel.backlog) < 4000 * 32
        with serial.Serial(pty.path, FAST_BAUD, timeout=0.3) as host:
            received = host.read(4000 * 32)
        assert received
        assert re.fullmatch(rb"(<\d{6}x{24}>)+", received)
        assert loop_thread.call(lambda: pty.host_flushes) == 1
    finally:
        loop_thread.call(pty.close)


def test_real_port_alternative(loop_thread: LoopThread) -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    board = Board()
    device = SerialDevice(os.ttyname(slave), board, baudrate=FAST_BAUD)
    loop_thread.run(device.start())
    try:
        assert device.connect == {"port": os.ttyname(slave), "baudrate": FAST_BAUD}
        os.write(master, b"from the host")
        assert board.wait_for(13) == b"from the host"
        board_writes(loop_thread, device, b"from the board")
        received = b""

        def read_14() -> bool:
            nonlocal received
            if select.select([master], [], [], 0.1)[0]:
                received += os.read(master, 64)
            return len(received) >= 14

        wait_until(read_14, 5.0, lambda: f"14 bytes from the board; got {received!r}")
        assert received == b"from the board"
        assert loop_thread.call(device.stats)["to_host"]["bytes_delivered"] == 14
    finally:
        loop_thread.run(device.close())
        os.close(master)
        os.close(slave)
