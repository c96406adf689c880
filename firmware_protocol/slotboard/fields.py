"""Field codecs the payloads share: lengths, ranges, slots, bank ids, charge, booleans, enums."""

from __future__ import annotations

from enum import IntEnum
from typing import TypeVar

from .errors import ErrorCode, InvalidPayload

MAX_SLOTS = 16
ALL_SLOTS = 0xFF
BANK_ID_SIZE = 8
UNKNOWN_CHARGE = 0xFF

_PRINTABLE = range(0x21, 0x7F)
EnumT = TypeVar("EnumT", bound=IntEnum)


def expect_length(data: bytes, size: int, what: str) -> None:
    if len(data) != size:
        raise InvalidPayload(f"{what} takes {size} bytes, got {len(data)}", ErrorCode.BAD_LENGTH)


def check_range(value: int, low: int, high: int, what: str) -> None:
    if not low <= value <= high:
        raise InvalidPayload(f"{what} {value} is outside {low}..{high}")


def check_slot(slot: int, *, allow_all: bool = False) -> None:
    """Slots are numbered 1..MAX_SLOTS; ALL_SLOTS (0xFF) only where a command allows it."""
    if slot == ALL_SLOTS and allow_all:
        return
    if not 1 <= slot <= MAX_SLOTS:
        raise InvalidPayload(f"slot {slot} is outside 1..{MAX_SLOTS}", ErrorCode.BAD_SLOT)


def check_bank_id(bank_id: str | None) -> None:
    """1 to 8 printable ASCII characters (0x21..0x7E); None for an unknown or unreadable id."""
    if bank_id is None:
        return
    if not 1 <= len(bank_id) <= BANK_ID_SIZE or any(ord(c) not in _PRINTABLE for c in bank_id):
        raise InvalidPayload(f"bank id {bank_id!r} is not 1..8 printable ASCII characters")


def encode_bank_id(bank_id: str | None) -> bytes:
    """The id right-padded with NUL to 8 bytes; 8 NULs when it is unknown."""
    if bank_id is None:
        return bytes(BANK_ID_SIZE)
    return bank_id.encode("ascii").ljust(BANK_ID_SIZE, b"\0")


def decode_bank_id(raw: bytes) -> str | None:
    text = raw.rstrip(b"\0")
    if not text:
        return None
    bank_id = text.decode("latin-1")
    check_bank_id(bank_id)
    return bank_id


def check_charge(charge_pct: int | None) -> None:
    if charge_pct is not None:
        check_range(charge_pct, 0, 100, "charge %")


def encode_charge(charge_pct: int | None) -> int:
    return UNKNOWN_CHARGE if charge_pct is None else charge_pct


def decode_charge(raw: int) -> int | None:
    if raw == UNKNOWN_CHARGE:
        return None
    check_charge(raw)
    return raw


def decode_bool(raw: int, what: str) -> bool:
    if raw not in (0, 1):
        raise InvalidPayload(f"{what} {raw} is neither 0 nor 1")
    return raw == 1


def decode_enum(enum: type[EnumT], raw: int, what: str) -> EnumT:
    try:
        return enum(raw)
    except ValueError:
        raise InvalidPayload(f"{what} {raw:#04x} is not a known value") from None
