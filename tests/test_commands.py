"""Command checks (contract section 3): each rejection code, their order, and what never crashes."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.cabinet.commands import RentArgs
from edge.commands import (
    COMMAND_TYPES,
    COMMANDS,
    CommandRejected,
    CommandReply,
    CommandVerifier,
    FailureCode,
    RejectCode,
    canonical_json,
)
from edge.commands.args import EVERY_KIND
from edge.commands.verify import MAX_COMMAND_BYTES
from edge.config import BoxKind
from edge.vehicle.commands import StartRentalArgs
from sim.backend import Backend, BackendKeys

NOW = datetime(2026, 11, 23, 18, 14, 27, 123000, tzinfo=UTC)
CAR = "car-0001"
SKEW_S = 30
MAX_TTL_S = 3600
TARIFF = {
    "per_minute_cents": 25,
    "fuel_price_cents_per_litre": 189,
    "tank_litres": 42.7,
    "currency": "EUR",
}
BACKEND = Backend(BackendKeys.generate(), now=lambda: NOW)
IMPOSTOR = Backend(BackendKeys.generate(), now=lambda: NOW)


def verifier(kind: BoxKind | Literal["every"] = "vehicle", device_id: str = CAR) -> CommandVerifier:
    return CommandVerifier(
        device_id=device_id,
        public_key=BACKEND.keys.public_key,
        clock_skew_s=SKEW_S,
        max_ttl_s=MAX_TTL_S,
        allowed_types=COMMAND_TYPES["vehicle" if kind == EVERY_KIND else kind],
        now=lambda: NOW,
    )


def never_seen(_id: str) -> bool:
    return False


def encode(envelope: Any) -> bytes:
    return json.dumps(envelope).encode()


def rejection(raw: bytes, kind: BoxKind = "vehicle", replayed: bool = False) -> CommandRejected:
    with pytest.raises(CommandRejected) as caught:
        verifier(kind).verify(raw, lambda _id: replayed)
    return caught.value


def resigned(envelope: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return BACKEND.sign({**envelope, **changes})


# One well-formed command per type, as the backend builds it.
GOOD: dict[str, Callable[[str], dict[str, Any]]] = {
    "start_rental": lambda dev: BACKEND.start_rental(dev, "o1", "renter-7", TARIFF),
    "unlock": lambda dev: BACKEND.unlock(dev, "o1"),
    "lock": lambda dev: BACKEND.lock(dev, "o1"),
    "end_rental": lambda dev: BACKEND.end_rental(dev, "o1"),
    "set_service": lambda dev: BACKEND.set_service(dev, False, "violation 17"),
    "reserve": lambda dev: BACKEND.reserve(dev, "r1", "rent", 2, 120),
    "rent": lambda dev: BACKEND.rent(dev, "o1", reservation_id="r1"),
    "cancel": lambda dev: BACKEND.cancel(dev, "r1"),
    "set_slot": lambda dev: BACKEND.set_slot(dev, 3, False),
    "lower": lambda dev: BACKEND.lower(dev, "o1"),
    "raise": lambda dev: BACKEND.raise_(dev, "o1"),
    "test_eject": lambda dev: BACKEND.command(dev, "test_eject", {"slot": 3}),
    "test_move": lambda dev: BACKEND.command(dev, "test_move", {"direction": "lower"}),
    "test_lock_pulse": lambda dev: BACKEND.command(dev, "test_lock_pulse", {"action": "unlock"}),
    "configure": lambda dev: BACKEND.configure(dev, {"telemetry.interval_s": 5}),
}


def test_the_builders_cover_every_command_type() -> None:
    assert GOOD.keys() == COMMANDS.keys()
    assert set().union(*COMMAND_TYPES.values()) == COMMANDS.keys()


@pytest.mark.parametrize("command_type", sorted(COMMANDS))
def test_a_good_command_of_every_type_passes(command_type: str) -> None:
    kind = COMMANDS[command_type].kind
    envelope = GOOD[command_type](CAR)
    command = verifier(kind).verify(encode(envelope), never_seen)
    assert command.id == envelope["id"]
    assert command.type == command_type
    assert isinstance(command.args, COMMANDS[command_type].args)
    assert command.issued_at == NOW
    assert command.expires_at == NOW + timedelta(seconds=60)
    assert command.envelope == envelope


def test_tariff_numbers_arrive_as_decimal_with_the_digits_sent() -> None:
    command = verifier().verify(encode(GOOD["start_rental"](CAR)), never_seen)
    assert isinstance(command.args, StartRentalArgs)
    assert command.args.tariff.tank_litres == Decimal("42.7")
    whole = BACKEND.start_rental(CAR, "o1", "r", {**TARIFF, "tank_litres": 45})
    args = verifier().verify(encode(whole), never_seen).args
    assert isinstance(args, StartRentalArgs)
    assert args.tariff.tank_litres == Decimal(45)


def test_rent_by_count_passes() -> None:
    command = verifier("cabinet").verify(encode(BACKEND.rent(CAR, "o1", count=2)), never_seen)
    assert isinstance(command.args, RentArgs)
    assert (command.args.count, command.args.reservation_id) == (2, None)


def test_a_timestamp_with_an_offset_or_a_finer_fraction_is_accepted() -> None:
    envelope = resigned(
        BACKEND.unlock(CAR, "o1"),
        issued_at="2026-11-23T19:14:27.123456+01:00",
        expires_at="2026-11-23T18:15:00Z",
    )
    command = verifier().verify(encode(envelope), never_seen)
    assert command.issued_at == NOW + timedelta(microseconds=456)


def test_forget_at_is_expiry_plus_skew() -> None:
    check = verifier()
    command = check.verify(encode(BACKEND.unlock(CAR, "o1")), never_seen)
    assert check.forget_at(command) == (NOW + timedelta(seconds=60 + SKEW_S)).timestamp()


# --- one minimal example per rejection code --------------------------------------------


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"{", id="truncated"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b"\xef\xbb\xbf{}", id="utf8-bom"),
        pytest.param(b'{"id": NaN}', id="nan"),
        pytest.param(b'{"a": Infinity}', id="infinity"),
        pytest.param(b'{"type": "lock", "type": "unlock"}', id="duplicate-key"),
        pytest.param(b'{"renter": "\\ud800"}', id="lone-surrogate"),
        pytest.param(_deep(30_000), id="deep-nesting"),
        pytest.param(b" " * (MAX_COMMAND_BYTES + 1), id="too-large"),
    ],
)
def test_bad_json(raw: bytes) -> None:
    error = rejection(raw)
    assert error.code is RejectCode.BAD_JSON
    assert error.command_id is None


def test_a_signed_command_just_over_the_size_cap_is_bad_json() -> None:
    envelope = BACKEND.set_service(CAR, False, "x" * 100)
    raw = encode(envelope)
    at_cap = b" " * (MAX_COMMAND_BYTES - len(raw)) + raw
    assert verifier().verify(at_cap, never_seen).id == envelope["id"]
    assert rejection(b" " + at_cap).code is RejectCode.BAD_JSON


def _without(key: str) -> Callable[[dict[str, Any]], Any]:
    return lambda env: {k: v for k, v in env.items() if k != key}


def _with(**changes: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda env: {**env, **changes}


def _with_args(**changes: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda env: {**env, "args": {**env["args"], **changes}}


BAD_SCHEMA: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {
    "array": ("unlock", lambda env: [env]),
    "string": ("unlock", lambda env: "unlock"),
    "missing-sig": ("unlock", _without("sig")),
    "missing-args": ("unlock", _without("args")),
    "extra-field": ("unlock", _with(priority=1)),
    "id-not-uuid": ("unlock", _with(id="42")),
    "id-number": ("unlock", _with(id=42)),
    "device-id-ill-formed": ("unlock", _with(device_id="car 0001")),
    "issued-at-number": ("unlock", _with(issued_at=1795457667)),
    "expires-at-no-zone": ("unlock", _with(expires_at="2026-11-23T18:15:27")),
    "sig-number": ("unlock", _with(sig=7)),
    "unknown-type": ("unlock", _with(type="self_destruct")),
    "other-kind-type": ("reserve", lambda env: env),
    "args-missing": ("unlock", _with(args={})),
    "args-extra": ("unlock", _with_args(speed=3)),
    "args-ill-typed": ("unlock", _with_args(order_id=17)),
    "args-empty-id": ("unlock", _with_args(order_id="")),
    "bool-as-string": ("set_service", _with_args(in_service="false")),
    "currency-lower": ("start_rental", _with_args(tariff={**TARIFF, "currency": "eur"})),
    "litres-string": ("start_rental", _with_args(tariff={**TARIFF, "tank_litres": "42.7"})),
    "litres-zero": ("start_rental", _with_args(tariff={**TARIFF, "tank_litres": 0})),
    "cents-float": ("start_rental", _with_args(tariff={**TARIFF, "per_minute_cents": 2.5})),
    "cents-negative": ("start_rental", _with_args(tariff={**TARIFF, "per_minute_cents": -1})),
    "litres-absurd": ("start_rental", _with_args(tariff={**TARIFF, "tank_litres": 1e300})),
    "litres-too-fine": ("start_rental", _with_args(tariff={**TARIFF, "tank_litres": 42.0001})),
    "price-absurd": (
        "start_rental",
        _with_args(tariff={**TARIFF, "fuel_price_cents_per_litre": 10**30}),
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_SCHEMA))
def test_bad_schema(name: str) -> None:
    command_type, mutate = BAD_SCHEMA[name]
    envelope = GOOD[command_type](CAR)
    # Signed after the change, so only the schema is wrong.
    changed = mutate(envelope)
    if isinstance(changed, dict) and isinstance(changed.get("sig"), str):
        changed = BACKEND.sign(changed)
    assert rejection(encode(changed)).code is RejectCode.BAD_SCHEMA


BAD_CABINET_ARGS: dict[str, dict[str, Any]] = {
    "rent-both": {"order_id": "o1", "reservation_id": "r1", "count": 1},
    "rent-neither": {"order_id": "o1"},
    "rent-count-zero": {"order_id": "o1", "count": 0},
    "reserve-purpose": {"reservation_id": "r1", "purpose": "steal", "count": 1, "ttl_s": 5},
    "reserve-ttl-zero": {"reservation_id": "r1", "purpose": "rent", "count": 1, "ttl_s": 0},
    "reserve-count-bool": {"reservation_id": "r1", "purpose": "rent", "count": True, "ttl_s": 5},
}


@pytest.mark.parametrize("name", sorted(BAD_CABINET_ARGS))
def test_bad_schema_of_cabinet_args(name: str) -> None:
    command_type = name.split("-")[0]
    envelope = BACKEND.command(CAR, command_type, BAD_CABINET_ARGS[name])
    error = rejection(encode(envelope), kind="cabinet")
    assert error.code is RejectCode.BAD_SCHEMA
    assert error.command_id == envelope["id"]  # the id was readable, so the reply names it


def test_wrong_device() -> None:
    error = rejection(encode(BACKEND.unlock("car-0002", "o1")))
    assert error.code is RejectCode.WRONG_DEVICE


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda env: IMPOSTOR.sign(env), id="other-key"),
        pytest.param(_with(sig="not base64!"), id="not-base64"),
        pytest.param(_with(sig=base64.b64encode(b"\0" * 63).decode()), id="short"),
        pytest.param(_with(sig=""), id="empty"),
        pytest.param(_with_args(order_id="o2"), id="tampered-after-signing"),
    ],
)
def test_bad_signature(mutate: Callable[[dict[str, Any]], Any]) -> None:
    error = rejection(encode(mutate(BACKEND.unlock(CAR, "o1"))))
    assert error.code is RejectCode.BAD_SIGNATURE


@pytest.mark.parametrize(
    ("issued_ago_s", "valid_for_s"),
    [
        pytest.param(100, 60, id="expired-beyond-skew"),
        pytest.param(0, MAX_TTL_S + 1, id="ttl-over-max"),
        pytest.param(-(SKEW_S + 1), 60, id="issued-in-the-future"),
        pytest.param(0, -1, id="expires-before-issued"),
    ],
)
def test_expired(issued_ago_s: float, valid_for_s: float) -> None:
    issued = NOW - timedelta(seconds=issued_ago_s)
    envelope = BACKEND.unlock(CAR, "o1", issued_at=issued, expires_in_s=valid_for_s)
    assert rejection(encode(envelope)).code is RejectCode.EXPIRED


@pytest.mark.parametrize(
    ("issued_ago_s", "valid_for_s"),
    [
        pytest.param(60 + SKEW_S, 60, id="expired-within-skew"),
        pytest.param(0, MAX_TTL_S, id="ttl-at-max"),
        pytest.param(-SKEW_S, 60, id="issued-ahead-within-skew"),
    ],
)
def test_within_the_tolerances_passes(issued_ago_s: float, valid_for_s: float) -> None:
    issued = NOW - timedelta(seconds=issued_ago_s)
    envelope = BACKEND.unlock(CAR, "o1", issued_at=issued, expires_in_s=valid_for_s)
    assert verifier().verify(encode(envelope), never_seen).id == envelope["id"]


def test_replayed() -> None:
    envelope = BACKEND.unlock(CAR, "o1")
    seen: set[str] = set()
    command = verifier().verify(encode(envelope), seen.__contains__)
    seen.add(command.id)
    with pytest.raises(CommandRejected) as caught:
        verifier().verify(encode(envelope), seen.__contains__)
    assert caught.value.code is RejectCode.REPLAYED
    assert caught.value.command_id == envelope["id"]


# --- the order of the checks --------------------------------------------------------------

ORDER = [
    RejectCode.BAD_JSON,
    RejectCode.BAD_SCHEMA,
    RejectCode.WRONG_DEVICE,
    RejectCode.BAD_SIGNATURE,
    RejectCode.EXPIRED,
    RejectCode.REPLAYED,
]


def _with_faults(faults: set[RejectCode]) -> tuple[bytes, bool]:
    """An unlock that has exactly `faults`, each one independent of the others."""
    device = "car-0002" if RejectCode.WRONG_DEVICE in faults else CAR
    issued = NOW - timedelta(hours=1) if RejectCode.EXPIRED in faults else NOW
    envelope = BACKEND.unlock(device, "o1", issued_at=issued)
    if RejectCode.BAD_SCHEMA in faults:
        envelope = resigned(envelope, args={"order_id": 17})
    if RejectCode.BAD_SIGNATURE in faults:
        envelope = IMPOSTOR.sign(envelope)
    raw = encode(envelope)
    if RejectCode.BAD_JSON in faults:
        raw = raw[:-1]
    return raw, RejectCode.REPLAYED in faults


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param(set(combo), id="+".join(combo))
        for size in (1, 2, 3, 6)
        for combo in itertools.combinations(ORDER, size)
    ],
)
def test_the_first_failure_in_contract_order_is_the_code(faults: set[RejectCode]) -> None:
    raw, replayed = _with_faults(faults)
    expected = min(faults, key=ORDER.index)
    assert rejection(raw, replayed=replayed).code is expected


def test_without_faults_the_order_test_command_passes() -> None:
    raw, _ = _with_faults(set())
    assert verifier().verify(raw, never_seen).type == "unlock"


# --- properties ---------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _never_crashes(raw: bytes, kind: BoxKind = "vehicle") -> None:
    error = None
    try:
        verifier(kind).verify(raw, never_seen)
    except CommandRejected as rejected:
        error = rejected
    assert error is None or (error.code in ORDER and len(error.detail) < 1000)


@given(st.binary(max_size=512))
def test_random_bytes_only_ever_get_command_rejected(raw: bytes) -> None:
    _never_crashes(raw)


@given(st.sampled_from(sorted(COMMANDS)), st.booleans(), st.booleans(), JSON_VALUES, st.data())
def test_random_values_in_any_field_only_ever_get_command_rejected(
    command_type: str, in_args: bool, sign_after: bool, value: Any, data: st.DataObject
) -> None:
    envelope = GOOD[command_type](CAR)
    target = envelope["args"] if in_args else envelope
    key = data.draw(st.sampled_from(sorted(target)) | st.text(max_size=8))
    target[key] = value
    if sign_after:  # so that the checks after the signature see it too
        envelope = BACKEND.sign(envelope)
    _never_crashes(encode(envelope), COMMANDS[command_type].kind)


@pytest.mark.parametrize(
    ("issued_at", "expires_at", "code"),
    [
        ("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z", RejectCode.EXPIRED),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z", RejectCode.EXPIRED),
        ("0001-01-01T00:00:00+01:00", "2026-11-23T18:15:00Z", RejectCode.BAD_SCHEMA),
        ("2026-11-23T18:14:00Z", "9999-12-31T23:59:59-23:59", RejectCode.BAD_SCHEMA),
    ],
)
def test_timestamps_at_the_ends_of_the_calendar(issued_at: str, expires_at: str, code: str) -> None:
    envelope = resigned(BACKEND.unlock(CAR, "o1"), issued_at=issued_at, expires_at=expires_at)
    assert rejection(encode(envelope)).code is code


TIMESTAMPS = st.builds(
    lambda moment, offset_min: (
        moment.strftime("%Y-%m-%dT%H:%M:%S")
        + f"{'+' if offset_min >= 0 else '-'}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"
    ),
    st.datetimes(),
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
)


@given(TIMESTAMPS, TIMESTAMPS)
def test_any_signed_timestamps_only_ever_get_command_rejected(issued: str, expires: str) -> None:
    envelope = resigned(BACKEND.unlock(CAR, "o1"), issued_at=issued, expires_at=expires)
    _never_crashes(encode(envelope))


def _shift(stamp: str, seconds: int) -> str:
    from edge.timefmt import parse_rfc3339, rfc3339

    return rfc3339(parse_rfc3339(stamp) + timedelta(seconds=seconds))


TAMPERS: dict[str, Callable[[dict[str, Any], int], dict[str, Any]]] = {
    "id": lambda env, n: {**env, "id": f"{n:08x}-0000-4000-8000-000000000000"},
    "type": lambda env, n: {**env, "type": "lock"},
    "issued_at": lambda env, n: {**env, "issued_at": _shift(env["issued_at"], -n)},
    "expires_at": lambda env, n: {**env, "expires_at": _shift(env["expires_at"], -n)},
    "same-instant-other-spelling": lambda env, n: {
        **env,
        "expires_at": env["expires_at"].replace("Z", "+00:00"),
    },
    "args.order_id": lambda env, n: {**env, "args": {"order_id": f"o{n + 2}"}},
}


@given(st.sampled_from(sorted(TAMPERS)), st.integers(min_value=1, max_value=20))
def test_any_field_changed_after_signing_is_bad_signature(field: str, n: int) -> None:
    tampered = TAMPERS[field](BACKEND.unlock(CAR, "o1"), n)
    assert rejection(encode(tampered)).code is RejectCode.BAD_SIGNATURE


@given(st.integers(min_value=0, max_value=64 * 8 - 1))
def test_any_bit_flipped_in_the_signature_is_bad_signature(bit: int) -> None:
    envelope = BACKEND.unlock(CAR, "o1")
    signature = bytearray(base64.b64decode(envelope["sig"]))
    signature[bit // 8] ^= 1 << (bit % 8)
    flipped = {**envelope, "sig": base64.b64encode(bytes(signature)).decode()}
    assert rejection(encode(flipped)).code is RejectCode.BAD_SIGNATURE


# --- canonical JSON and non-ASCII -----------------------------------------------------------


def test_canonical_json_sorts_keys_drops_spaces_and_keeps_utf8() -> None:
    obj = {"b": "Zürich ✓ 李", "a": [1, {"d": None, "c": 2.5}]}
    assert canonical_json(obj) == '{"a":[1,{"c":2.5,"d":null}],"b":"Zürich ✓ 李"}'.encode()


@pytest.mark.parametrize("ascii_only", [False, True], ids=["utf8", "escaped"])
def test_non_ascii_args_verify_however_the_json_escapes_them(ascii_only: bool) -> None:
    envelope = BACKEND.start_rental(CAR, "Auftrag-Ä1", "Jürgen 李 🚗", TARIFF)
    raw = json.dumps(envelope, ensure_ascii=ascii_only, indent=2).encode()
    args = verifier().verify(raw, never_seen).args
    assert isinstance(args, StartRentalArgs)
    assert args.renter == "Jürgen 李 🚗"


# --- the reply --------------------------------------------------------------------------------


def test_replies_serialise_with_every_field() -> None:
    ok = json.loads(CommandReply.ok("c1", {"slots": [1]}).to_json())
    assert ok == {
        "command_id": "c1",
        "status": "ok",
        "code": None,
        "detail": "",
        "result": {"slots": [1]},
    }
    rejected = json.loads(CommandReply.rejected(rejection(b"[")).to_json())
    assert rejected["command_id"] is None
    assert (rejected["status"], rejected["code"]) == ("rejected", "bad_json")
    failed = CommandReply.failed("c2", FailureCode.HARDWARE_TIMEOUT, "no lock status in 1.5 s")
    assert json.loads(failed.to_json())["code"] == "hardware_timeout"


@pytest.mark.parametrize(
    ("status", "code"),
    [("ok", RejectCode.BUSY), ("rejected", None), ("failed", RejectCode.EXPIRED)],
)
def test_a_reply_code_must_fit_its_status(status: str, code: RejectCode | None) -> None:
    with pytest.raises(ValueError, match="does not go with"):
        CommandReply(command_id="c1", status=status, code=code)  # type: ignore[arg-type]


def test_a_verifier_for_an_unknown_type_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown command types"):
        CommandVerifier(CAR, BACKEND.keys.public_key, 30, 60, {"unlock", "fly"}, lambda: NOW)
