"""The stream reassembler: garbage, byte-at-a-time frames, bit flips, truncation, false starts.

The exact guarantee (PROTOCOL.md section 13): of a stream of good frames and garbage, followed
by `idle()`, every good frame comes out in order, except one that overlaps a false frame (bytes
that happen to form a candidate with a matching CRC); and every byte fed is in a frame that
came out, counted in `garbage_bytes`, or still `buffered`.
"""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st
from slotboard_strategies import frames

from firmware_protocol.slotboard import (
    BUFFER_CAP,
    MAX_FRAME,
    MAX_PAYLOAD,
    START,
    Frame,
    FrameReassembler,
)

GOOD = Frame(0x03, 0x07, 0x11, b"\x05")
OTHER = Frame(0x01, 0x08, 0x10, bytes(range(20)), response=True)


def feed_all(reassembler: FrameReassembler, chunks: list[bytes]) -> list[Frame]:
    out: list[Frame] = []
    for chunk in chunks:
        out += reassembler.feed(chunk)
        assert reassembler.buffered < MAX_FRAME <= BUFFER_CAP
    return out + reassembler.idle()


def assert_accounted(reassembler: FrameReassembler, fed: int, out: list[Frame]) -> None:
    assert reassembler.frames == len(out)
    assert reassembler.garbage_bytes + sum(f.size for f in out) + reassembler.buffered == fed


def test_garbage_only() -> None:
    reassembler = FrameReassembler()
    garbage = bytes(random.Random(1).randrange(256) for _ in range(5000))
    out = feed_all(reassembler, [garbage])
    assert out == []
    assert reassembler.garbage_bytes == len(garbage)
    assert reassembler.resyncs == 1
    assert reassembler.buffered == 0


def test_frame_one_byte_at_a_time() -> None:
    reassembler = FrameReassembler()
    wire = GOOD.serialize() + OTHER.serialize()
    out: list[Frame] = []
    for byte in wire:
        out += reassembler.feed(bytes([byte]))
    assert out == [GOOD, OTHER]
    assert (reassembler.garbage_bytes, reassembler.resyncs, reassembler.crc_errors) == (0, 0, 0)


def test_frame_comes_out_as_soon_as_complete() -> None:
    reassembler = FrameReassembler()
    wire = GOOD.serialize()
    assert reassembler.feed(wire[:-1]) == []
    assert reassembler.feed(wire[-1:]) == [GOOD]


def test_every_single_bit_flip_is_dropped_and_the_next_frame_survives() -> None:
    wire = GOOD.serialize()
    for bit in range(len(wire) * 8):
        flipped = bytearray(wire)
        flipped[bit // 8] ^= 1 << (bit % 8)
        reassembler = FrameReassembler()
        out = feed_all(reassembler, [bytes(flipped), OTHER.serialize()])
        assert out == [OTHER], f"bit {bit}"
        assert_accounted(reassembler, len(wire) + OTHER.size, out)


def test_truncated_frame_then_good_frame() -> None:
    wire = OTHER.serialize()
    for cut in range(1, len(wire)):
        reassembler = FrameReassembler()
        out = feed_all(reassembler, [wire[:cut], GOOD.serialize()])
        assert out == [GOOD], f"cut at {cut}"
        assert reassembler.garbage_bytes == cut


def test_truncated_frame_waits_for_idle_to_free_the_good_frame_behind_it() -> None:
    # A cut-off frame whose length byte promises more than the rest of the stream holds.
    truncated = bytes([START, 1, 2, 3, MAX_PAYLOAD]) + b"x" * 10
    reassembler = FrameReassembler()
    assert reassembler.feed(truncated + GOOD.serialize()) == []
    assert reassembler.idle() == [GOOD]
    assert reassembler.garbage_bytes == len(truncated)


def test_garbage_in_front_and_after() -> None:
    reassembler = FrameReassembler()
    out = feed_all(
        reassembler, [b"\x00\xff\x13", GOOD.serialize(), b"\x42\x42", OTHER.serialize(), b"\x99"]
    )
    assert out == [GOOD, OTHER]
    assert reassembler.garbage_bytes == 6
    assert reassembler.resyncs == 3
    assert reassembler.crc_errors == 0


def test_false_start_bytes_inside_payloads() -> None:
    # The payload holds start bytes and a whole fake header; garbage in front ends in a start.
    tricky = Frame(0x05, 0xA5, 0x25, bytes([START, 0x05, 0xA5, 0x25, 0x03, START] * 10))
    reassembler = FrameReassembler()
    out = feed_all(
        reassembler, [b"\xa5\xa5\x01", tricky.serialize(), bytes([START]), tricky.serialize()]
    )
    assert out == [tricky, tricky]
    assert_accounted(reassembler, 4 + 2 * tricky.size, out)


def test_start_byte_with_impossible_length_is_dropped_at_once() -> None:
    reassembler = FrameReassembler()
    assert reassembler.feed(bytes([START, 1, 2, 3, 0xFF]) + GOOD.serialize()) == [GOOD]
    assert reassembler.garbage_bytes == 5


def test_crc_errors_are_counted() -> None:
    broken = bytearray(GOOD.serialize())
    broken[-1] ^= 0x01
    reassembler = FrameReassembler()
    out = feed_all(reassembler, [bytes(broken), GOOD.serialize()])
    assert out == [GOOD]
    assert reassembler.crc_errors == 1


def test_buffer_stays_capped_under_a_flood_of_false_starts() -> None:
    flood = bytes([START, 0, 0, 0, MAX_PAYLOAD]) * 2000
    reassembler = FrameReassembler()
    for offset in range(0, len(flood), 997):
        assert reassembler.feed(flood[offset : offset + 997]) == []
        assert reassembler.buffered < MAX_FRAME
    assert reassembler.feed(flood) == []
    assert reassembler.buffered < MAX_FRAME
    assert reassembler.idle() == []
    assert reassembler.garbage_bytes == 2 * len(flood)


# An alphabet rich in start bytes and small lengths makes false candidates common.
_nasty_garbage = st.binary(max_size=40) | st.lists(
    st.sampled_from([START, START, 0x00, 0x01, 0x02, 0x05, 0x11, 0x91, 0xFF]), max_size=40
).map(bytes)


@st.composite
def _flipped(draw: st.DrawFn) -> bytes:
    wire = bytearray(draw(frames).serialize())
    bit = draw(st.integers(0, len(wire) * 8 - 1))
    wire[bit // 8] ^= 1 << (bit % 8)
    return bytes(wire)


_chunks = st.lists(
    st.one_of(
        frames.map(lambda f: ("good", f)),
        _nasty_garbage.map(lambda g: ("garbage", g)),
        _flipped().map(lambda g: ("garbage", g)),
    ),
    max_size=12,
)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=300, deadline=None)
@given(_chunks, st.lists(st.integers(0, 10_000), max_size=30))
def test_interleaved_frames_and_garbage(chunks: list[tuple[str, object]], cuts: list[int]) -> None:
    goods = [c for kind, c in chunks if kind == "good"]
    stream = b"".join(c.serialize() if isinstance(c, Frame) else c for _, c in chunks)
    reassembler = FrameReassembler()
    out = feed_all(reassembler, _split(stream, cuts))
    assert_accounted(reassembler, len(stream), out)
    assert reassembler.buffered == 0
    assert (reassembler.resyncs > 0) == (reassembler.garbage_bytes > 0)
    assert reassembler.resyncs <= reassembler.garbage_bytes
    for frame in out:  # whatever came out has a right CRC, so it serializes back unchanged
        assert Frame.deserialize(frame.serialize()) == (frame, b"")
    false_frames = [frame for frame in out if frame not in goods]
    if not false_frames:
        assert out == goods


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            frames.map(lambda f: ("good", f)),
            st.binary(min_size=1, max_size=40).map(
                lambda g: ("garbage", g.replace(bytes([START]), b"\x00"))
            ),
        ),
        max_size=12,
    ),
    st.lists(st.integers(0, 10_000), max_size=30),
)
def test_garbage_without_start_bytes_loses_nothing(
    chunks: list[tuple[str, object]], cuts: list[int]
) -> None:
    goods = [c for kind, c in chunks if kind == "good"]
    garbage = [c for kind, c in chunks if isinstance(c, bytes)]
    stream = b"".join(c.serialize() if isinstance(c, Frame) else c for _, c in chunks)
    runs = sum(
        1
        for i, (kind, _) in enumerate(chunks)
        if kind == "garbage" and (i == 0 or chunks[i - 1][0] == "good")
    )
    reassembler = FrameReassembler()
    out = feed_all(reassembler, _split(stream, cuts))
    assert out == goods
    assert reassembler.garbage_bytes == sum(len(g) for g in garbage)
    assert reassembler.resyncs == runs
    assert reassembler.crc_errors == 0
