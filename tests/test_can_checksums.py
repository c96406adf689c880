"""Checksum algorithms against frames computed independently of this project: the packer of the
installed opendbc package (its own checksum code) and the published CRC-8/AUTOSAR check value."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_protocol.can import VehicleCodec
from firmware_protocol.can.checksum import ALGORITHMS, crc8h2f

opendbc_packer = pytest.importorskip("opendbc.can.packer")


def test_crc8_autosar_check_value() -> None:
    # CRC-8/AUTOSAR (poly 0x2F, init 0xFF, xorout 0xFF): check("123456789") = 0xDF
    assert crc8h2f(b"123456789") ^ 0xFF == 0xDF


VW = VehicleCodec.load("vw_golf_mk7")
VW_PACKER = opendbc_packer.CANPacker("vw_mqb")
TOYOTA = VehicleCodec.load("toyota_prius_2010")
TOYOTA_PACKER = opendbc_packer.CANPacker("toyota_prius_2010_pt")


@given(speed=st.integers(0, 65532), counter=st.integers(0, 15))
def test_vw_esp_21_as_opendbc_packs_it(speed: int, counter: int) -> None:
    address, data, _ = VW_PACKER.make_can_msg(
        "ESP_21", 0, {"ESP_v_Signal": speed * 0.01, "COUNTER": counter}
    )
    assert VW.decode(address, data) == {"speed_kmh": round(speed * 0.01, 2)}
    algorithm = ALGORITHMS["autosar_e2e_p2_crc8h2f"]
    ids = VW.profile.protected["ESP_21"].data_ids
    assert algorithm(address, data, 0, counter, ids) == data[0]
    ours = VW.encode_status("ESP_21", {"speed_kmh": speed * 0.01}, counter=counter)
    assert ours == (address, bytes(data))


@given(kl15=st.booleans(), counter=st.integers(0, 15))
def test_vw_terminal_status_as_opendbc_packs_it(kl15: bool, counter: int) -> None:
    address, data, _ = VW_PACKER.make_can_msg(
        "Klemmen_Status_01", 0, {"ZAS_Kl_15": int(kl15), "COUNTER": counter}
    )
    assert VW.decode(address, data) == {"ignition": kl15}
    assert VW.encode_status("Klemmen_Status_01", {"ignition": kl15}, counter=counter) == (
        address,
        bytes(data),
    )


@given(rpm=st.integers(0, 65535))
def test_toyota_powertrain_as_opendbc_packs_it(rpm: int) -> None:
    address, data, _ = TOYOTA_PACKER.make_can_msg("POWERTRAIN", 0, {"ENGINE_RPM": rpm})
    algorithm = ALGORITHMS["toyota_sum8"]
    assert algorithm(address, data, len(data) - 1, 0, ()) == data[-1]
    assert set(TOYOTA.decode(address, data)) == {"engine_running"}


def test_a_frame_with_a_bad_checksum_is_refused() -> None:
    address, data, _ = VW_PACKER.make_can_msg("ESP_21", 0, {"ESP_v_Signal": 50, "COUNTER": 3})
    broken = bytearray(data)
    broken[4] ^= 0x01
    with pytest.raises(ValueError, match="checksum"):
        VW.decode(address, bytes(broken))


def test_a_repeated_counter_is_refused_where_the_receiver_tracks_counters() -> None:
    address, data, _ = VW_PACKER.make_can_msg("ESP_21", 0, {"ESP_v_Signal": 50, "COUNTER": 3})
    seen: dict[int, int] = {}
    VW.decode(address, data, seen)
    with pytest.raises(ValueError, match="counter"):
        VW.decode(address, data, seen)
