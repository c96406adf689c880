"""Reservations: slots held for a rent (charged banks) or a return (empty slots) for a while.

A slot is in at most one reservation. A reservation ends when its TTL runs out, when it is
cancelled, when a rent takes its banks, or when it has no slot left (each return consumes its
slot; a slot that faults or is disabled leaves it).

The TTL runs in real time: on the monotonic clock, which keeps running across restarts, plus
the time the box was off, once it is counted (`Now.since`). An off time counted later in the
boot (the clock synchronised after the agent started) brings the deadline of a reservation made
before it forward by that much, so it ends at the `expires_at` its reply gave (when that was
stated on a synchronised clock), or at once if that has passed. `expires_at` is never changed or
sent again: it is what the cloud was told (docs/time-and-storage.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from edge.cabinet.inputs import Purpose
from edge.cabinet.slot import EMPTY, LOCKING, OCCUPIED, Slot, SlotState
from edge.clock import Now
from edge.intents import CancelTimer, Intent, StartTimer
from edge.timefmt import parse_rfc3339, rfc3339


@dataclass
class Reservation:
    reservation_id: str
    purpose: Purpose
    slots: list[int]
    reserved_at: str
    expires_mono: float
    expires_at: str
    timer: str | None = field(default=None)
    reserved_synced: bool | None = None  # None: not known (a snapshot from before)

    @property
    def holds(self) -> SlotState:
        """The settled slot state each of its slots must keep."""
        return OCCUPIED if self.purpose == "rent" else EMPTY

    def remaining(self, now: Now) -> float:
        """Seconds of its TTL left in real time, off times counted since it was made included."""
        ttl = (parse_rfc3339(self.expires_at) - parse_rfc3339(self.reserved_at)).total_seconds()
        return ttl - now.since(self.expires_mono - ttl)


def _charge_of_rentable(slot: Slot) -> int | None:
    """The charge of the slot's bank when it has a readable id (a bank_out must name it)."""
    bank = slot.bank
    return None if bank is None or bank.bank_id is None else bank.charge_pct


class Reservations:
    def __init__(self, outbox: list[Intent]) -> None:
        self._by_id: dict[str, Reservation] = {}
        self._outbox = outbox
        self.timer_seq = 0

    def __iter__(self) -> Iterator[Reservation]:
        return iter(list(self._by_id.values()))

    def get(self, reservation_id: str) -> Reservation | None:
        return self._by_id.get(reservation_id)

    def holder(self, slot: int) -> Reservation | None:
        return next((r for r in self._by_id.values() if slot in r.slots), None)

    def free_banks(self, slots: Iterable[Slot], min_charge_pct: int) -> list[Slot]:
        """Unreserved charged banks in good slots, fullest first, then the lowest number."""
        ready = [
            (charge_pct, slot)
            for slot in slots
            if slot.state == OCCUPIED
            and not slot.stale
            and (charge_pct := _charge_of_rentable(slot)) is not None
            and charge_pct >= min_charge_pct
            and self.holder(slot.number) is None
        ]
        return [slot for _, slot in sorted(ready, key=lambda pair: (-pair[0], pair[1].number))]

    @staticmethod
    def relocking_banks(slots: Iterable[Slot], min_charge_pct: int) -> list[Slot]:
        """Charged banks not taken, being locked back in: free again soon."""
        return [
            slot
            for slot in slots
            if slot.state == LOCKING
            and slot.job is not None
            and (charge_pct := _charge_of_rentable(slot)) is not None
            and charge_pct >= min_charge_pct
        ]

    def free_empty(self, slots: Iterable[Slot]) -> list[Slot]:
        """Unreserved empty good slots, lowest number first."""
        empty = [slot for slot in slots if slot.state == EMPTY and not slot.stale]
        return sorted(
            (slot for slot in empty if self.holder(slot.number) is None),
            key=lambda slot: slot.number,
        )

    def hold(
        self, reservation_id: str, purpose: Purpose, slots: list[int], ttl_s: float, now: Now
    ) -> Reservation:
        expires_at = rfc3339(parse_rfc3339(now.wall) + timedelta(seconds=ttl_s))
        reservation = Reservation(
            reservation_id,
            purpose,
            slots,
            now.wall,
            now.mono + ttl_s,
            expires_at,
            reserved_synced=now.clock_synced,
        )
        self._by_id[reservation_id] = reservation
        self._start_timer(reservation, ttl_s)
        return reservation

    def end(self, reservation: Reservation) -> None:
        """Releases what it still holds."""
        del self._by_id[reservation.reservation_id]
        if reservation.timer is not None:
            self._outbox.append(CancelTimer(reservation.timer))

    def let_go(self, reservation: Reservation, slot: int) -> None:
        """`slot` leaves the reservation (taken by a return, or no longer usable)."""
        reservation.slots.remove(slot)
        if not reservation.slots:
            self.end(reservation)

    def timer_fired(self, name: str) -> Reservation | None:
        """The reservation whose TTL ran out, now ended; None when `name` is not such a timer."""
        reservation = next((r for r in self._by_id.values() if r.timer == name), None)
        if reservation is not None:
            reservation.timer = None
            self.end(reservation)
        return reservation

    def rearm(self, now: Now) -> list[Reservation]:
        """After a restart, or once an off time is counted: the timers again, for what is left
        of each TTL; returns those that have run out, ended."""
        expired = []
        for reservation in self:
            if reservation.timer is not None:
                self._outbox.append(CancelTimer(reservation.timer))
                reservation.timer = None
            remaining = reservation.remaining(now)
            if remaining <= 0:
                self.end(reservation)
                expired.append(reservation)
            else:
                self._start_timer(reservation, remaining)
        return expired

    def _start_timer(self, reservation: Reservation, seconds: float) -> None:
        self.timer_seq += 1
        reservation.timer = f"reservation:{self.timer_seq}"
        self._outbox.append(StartTimer(reservation.timer, seconds))

    def load(self, timer_seq: int, held: Iterable[Reservation]) -> None:
        """After a restart: the reservations a snapshot held (their timers not running)."""
        self.timer_seq = timer_seq
        for reservation in held:
            self._by_id[reservation.reservation_id] = reservation
