"""The emulated SLCAN adapter, opened with python-can's `slcan` interface as the agent opens it,
and the real-bus alternative on python-can's `virtual` interface."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator

import can
import pytest
import serial
from can.interfaces.slcan import slcanBus
from hypothesis import given
from hypothesis import strategies as st
from loop_thread import LoopThread

from sim.slcan import (
    CanBusLink,
    SlcanError,
    SlcanPty,
    format_frame,
    open_can_link,
    parse_frame,
)
from testbed.waiting import wait_until

FRAMES = [
    *(
        can.Message(arbitration_id=0x100 + n, data=bytes(range(n)), is_extended_id=False)
        for n in range(9)
    ),
    *(
        can.Message(arbitration_id=0x18DAF100 + n, data=bytes([0xA5] * n), is_extended_id=True)
        for n in range(9)
    ),
    can.Message(arbitration_id=0x000, data=b"", is_extended_id=False),
    can.Message(arbitration_id=0x7FF, data=b"\xff" * 8, is_extended_id=False),
    can.Message(arbitration_id=0x1FFFFFFF, data=b"\x00" * 8, is_extended_id=True),
    can.Message(arbitration_id=0x7DF, is_remote_frame=True, dlc=8, is_extended_id=False),
    can.Message(arbitration_id=0x12345, is_remote_frame=True, dlc=3, is_extended_id=True),
    can.Message(arbitration_id=0x7E8, is_remote_frame=True, dlc=0, is_extended_id=False),
]


def same_frame(a: can.Message, b: can.Message) -> bool:
    return (
        a.arbitration_id == b.arbitration_id
        and a.is_extended_id == b.is_extended_id
        and a.is_remote_frame == b.is_remote_frame
        and a.dlc == b.dlc
        and (a.is_remote_frame or bytes(a.data) == bytes(b.data))
    )


class Adapter:
    """The emulated adapter on a loop thread, and the frames the host sent it."""

    def __init__(self, loop_thread: LoopThread, **options: int) -> None:
        self.loop_thread = loop_thread
        self.received: queue.Queue[can.Message] = queue.Queue()
        self.slcan = SlcanPty(self.received.put, **options)
        loop_thread.run(self.slcan.start())
        self.path = self.slcan.path

    def send(self, *frames: can.Message) -> None:
        for frame in frames:
            self.loop_thread.loop.call_soon_threadsafe(self.slcan.send, frame)

    def stats(self) -> dict[str, object]:
        return self.loop_thread.call(self.slcan.stats)

    def next_frame(self, timeout: float = 3.0) -> can.Message:
        return self.received.get(timeout=timeout)

    def open_bus(self, bitrate: int = 500_000) -> slcanBus:
        """python-can's slcan bus on the adapter, once the adapter has read its `O`
        (python-can returns as soon as it has written it)."""
        opens = self.stats()["channel_opens"]
        bus = can.Bus(interface="slcan", channel=self.path, bitrate=bitrate, sleep_after_open=0)
        assert isinstance(bus, slcanBus)
        wait_until(lambda: self.stats()["channel_opens"] != opens, 3.0, "the adapter opened")
        return bus


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.stop()


@pytest.fixture
def adapter(loop_thread: LoopThread) -> Iterator[Adapter]:
    adapter = Adapter(loop_thread)
    yield adapter
    loop_thread.run(adapter.slcan.close())


def recv_until(bus: can.BusABC, wanted: can.Message, timeout: float = 3.0) -> list[can.Message]:
    """Frames received up to and including one like `wanted`."""
    seen: list[can.Message] = []
    while True:
        msg = bus.recv(timeout)
        assert msg is not None, f"no {wanted} after {len(seen)} frames"
        seen.append(msg)
        if same_frame(msg, wanted):
            return seen


def raw_reply(port: serial.Serial, line: bytes) -> bytes:
    """What the adapter answers to one raw line (one reply, up to its CR or BEL)."""
    port.write(line)
    reply = b""
    while not reply.endswith((b"\r", b"\a")):
        byte = port.read(1)
        assert byte, f"no reply to {line!r}, got {reply!r}"
        reply += byte
    return reply


def test_connect_holds_the_agents_can_keys(adapter: Adapter) -> None:
    assert adapter.slcan.connect == {
        "interface": "slcan",
        "channel": adapter.path,
        "bitrate": 500_000,
        "options": {"sleep_after_open": 0},
    }


def test_frames_cross_both_ways(adapter: Adapter) -> None:
    with adapter.open_bus() as bus:
        for frame in FRAMES:
            bus.send(frame)
            assert same_frame(adapter.next_frame(), frame)
        adapter.send(*FRAMES)
        for frame in FRAMES:
            received = bus.recv(3)
            assert received is not None
            assert same_frame(received, frame), (received, frame)
        assert bus.get_version(2) == (10, 13)
        assert bus.get_serial_number(2) == "SIM1"
    wait_until(
        lambda: adapter.stats()["channel"] == "closed", 3.0, "closed"
    )  # python-can's shutdown sends C
    stats = adapter.stats()
    assert stats["frames_from_host"] == stats["frames_to_host"] == len(FRAMES)
    assert stats["malformed_lines"] == stats["refused_commands"] == 0


def test_thousands_of_frames_arrive_intact_and_in_order(adapter: Adapter) -> None:
    count = 3000

    def frame(n: int, extended: bool) -> can.Message:
        return can.Message(
            arbitration_id=n if extended else n % 0x800,
            data=n.to_bytes(4, "big") + bytes([n % 256] * (n % 5)),
            is_extended_id=extended,
        )

    with adapter.open_bus() as bus:
        adapter.send(*(frame(n, n % 2 == 0) for n in range(count)))
        for n in range(count):
            received = bus.recv(3)
            assert received is not None, f"frame {n} missing"
            assert same_frame(received, frame(n, n % 2 == 0))
        for n in range(count):
            bus.send(frame(n, n % 3 == 0))
        for n in range(count):
            assert same_frame(adapter.next_frame(), frame(n, n % 3 == 0))
    stats = adapter.stats()
    assert stats["to_host_dropped"] == 0


def test_nothing_crosses_before_the_channel_opens(adapter: Adapter) -> None:
    with serial.Serial(adapter.path, 115200, timeout=0.3) as port:
        assert raw_reply(port, b"t1231AA\r") == b"\a"
        adapter.send(FRAMES[3])
        assert port.read(32) == b""
        assert raw_reply(port, b"S6\r") == b"\r"
        assert raw_reply(port, b"O\r") == b"\r"
        assert raw_reply(port, b"t1231AA\r") == b"z\r"
        adapter.send(FRAMES[3])
        assert port.read_until(b"\r") == b"t1033000102\r"
        assert raw_reply(port, b"S5\r") == b"\a"  # bitrate only while closed
    assert same_frame(
        adapter.next_frame(), can.Message(arbitration_id=0x123, data=b"\xaa", is_extended_id=False)
    )
    assert adapter.received.empty()
    stats = adapter.stats()
    assert stats["refused_commands"] == 2
    assert stats["frames_while_closed"] == 1


def test_listen_only_receives_and_never_transmits(adapter: Adapter) -> None:
    with serial.Serial(adapter.path, 115200, timeout=1) as port:
        assert raw_reply(port, b"L\r") == b"\r"
        assert raw_reply(port, b"O\r") == b"\a"  # open in the other mode
        assert raw_reply(port, b"T0000012340\r") == b"\a"
        adapter.send(FRAMES[9])
        assert port.read_until(b"\r") == b"T18DAF1000\r"
    assert adapter.received.empty()
    stats = adapter.stats()
    assert (stats["transmit_requests"], stats["frames_from_host"]) == (1, 0)


def test_every_frame_the_host_asks_to_transmit_is_counted(adapter: Adapter) -> None:
    with serial.Serial(adapter.path, 115200, timeout=1) as port:
        assert raw_reply(port, b"t1230\r") == b"\a"  # the channel is closed
        assert raw_reply(port, b"O\r") == b"\r"
        assert raw_reply(port, b"t1230\r") == b"z\r"
        assert raw_reply(port, b"t12\r") == b"\a"  # malformed, still asked
        assert raw_reply(port, b"V\r") == b"V1013\r"
    stats = adapter.stats()
    assert (stats["transmit_requests"], stats["frames_from_host"]) == (3, 1)


MALFORMED = [
    b"t12\r",  # identifier too short
    b"t1232AA\r",  # fewer data bytes than the DLC
    b"t1231AABB\r",  # more data bytes than the DLC
    b"t8001AA\r",  # 11-bit identifier out of range
    b"T200000000\r",  # 29-bit identifier out of range
    b"tXYZ0\r",  # not hex
    b"t1239\r",  # DLC above 8
    b"t 230\r",  # a space is not a digit
    b"r1231AA\r",  # a remote frame with data
    b"Q\r",  # no such command
    b"S\r",
    b"SA\r",
    b"s01\r",
    b"Z2\r",
    b"Ofoo\r",
    b"x" * 300 + b"\r",  # longer than any command
]


def test_malformed_lines_get_a_bell_and_are_counted(adapter: Adapter) -> None:
    with serial.Serial(adapter.path, 115200, timeout=1) as port:
        assert raw_reply(port, b"O\r") == b"\r"
        for line in MALFORMED:
            assert raw_reply(port, line) == b"\a", line
        assert raw_reply(port, b"\x00\xfft1230\x1b\r") == b"z\r"
        assert raw_reply(port, b"d1230\r") == b"\a"  # CAN FD: refused
        assert raw_reply(port, b"\r") == b"\r"
        assert raw_reply(port, b"F\r") == b"F00\r"
    assert same_frame(
        adapter.next_frame(), can.Message(arbitration_id=0x123, data=b"", is_extended_id=False)
    )
    assert adapter.received.empty()
    stats = adapter.stats()
    assert stats["malformed_lines"] == len(MALFORMED)
    assert stats["refused_commands"] == 1
    assert stats["garbage_bytes"] == 3
    assert stats["frames_from_host"] == 1


def test_bitrate_and_timestamps_as_the_host_sets_them(adapter: Adapter) -> None:
    with adapter.open_bus(bitrate=250_000):
        stats = adapter.stats()
        assert stats["host_bitrate"] == 250_000
        assert stats["bitrate_mismatch"] is True
    wait_until(
        lambda: adapter.stats()["channel"] == "closed", 3.0, "closed"
    )  # its answer to C is out
    with serial.Serial(adapter.path, 115200, timeout=1) as port:
        assert raw_reply(port, b"s011C\r") == b"\r"  # SJA1000 8 MHz BTR0/BTR1 for 250 kbit/s
        assert raw_reply(port, b"Z1\r") == b"\r"
        assert raw_reply(port, b"O\r") == b"\r"
        adapter.send(FRAMES[1])
        line = port.read_until(b"\r")
        assert line.startswith(b"t101100")
        assert len(line) == len(b"t101100") + 4 + 1
        assert int(line[7:11], 16) < 60_000
    assert adapter.stats()["host_bitrate"] == 250_000


AGENT = textwrap.dedent(
    """
    import sys, can
    bus = can.Bus(interface="slcan", channel=sys.argv[1], bitrate=500000, sleep_after_open=0)
    bus.send(can.Message(arbitration_id=0x321, data=b"alive", is_extended_id=False))
    print("ready", flush=True)
    while True:
        bus.recv(1)
    """
)


def test_agent_killed_and_started_again(adapter: Adapter) -> None:
    alive = can.Message(arbitration_id=0x321, data=b"alive", is_extended_id=False)
    for _ in range(2):
        agent = subprocess.Popen(
            [sys.executable, "-c", AGENT, adapter.path], stdout=subprocess.PIPE, text=True
        )
        try:
            assert agent.stdout is not None
            assert agent.stdout.readline() == "ready\n"
            assert same_frame(adapter.next_frame(), alive)
        finally:
            agent.send_signal(signal.SIGKILL)
            agent.wait(10)
            assert agent.stdout is not None
            agent.stdout.close()
        # The car keeps talking while no one listens: more than the adapter can hold.
        adapter.send(*(FRAMES[17] for _ in range(5000)))
    marker = can.Message(arbitration_id=0x5A5, data=b"fresh", is_extended_id=False)
    with adapter.open_bus() as bus:
        adapter.send(marker)
        received = recv_until(bus, marker)  # stale frames first, none broken
        assert all(same_frame(msg, FRAMES[17]) for msg in received[:-1])
        bus.send(marker)
        assert same_frame(adapter.next_frame(), marker)
    stats = adapter.stats()
    assert isinstance(stats["to_host_dropped"], int)
    assert stats["to_host_dropped"] > 0


@given(
    arbitration_id=st.integers(0, 0x1FFFFFFF),
    extended=st.booleans(),
    remote=st.booleans(),
    data=st.binary(max_size=8),
    remote_dlc=st.integers(0, 8),
)
def test_format_then_parse_gives_the_frame_back(
    arbitration_id: int, extended: bool, remote: bool, data: bytes, remote_dlc: int
) -> None:
    if not extended:
        arbitration_id &= 0x7FF
    msg = can.Message(
        arbitration_id=arbitration_id,
        is_extended_id=extended,
        is_remote_frame=remote,
        data=b"" if remote else data,
        dlc=remote_dlc if remote else len(data),
    )
    line = format_frame(msg)
    assert line.endswith(b"\r")
    assert same_frame(parse_frame(line[:-1].decode()), msg)


@pytest.mark.parametrize("line", [m.rstrip(b"\r").decode() for m in MALFORMED[:9]])
def test_parse_frame_rejects_malformed_frames(line: str) -> None:
    with pytest.raises(SlcanError):
        parse_frame(line)


def test_format_frame_refuses_what_slcan_cannot_carry() -> None:
    with pytest.raises(ValueError, match=r"CAN 2\.0"):
        format_frame(can.Message(arbitration_id=1, is_fd=True, data=bytes(12)))
    with pytest.raises(ValueError, match="out of range"):
        format_frame(can.Message(arbitration_id=0x800, is_extended_id=False))


def test_real_bus_alternative_on_a_virtual_bus(loop_thread: LoopThread) -> None:
    channel = f"sim-test-{uuid.uuid4().hex}"
    received: queue.Queue[can.Message] = queue.Queue()
    link = open_can_link(received.put, interface="virtual", channel=channel)
    assert isinstance(link, CanBusLink)
    assert link.connect == {
        "interface": "virtual",
        "channel": channel,
        "bitrate": 500_000,
        "options": {},
    }
    loop_thread.run(link.start())
    try:
        with can.Bus(interface="virtual", channel=channel) as agent:
            for frame in FRAMES:
                agent.send(frame)
                assert same_frame(received.get(timeout=3), frame)
            for frame in FRAMES:
                loop_thread.call(link.send, frame)
                got = agent.recv(3)
                assert got is not None
                assert same_frame(got, frame)
        stats = loop_thread.call(link.stats)
        assert stats["frames_from_bus"] == stats["frames_to_bus"] == len(FRAMES)
    finally:
        loop_thread.run(link.close())


def test_open_can_link_defaults_to_slcan_and_needs_a_channel_otherwise() -> None:
    assert isinstance(open_can_link(lambda msg: None), SlcanPty)
    with pytest.raises(ValueError, match="--can-channel"):
        open_can_link(lambda msg: None, interface="socketcan")
