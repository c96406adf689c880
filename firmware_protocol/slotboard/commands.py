"""The command table: one entry per command, what it carries each way and who takes it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from . import cabinet, common, events, parking
from .common import BoardKind, Payload
from .errors import UnknownCommand


class Command(IntEnum):
    GET_INFO = 0x01
    GET_EVENTS = 0x02
    ACK_EVENTS = 0x03
    GET_SLOTS = 0x10
    EJECT = 0x11
    LOCK_SLOT = 0x12
    SET_CHARGING = 0x13
    SET_INDICATOR = 0x14
    GET_GROUND_LOCK = 0x20
    RAISE = 0x21
    LOWER = 0x22
    NAK = 0x7F
    """Answer only: the board refused the request (payload: `Nak`)."""


@dataclass(frozen=True)
class CommandSpec:
    """`actuates`: moves or switches hardware, so a retransmission is answered from memory.
    `broadcast`: may be sent to address 0x00, which every board carries out and none answers.
    """

    command: Command
    name: str
    request: type[Payload]
    response: type[Payload]
    kinds: frozenset[BoardKind]
    actuates: bool = False
    broadcast: bool = False


_BOTH = frozenset(BoardKind)
_CABINET = frozenset({BoardKind.CABINET})
_PARKING = frozenset({BoardKind.PARKING})

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(Command.GET_INFO, "get_info", common.GetInfoRequest, common.GetInfoResponse, _BOTH),
    CommandSpec(
        Command.GET_EVENTS, "get_events", events.GetEventsRequest, events.GetEventsResponse, _BOTH
    ),
    CommandSpec(
        Command.ACK_EVENTS, "ack_events", events.AckEventsRequest, events.AckEventsResponse, _BOTH
    ),
    CommandSpec(
        Command.GET_SLOTS, "get_slots", cabinet.GetSlotsRequest, cabinet.GetSlotsResponse, _CABINET
    ),
    CommandSpec(
        Command.EJECT, "eject", cabinet.EjectRequest, cabinet.EjectResponse, _CABINET, actuates=True
    ),
    CommandSpec(
        Command.LOCK_SLOT,
        "lock_slot",
        cabinet.LockSlotRequest,
        cabinet.LockSlotResponse,
        _CABINET,
        actuates=True,
    ),
    CommandSpec(
        Command.SET_CHARGING,
        "set_charging",
        cabinet.SetChargingRequest,
        cabinet.SetChargingResponse,
        _CABINET,
        actuates=True,
        broadcast=True,
    ),
    CommandSpec(
        Command.SET_INDICATOR,
        "set_indicator",
        cabinet.SetIndicatorRequest,
        cabinet.SetIndicatorResponse,
        _CABINET,
        actuates=True,
        broadcast=True,
    ),
    CommandSpec(
        Command.GET_GROUND_LOCK,
        "get_ground_lock",
        parking.GetGroundLockRequest,
        parking.GetGroundLockResponse,
        _PARKING,
    ),
    CommandSpec(
        Command.RAISE, "raise", parking.RaiseRequest, parking.RaiseResponse, _PARKING, actuates=True
    ),
    CommandSpec(
        Command.LOWER, "lower", parking.LowerRequest, parking.LowerResponse, _PARKING, actuates=True
    ),
)

BY_CODE: Mapping[int, CommandSpec] = {spec.command: spec for spec in COMMANDS}
BY_REQUEST: Mapping[type[Payload], CommandSpec] = {spec.request: spec for spec in COMMANDS}


def spec_for_code(command: int, kind: BoardKind | None = None) -> CommandSpec:
    """The entry for a command code (that boards of `kind` take, when given)."""
    spec = BY_CODE.get(command)
    if spec is None or (kind is not None and kind not in spec.kinds):
        raise UnknownCommand(command)
    return spec


def spec_for_request(request: Payload) -> CommandSpec:
    """The entry whose request payload `request` is."""
    spec = BY_REQUEST.get(type(request))
    if spec is None:
        raise TypeError(f"{type(request).__name__} is not a request payload")
    return spec
