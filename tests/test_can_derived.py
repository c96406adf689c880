"""Derived inputs: a threshold with hysteresis, one input over several messages, the staleness
of any source; the odometer's plausibility that recovers from an outlier."""

from hypothesis import given
from hypothesis import strategies as st

from edge.can.signals import REBASE_READINGS, STALE_CYCLES, SignalTable
from firmware_protocol.can import NOT_AVAILABLE, VehicleCodec

HYUNDAI = VehicleCodec.load("hyundai_kia")


def _rpm_frame(rpm: float) -> tuple[int, bytes]:
    return HYUNDAI.encode_status(
        "EMS11", {"speed_kmh": 0.0, "engine_running": False}, other_signals={"N": rpm}
    )


@given(st.lists(st.integers(0, 3000), min_size=1, max_size=40))
def test_engine_running_is_a_threshold_with_hysteresis(rpms: list[int]) -> None:
    codec = VehicleCodec.load("hyundai_kia")
    running = False
    for rpm in rpms:
        value = codec.decode(*_rpm_frame(rpm))["engine_running"]
        if rpm > 400:
            running = True
        elif rpm <= 250:
            running = False
        assert value is running


@given(front=st.booleans(), rear=st.booleans(), tailgate=st.booleans())
def test_doors_closed_over_two_messages(front: bool, rear: bool, tailgate: bool) -> None:
    table = SignalTable(HYUNDAI.cycle_s, NOT_AVAILABLE, combine=HYUNDAI.combine)
    cgw1 = HYUNDAI.encode_status(
        "CGW1",
        {"ignition": True, "doors_closed": True},
        other_signals={"CF_Gway_DrvDrSw": int(front), "CF_Gway_TrunkTgSw": int(tailgate)},
    )
    cgw2 = HYUNDAI.encode_status(
        "CGW2", {"doors_closed": True}, other_signals={"CF_Gway_RRDrSw": int(rear)}
    )
    table.update(HYUNDAI.decode(*cgw1), 0.0)
    assert table.snapshot(["doors_closed"])["doors_closed"] is (
        False if front or tailgate else None
    )
    table.update(HYUNDAI.decode(*cgw2), 0.0)
    closed = not (front or rear or tailgate)
    assert table.snapshot(["doors_closed"])["doors_closed"] is closed


@given(stale=st.sampled_from(["doors_closed@CGW1", "doors_closed@CGW2"]))
def test_a_stale_source_makes_the_input_unknown(stale: str) -> None:
    table = SignalTable(HYUNDAI.cycle_s, NOT_AVAILABLE, combine=HYUNDAI.combine)
    table.update({"doors_closed@CGW1": True, "doors_closed@CGW2": True}, 0.0)
    assert table.snapshot(["doors_closed"])["doors_closed"] is True
    later = HYUNDAI.cycle_s[stale] * STALE_CYCLES + 0.01
    fresh = "doors_closed@CGW2" if stale == "doors_closed@CGW1" else "doors_closed@CGW1"
    table.update({fresh: True}, later)
    table.expire(later)
    assert table.snapshot(["doors_closed"])["doors_closed"] is None


def test_odometer_recovers_from_one_outlier_and_keeps_its_trusted_reading() -> None:
    kept: list[float] = []
    table = SignalTable({"odometer_km": 1.0}, NOT_AVAILABLE, on_trusted_odometer=kept.append)
    table.update({"odometer_km": 1000.0}, 0.0)
    table.update({"odometer_km": 100000.0}, 1.0)  # mis-scaled: dropped
    assert table.get("odometer_km") == 1000.0
    table.update({"odometer_km": 1000.1}, 2.0)  # the next good one is taken
    assert table.get("odometer_km") == 1000.1
    assert kept == [1000.0, 1000.1]
    restarted = SignalTable({"odometer_km": 1.0}, NOT_AVAILABLE, trusted_odometer=kept[-1])
    restarted.update({"odometer_km": 900.0}, 0.0)  # lower than the last trusted: dropped
    assert restarted.get("odometer_km") is None
    for step in range(REBASE_READINGS):  # a new odometer, consistently: trusted in the end
        restarted.update({"odometer_km": 5.0 + step * 0.1}, float(step))
    assert restarted.get("odometer_km") == 5.0 + (REBASE_READINGS - 1) * 0.1
