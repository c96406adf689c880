"""ISO-TP (ISO 15765-2): golden frames, segment/reassemble round trips, flow control, random frames.

The random-frame test feeds 10^5 frames; for a longer fuzz multiply that with
CODEC_FUZZ_FACTOR, e.g. `CODEC_FUZZ_FACTOR=100 .venv/bin/pytest tests/test_obd_isotp.py -k random`.
"""

import contextlib
import os
import random

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from firmware_protocol.obd import (
    Complete,
    FlowControl,
    FlowStatus,
    IsoTpError,
    IsoTpReassembler,
    IsoTpSender,
    IsoTpSequenceError,
    ObdError,
    SendFlowControl,
    segment,
)

FUZZ_FRAMES = 100_000 * int(os.environ.get("CODEC_FUZZ_FACTOR", "1"))
CONTINUE = bytes.fromhex("30 00 00 cc cc cc cc cc")


def frames(*hex_frames: str) -> list[bytes]:
    return [bytes.fromhex(f) for f in hex_frames]


def test_golden_single_frame() -> None:
    assert segment(b"\x01\x0d") == frames("02 01 0d cc cc cc cc cc")
    assert segment(bytes(range(7))) == frames("07 00 01 02 03 04 05 06")


def test_golden_multi_frame() -> None:
    assert segment(bytes(range(16))) == frames(
        "10 10 00 01 02 03 04 05",
        "21 06 07 08 09 0a 0b 0c",
        "22 0d 0e 0f cc cc cc cc",
    )


def test_sequence_numbers_wrap_from_15_to_0() -> None:
    sent = segment(bytes(6 + 7 * 17))
    assert [f[0] for f in sent[1:]] == [0x20 | n & 0xF for n in range(1, 18)]
    assert (sent[15][0], sent[16][0], sent[17][0]) == (0x2F, 0x20, 0x21)


def test_golden_first_frame_of_the_longest_payload() -> None:
    assert segment(bytes(4095))[0] == bytes.fromhex("1f ff 00 00 00 00 00 00")


@pytest.mark.parametrize("size", [0, 4096])
def test_payloads_iso_tp_cannot_carry(size: int) -> None:
    with pytest.raises(IsoTpError):
        segment(bytes(size))


def test_golden_flow_control() -> None:
    assert FlowControl().encode() == CONTINUE
    assert FlowControl(FlowStatus.WAIT, 8, 0x14).encode() == bytes.fromhex(
        "31 08 14 cc cc cc cc cc"
    )
    assert FlowControl.decode(bytes.fromhex("30 04 f3")) == FlowControl(
        FlowStatus.CONTINUE_TO_SEND, 4, 0xF3
    )


@pytest.mark.parametrize(
    ("st_min", "seconds"),
    [(0x00, 0.0), (0x14, 0.020), (0x7F, 0.127), (0xF1, 0.0001), (0xF9, 0.0009), (0x80, 0.127)],
)
def test_st_min(st_min: int, seconds: float) -> None:
    assert FlowControl(st_min=st_min).st_min_s == pytest.approx(seconds)


@pytest.mark.parametrize("frame", ["33 00 00", "30 00", "20 00 00", ""])
def test_not_a_flow_control_frame(frame: str) -> None:
    with pytest.raises(IsoTpError):
        FlowControl.decode(bytes.fromhex(frame))


def transfer(payload: bytes, block_size: int) -> tuple[bytes, int]:
    """Runs a sender against a reassembler; returns the payload received and the flow controls."""
    sender = IsoTpSender(payload)
    receiver = IsoTpReassembler(block_size=block_size)
    flow_controls = 0
    result = receiver.feed(sender.first_frame)
    while isinstance(result, SendFlowControl):
        flow_controls += 1
        burst = sender.on_flow_control(result.frame)
        result = None
        for sent in burst.frames:
            assert result is None  # only the last frame of a block is answered
            result = receiver.feed(sent)
    assert isinstance(result, Complete)
    assert sender.done
    return result.payload, flow_controls


PAYLOADS = st.integers(1, 4095).flatmap(lambda size: st.binary(min_size=size, max_size=size))


@given(PAYLOADS | st.binary(min_size=1, max_size=20), st.integers(0, 20))
@example(bytes(4095), 0)
@example(bytes(4095), 1)
@example(bytes(7), 0)
@example(bytes(8), 0)
def test_segment_reassemble_round_trip(payload: bytes, block_size: int) -> None:
    received, flow_controls = transfer(payload, block_size)
    assert received == payload
    consecutive = len(segment(payload)) - 1
    if consecutive == 0:
        assert flow_controls == 0
    else:
        assert flow_controls == (1 + (consecutive - 1) // block_size if block_size else 1)


def test_reassembler_asks_for_flow_control_after_each_block() -> None:
    sent = segment(bytes(range(6 + 7 * 5)))
    receiver = IsoTpReassembler(block_size=2, st_min=5)
    flow_control = SendFlowControl(bytes.fromhex("30 02 05 cc cc cc cc cc"))
    assert receiver.feed(sent[0]) == flow_control
    assert receiver.feed(sent[1]) is None
    assert receiver.feed(sent[2]) == flow_control
    assert receiver.feed(sent[3]) is None
    assert receiver.feed(sent[4]) == flow_control
    assert receiver.feed(sent[5]) == Complete(bytes(range(41)))


def test_sender_sends_blocks_and_waits() -> None:
    sender = IsoTpSender(bytes(6 + 7 * 5))
    assert sender.on_flow_control(bytes.fromhex("31 00 00")).frames == ()
    burst = sender.on_flow_control(bytes.fromhex("30 03 0a"))
    assert [f[0] for f in burst.frames] == [0x21, 0x22, 0x23]
    assert burst.st_min_s == pytest.approx(0.010)
    assert not sender.done
    assert [f[0] for f in sender.on_flow_control(CONTINUE).frames] == [0x24, 0x25]
    assert sender.done
    assert sender.on_flow_control(CONTINUE).frames == ()


def test_sender_gives_up_on_overflow() -> None:
    with pytest.raises(IsoTpError, match="overflow"):
        IsoTpSender(bytes(100)).on_flow_control(bytes.fromhex("32 00 00"))


def test_single_frame_sender_is_done_at_once() -> None:
    assert IsoTpSender(b"\x03").done


def test_wrong_sequence_number_drops_the_reception() -> None:
    sent = segment(bytes(range(30)))
    receiver = IsoTpReassembler()
    receiver.feed(sent[0])
    receiver.feed(sent[1])
    with pytest.raises(IsoTpSequenceError) as caught:
        receiver.feed(sent[3])
    assert (caught.value.expected, caught.value.received) == (2, 3)
    assert not receiver.in_progress
    assert receiver.feed(sent[2]) is None  # ignored: nothing in progress


def test_frames_that_are_ignored() -> None:
    receiver = IsoTpReassembler()
    assert receiver.feed(bytes.fromhex("21 00 00 00 00 00 00 00")) is None  # nothing in progress
    assert receiver.feed(CONTINUE) is None  # flow control is for senders


def test_a_new_message_replaces_the_one_in_progress() -> None:
    receiver = IsoTpReassembler()
    receiver.feed(segment(bytes(20))[0])
    assert receiver.feed(segment(b"\x41\x0d\x58")[0]) == Complete(b"\x41\x0d\x58")
    assert not receiver.in_progress
    new = segment(bytes(range(10)))
    receiver.feed(segment(bytes(30))[0])
    receiver.feed(new[0])
    assert receiver.feed(new[1]) == Complete(bytes(range(10)))


@pytest.mark.parametrize(
    "frame",
    [
        "",
        "00 01 02",  # single frame of length 0
        "08 00 01 02 03 04 05 06",  # single frame of length 8
        "05 01 02 03",  # announces 5, carries 3
        "10 14 00 01 02 03 04",  # first frame short of 8 bytes
        "10 07 00 01 02 03 04 05",  # 7 bytes would fit a single frame
        "40 00 00 00 00 00 00 00",  # PCI type 4
        "f0 00",
    ],
)
def test_malformed_frames(frame: str) -> None:
    with pytest.raises(IsoTpError):
        IsoTpReassembler().feed(bytes.fromhex(frame))


def test_malformed_frame_leaves_reception_in_progress() -> None:
    sent = segment(bytes(range(20)))
    receiver = IsoTpReassembler()
    receiver.feed(sent[0])
    with pytest.raises(IsoTpError):
        receiver.feed(sent[1][:3])  # a consecutive frame cut short
    assert receiver.in_progress
    receiver.feed(sent[1])
    assert receiver.feed(sent[2]) == Complete(bytes(range(20)))
    receiver.feed(sent[0])
    receiver.reset()
    assert receiver.feed(sent[1]) is None


def test_isotp_errors_are_obd_errors() -> None:
    assert issubclass(IsoTpSequenceError, IsoTpError)
    assert issubclass(IsoTpError, ObdError)
    assert issubclass(ObdError, ValueError)


def _random_frames(rng: random.Random) -> list[bytes]:
    """Garbage, or the frames of a real message, some of them lost or cut short."""
    if rng.random() < 0.3:
        sent = segment(rng.randbytes(rng.randrange(1, 60)))
        return [
            f[: rng.randrange(len(f))] if rng.random() < 0.02 else f
            for f in sent
            if rng.random() < 0.97
        ]
    frame = bytearray(rng.randbytes(rng.choice([0, 1, 2, 3, 5, 8, 8, 8, 8, 8])))
    if frame and rng.random() < 0.9:
        frame[0] = rng.randrange(4) << 4 | frame[0] & 0x0F
    return [bytes(frame)]


def test_random_frames_raise_only_isotp_errors() -> None:
    rng = random.Random(15765)
    receiver = IsoTpReassembler(block_size=2)
    outcomes = {"complete": 0, "flow_control": 0, "refused": 0, "ignored": 0}
    fed = 0
    while fed < FUZZ_FRAMES:
        for frame in _random_frames(rng):
            fed += 1
            try:
                result = receiver.feed(frame)
            except IsoTpError:
                outcomes["refused"] += 1
                continue
            if isinstance(result, Complete):
                outcomes["complete"] += 1
            elif isinstance(result, SendFlowControl):
                outcomes["flow_control"] += 1
            else:
                outcomes["ignored"] += 1
    assert all(outcomes.values())


def test_random_flow_control_frames_raise_only_isotp_errors() -> None:
    rng = random.Random(2)
    for _ in range(FUZZ_FRAMES // 10):
        sender = IsoTpSender(bytes(rng.randrange(1, 100)))
        for frame in _random_frames(rng):
            with contextlib.suppress(IsoTpError):
                sender.on_flow_control(frame)
