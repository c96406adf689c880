"""OBD-II services 0x01 and 0x03: golden payloads, round trips, negative responses, random input.

The random-payload test parses 10^5 payloads; for a longer fuzz multiply that with
CODEC_FUZZ_FACTOR, e.g. `CODEC_FUZZ_FACTOR=100 .venv/bin/pytest tests/test_obd.py -k random`.
"""

import os
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_protocol.obd import (
    ENGINE_SPEED,
    FUEL_LEVEL,
    FUNCTIONAL_REQUEST_ID,
    ODOMETER,
    PIDS,
    VEHICLE_SPEED,
    Complete,
    IsoTpReassembler,
    IsoTpSender,
    NegativeResponseError,
    Nrc,
    ObdError,
    Request,
    SendFlowControl,
    decode_dtc,
    encode_current_data,
    encode_dtc,
    encode_negative_response,
    encode_stored_dtcs,
    parse_current_data,
    parse_request,
    parse_stored_dtcs,
    physical_request_id,
    request_current_data,
    request_stored_dtcs,
    response_id,
    segment,
)

FUZZ_PAYLOADS = 100_000 * int(os.environ.get("CODEC_FUZZ_FACTOR", "1"))


def payload(hex_payload: str) -> bytes:
    return bytes.fromhex(hex_payload)


def test_addressing() -> None:
    assert FUNCTIONAL_REQUEST_ID == 0x7DF
    assert response_id(0x7E0) == 0x7E8
    assert response_id(0x7E7) == 0x7EF
    assert physical_request_id(0x7E9) == 0x7E1
    with pytest.raises(ObdError):
        response_id(0x7DF)
    with pytest.raises(ObdError):
        physical_request_id(0x7E0)


# -- service 0x01


def test_golden_requests() -> None:
    assert request_current_data(0x0D) == payload("01 0d")
    assert segment(request_current_data(0x0C, 0x2F)) == [payload("03 01 0c 2f cc cc cc cc")]
    assert segment(request_stored_dtcs()) == [payload("01 03 cc cc cc cc cc cc")]


@pytest.mark.parametrize("pids", [(), (1, 2, 3, 4, 5, 6, 7), (0x100,), (-1,)])
def test_bad_requests(pids: tuple[int, ...]) -> None:
    with pytest.raises(ObdError):
        request_current_data(*pids)


GOLDEN_RESPONSES = [
    ("41 0c 1a f8", {0x0C: 1726.0}),  # (256 * 0x1A + 0xF8) / 4
    ("41 0c ff ff", {0x0C: 16383.75}),
    ("41 0d 58", {0x0D: 88.0}),
    ("41 2f ff", {0x2F: 100.0}),
    ("41 2f 80", {0x2F: 128 * 100 / 255}),
    ("41 a6 00 01 e2 40", {0xA6: 12345.6}),
    ("41 0d 00 2f 00 a6 ff ff ff ff", {0x0D: 0.0, 0x2F: 0.0, 0xA6: 429496729.5}),
]


@pytest.mark.parametrize(("response", "values"), GOLDEN_RESPONSES)
def test_golden_responses(response: str, values: dict[int, float]) -> None:
    assert parse_current_data(payload(response)) == values
    assert encode_current_data(values) == payload(response)


@pytest.mark.parametrize(
    "response",
    [
        "",
        "41",  # no PID
        "42 0d 58",  # another service
        "41 0c 1a",  # PID 0x0C is 2 bytes
        "41 0d",
        "41 0d 58 2f",
        "41 05 7b",  # engine coolant temperature: not a PID this codec knows
        "7f 01",  # negative response cut short
        "7f 03 11",  # a negative answer to another service
    ],
)
def test_bad_responses(response: str) -> None:
    with pytest.raises(ObdError):
        parse_current_data(payload(response))


def test_negative_responses() -> None:
    with pytest.raises(NegativeResponseError) as caught:
        parse_current_data(payload("7f 01 12"))
    assert (caught.value.service, caught.value.nrc) == (0x01, Nrc.SUBFUNCTION_NOT_SUPPORTED)
    with pytest.raises(NegativeResponseError) as caught:
        parse_stored_dtcs(encode_negative_response(0x03, Nrc.CONDITIONS_NOT_CORRECT))
    assert caught.value.nrc == 0x22
    assert encode_negative_response(0x09, Nrc.SERVICE_NOT_SUPPORTED) == payload("7f 09 11")
    assert issubclass(NegativeResponseError, ObdError)
    with pytest.raises(ObdError):
        encode_negative_response(0x100, 0x11)


@pytest.mark.parametrize(
    "values",
    [
        {},
        {0x0C: 16384.0},
        {0x0C: -1},
        {0x0D: 256},
        {0x2F: 100.3},
        {0xA6: -0.1},
        {0xA6: 429496729.6},
        {0x0D: float("nan")},
        {0x0D: float("inf")},
        {0x05: 90},
        dict.fromkeys(range(7), 0),
    ],
)
def test_encode_refuses(values: dict[int, float]) -> None:
    with pytest.raises(ObdError):
        encode_current_data(values)


def test_parse_requests() -> None:
    assert parse_request(payload("01 0c 0d")) == Request(0x01, (0x0C, 0x0D))
    assert parse_request(payload("03")) == Request(0x03)
    assert parse_request(payload("09 02")) == Request(0x09)
    for bad in ("", "01", "01 00 01 02 03 04 05 06"):
        with pytest.raises(ObdError):
            parse_request(payload(bad))


@pytest.mark.parametrize("number", sorted(PIDS), ids=hex)
@given(data=st.data())
def test_pid_raw_round_trip(number: int, data: st.DataObject) -> None:
    size = PIDS[number].size
    response = bytes([0x41, number]) + data.draw(st.binary(min_size=size, max_size=size))
    assert encode_current_data(parse_current_data(response)) == response


@given(
    st.floats(0, 16383.75),
    st.integers(0, 255),
    st.floats(0, 100),
    st.floats(0, 429496729.5),
)
def test_values_round_trip_to_the_nearest_step(
    rpm: float, speed: int, fuel: float, odometer: float
) -> None:
    values = {0x0C: rpm, 0x0D: speed, 0x2F: fuel, 0xA6: odometer}
    decoded = parse_current_data(encode_current_data(values))
    assert decoded.keys() == values.keys()
    assert decoded[0x0C] == pytest.approx(rpm, abs=0.125)
    assert decoded[0x0D] == speed
    assert decoded[0x2F] == pytest.approx(fuel, abs=50 / 255 + 1e-9)
    assert decoded[0x0A6] == pytest.approx(odometer, abs=0.05 + 1e-6)


def test_pid_table() -> None:
    assert {p.number: (p.size, p.unit) for p in PIDS.values()} == {
        0x0C: (2, "rpm"),
        0x0D: (1, "km/h"),
        0x2F: (1, "%"),
        0xA6: (4, "km"),
    }
    assert tuple(PIDS.values()) == (ENGINE_SPEED, VEHICLE_SPEED, FUEL_LEVEL, ODOMETER)


# -- service 0x03

GOLDEN_DTCS = [
    ("03 01", "P0301"),
    ("c1 00", "U0100"),
    ("0a 80", "P0A80"),
    ("92 34", "B1234"),
    ("4f ff", "C0FFF"),
    ("00 00", "P0000"),
    ("ff ff", "U3FFF"),
]


@pytest.mark.parametrize(("raw", "dtc"), GOLDEN_DTCS)
def test_golden_dtcs(raw: str, dtc: str) -> None:
    assert decode_dtc(payload(raw)) == dtc
    assert encode_dtc(dtc) == payload(raw)


def test_golden_stored_dtcs() -> None:
    assert parse_stored_dtcs(payload("43 02 03 01 c1 00")) == ("P0301", "U0100")
    assert parse_stored_dtcs(payload("43 00")) == ()
    assert encode_stored_dtcs(["P0301", "U0100"]) == payload("43 02 03 01 c1 00")


@pytest.mark.parametrize("response", ["", "43", "43 01", "43 01 03", "43 01 03 01 00", "47 00"])
def test_bad_stored_dtcs(response: str) -> None:
    with pytest.raises(ObdError):
        parse_stored_dtcs(payload(response))


@pytest.mark.parametrize("dtc", ["P4301", "X0301", "p0301", "P030", "P03011", "P03G1", ""])
def test_bad_dtc_strings(dtc: str) -> None:
    with pytest.raises(ObdError):
        encode_dtc(dtc)


def test_bad_dtc_lists() -> None:
    with pytest.raises(ObdError):
        encode_stored_dtcs(["P0301"] * 256)
    with pytest.raises(ObdError):
        decode_dtc(b"\x03")


DTC = st.builds(
    "{}{}{:03X}".format, st.sampled_from("PCBU"), st.integers(0, 3), st.integers(0, 0xFFF)
)


def _receive(frames: list[bytes]) -> bytes:
    """Reassembles the frames an ECU sends, answering flow control by sending on."""
    sender_frames = iter(frames)
    receiver = IsoTpReassembler()
    result = receiver.feed(next(sender_frames))
    while not isinstance(result, Complete):
        assert result is None or isinstance(result, SendFlowControl)
        result = receiver.feed(next(sender_frames))
    return result.payload


@given(st.lists(DTC, max_size=255))
def test_stored_dtcs_round_trip_over_iso_tp(dtcs: list[str]) -> None:
    response = encode_stored_dtcs(dtcs)
    assert parse_stored_dtcs(response) == tuple(dtcs)
    assert parse_stored_dtcs(_receive(segment(response))) == tuple(dtcs)


def test_many_dtcs_come_in_many_frames() -> None:
    dtcs = [f"P{n:04d}" for n in range(300, 340)]
    sender = IsoTpSender(encode_stored_dtcs(dtcs))
    receiver = IsoTpReassembler(block_size=4)
    result = receiver.feed(sender.first_frame)
    frames = 1
    while isinstance(result, SendFlowControl):
        for frame in sender.on_flow_control(result.frame).frames:
            frames += 1
            result = receiver.feed(frame)
    assert isinstance(result, Complete)
    assert frames == 1 + 11  # 82 bytes: 6 in the first frame, 76 in 10 full frames and 1 more
    assert parse_stored_dtcs(result.payload) == tuple(dtcs)


# -- random payloads: parsing raises nothing but ObdError


def _random_payload(rng: random.Random) -> bytes:
    data = bytearray(rng.randbytes(rng.randrange(12)))
    if data and rng.random() < 0.8:
        data[0] = rng.choice([0x41, 0x43, 0x7F, 0x01, 0x03])
        if len(data) > 1 and rng.random() < 0.7:
            data[1] = rng.choice([*PIDS, 0, 1, 3, rng.randrange(256)])
    return bytes(data)


def test_random_payloads_raise_only_obd_errors() -> None:
    rng = random.Random(1979)
    parsed = refused = 0
    for _ in range(FUZZ_PAYLOADS):
        data = _random_payload(rng)
        for parse in (parse_current_data, parse_stored_dtcs, parse_request):
            try:
                parse(data)
                parsed += 1
            except ObdError:
                refused += 1
    assert parsed
    assert refused
