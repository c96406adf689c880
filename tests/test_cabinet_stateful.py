"""Random walks over the cabinet controller against a simulated cabinet.

The simulated hardware carries out the controller's board requests one at a time (obeying,
timing out, refusing, or sticking a latch), queues board events until they are fetched, and
people take ejected banks or not, return banks into random slots (some unreadable), and pull
banks out by force. The agent crashes and is restored from its JSON snapshot; the adapter then
drops the boards' queued events and reads every slot.

Checked after every step: an Eject only answers an accepted rent, and only for a slot of its
reservation or, by count, a free charged bank; the slots the controller shows reserved are
exactly those its replies and events left reserved, and no slot is in two reservations; every
`bank_out` is for a slot ejected for that order, once; a command gets at most one reply.
At the end, once everything has run out: every command has exactly one reply, and banks are
conserved: banks in the cabinet + `bank_out` records + `forced_removal` events - `bank_in`
records = the initial stock, with each of those matching what physically happened.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cabinet_driver import wall
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from edge.cabinet.controller import CabinetController
from edge.cabinet.inputs import (
    BankInserted,
    BankRemoved,
    CabinetInput,
    Cancel,
    Command,
    EjectDone,
    EjectFailed,
    InventoryRead,
    LockChanged,
    LockDone,
    LockFailed,
    Rent,
    Reserve,
    SetSlot,
    SlotChange,
    SlotFaultChanged,
    SlotReading,
    TimerFired,
)
from edge.cabinet.intents import Eject, LockSlot, ReadInventory
from edge.clock import Now
from edge.commands.reply import FailureCode
from edge.intents import CancelTimer, Intent, RaiseEvent, Reply, StartTimer, WriteRecord
from firmware_protocol.slotboard import LockState, SlotFault

SLOTS = 4
MIN_CHARGE = 50
TAKE_TIMEOUT_S = 30.0
RESERVATION_IDS = ["r1", "r2", "r3"]
LOCKED, UNLOCKED = LockState.LOCKED, LockState.UNLOCKED
slots = st.integers(1, SLOTS)


def known(bank_ids: Iterable[str | None]) -> Counter[str]:
    return Counter(bank_id for bank_id in bank_ids if bank_id is not None)


def mostly(usual: Any, *rare: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from([usual, usual, usual, *rare])


@dataclass
class Bank:
    token: int
    bank_id: str | None
    charge_pct: int


@dataclass
class Hardware:
    """The slot boards and the people at the cabinet."""

    banks: dict[int, Bank | None] = field(default_factory=dict)
    locks: dict[int, LockState] = field(default_factory=dict)
    faults: dict[int, SlotFault] = field(default_factory=dict)
    queue: list[SlotChange] = field(default_factory=list)  # on the boards, not yet fetched
    line: list[Intent] = field(default_factory=list)  # requests not yet carried out
    arrivals: dict[int, Bank] = field(default_factory=dict)  # queued BankInserted -> its bank

    def set_faults(self, slot: int, faults: SlotFault) -> None:
        if faults != self.faults[slot]:
            self.faults[slot] = faults
            self.queue.append(SlotFaultChanged(slot, faults))

    def set_lock(self, slot: int, lock: LockState) -> None:
        if lock is not self.locks[slot]:
            self.locks[slot] = lock
            self.queue.append(LockChanged(slot, lock))

    def remove(self, slot: int, forced: bool) -> Bank:
        bank = self.banks[slot]
        assert bank is not None
        self.banks[slot] = None
        self.queue.append(BankRemoved(slot, forced))
        self.set_faults(slot, self.faults[slot] & ~SlotFault.ID_UNREADABLE)
        return bank

    def readings(self) -> tuple[SlotReading, ...]:
        result = []
        for slot in range(1, SLOTS + 1):
            bank = self.banks[slot]
            result.append(
                SlotReading(
                    slot,
                    self.locks[slot],
                    bank is not None,
                    None if bank is None else bank.bank_id,
                    None if bank is None else bank.charge_pct,
                    self.faults[slot],
                )
            )
        return tuple(result)


@dataclass
class Ledger:
    """What the controller's replies, records and events have said."""

    commands: dict[str, Command] = field(default_factory=dict)
    replies: dict[str, Reply] = field(default_factory=dict)
    reserved: dict[str, tuple[str, set[int]]] = field(default_factory=dict)
    ejected_for: dict[str, set[int]] = field(default_factory=dict)  # order -> slots
    bank_out: list[dict[str, Any]] = field(default_factory=list)
    bank_in: list[dict[str, Any]] = field(default_factory=list)
    forced: list[dict[str, Any]] = field(default_factory=list)

    def let_go(self, reservation_id: str, slot: int) -> None:
        _, held = self.reserved[reservation_id]
        held.discard(slot)
        if not held:
            del self.reserved[reservation_id]


class CabinetMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.controller = CabinetController(SLOTS, MIN_CHARGE, TAKE_TIMEOUT_S)
        self.mono = 0.0
        self.hw = Hardware()
        self.ledger = Ledger()
        self.timers: dict[str, float] = {}
        self.tokens = 0
        self.initial = 0
        self.inserted: list[Bank] = []
        self.left: list[Bank] = []

    # -- the adapter --------------------------------------------------------------------------

    @property
    def now(self) -> Now:
        return Now(self.mono, wall(self.mono), True)

    def feed(self, event_: CabinetInput) -> None:
        self.mono += 0.01
        allowed = self.ejectable(event_)
        intents = self.controller.handle(event_, self.now)
        ejects = [intent.slot for intent in intents if isinstance(intent, Eject)]
        if ejects:
            assert isinstance(event_, Rent), f"Eject on {event_}"
            assert set(ejects) <= allowed, (ejects, allowed)
            assert len(set(ejects)) == len(ejects)
            if event_.count is not None:
                assert len(ejects) == event_.count
            self.ledger.ejected_for.setdefault(event_.order_id, set()).update(ejects)
        self.carry_out(intents)

    def ejectable(self, event_: CabinetInput) -> set[int]:
        """The slots a rent may eject, as the controller has told them."""
        if not isinstance(event_, Rent):
            return set()
        if event_.reservation_id is not None:
            purpose, held = self.ledger.reserved.get(event_.reservation_id, ("none", set()))
            return set(held) if purpose == "rent" else set()
        return {
            entry.slot
            for entry in self.controller.view().slots
            if entry.state == "occupied"
            and entry.bank_id is not None
            and entry.charge_pct >= MIN_CHARGE  # type: ignore[operator]
        }

    def carry_out(self, intents: list[Intent]) -> None:
        for intent in intents:
            match intent:
                case Eject() | LockSlot() | ReadInventory():
                    self.hw.line.append(intent)
                case StartTimer(name=name, seconds=seconds):
                    assert name not in self.timers
                    assert seconds >= 0
                    self.timers[name] = self.mono + seconds
                case CancelTimer(name=name):
                    del self.timers[name]
                case Reply():
                    self.take_reply(intent)
                case WriteRecord():
                    self.take_record(intent)
                case RaiseEvent():
                    self.take_event(intent)

    def take_reply(self, reply: Reply) -> None:
        ledger = self.ledger
        assert reply.command_id in ledger.commands, "a reply for no command"
        assert reply.command_id not in ledger.replies, "a second reply"
        ledger.replies[reply.command_id] = reply
        event(
            f"reply {type(ledger.commands[reply.command_id]).__name__} {reply.status} {reply.code}"
        )
        command = ledger.commands[reply.command_id]
        if reply.status != "ok":
            return
        if isinstance(command, Reserve):
            assert command.reservation_id not in ledger.reserved
            assert reply.result is not None
            held = set(reply.result.slots)  # type: ignore[union-attr]
            assert len(held) == command.count
            ledger.reserved[command.reservation_id] = (command.purpose, held)
        elif isinstance(command, Cancel):
            del ledger.reserved[command.reservation_id]

    def take_record(self, record: WriteRecord) -> None:
        fields = record.record.model_dump()
        record_type = record.record.record_type
        event(f"record {record_type} after restart {fields['observed_after_restart']}")
        if record_type == "bank_out":
            assert fields["slot"] in self.ledger.ejected_for.get(fields["order_id"], set())
            assert (fields["order_id"], fields["slot"]) not in {
                (out["order_id"], out["slot"]) for out in self.ledger.bank_out
            }
            self.ledger.bank_out.append(fields)
        else:
            assert record_type == "bank_in"
            self.ledger.bank_in.append(fields)
            reservation_id = fields["reservation_id"]
            if reservation_id is not None:
                purpose, held = self.ledger.reserved[reservation_id]
                assert purpose == "return"
                assert fields["slot"] in held
                self.ledger.let_go(reservation_id, fields["slot"])

    def take_event(self, intent: RaiseEvent) -> None:
        event_type = intent.event.event_type
        event(f"event {event_type}")
        fields = intent.event.model_dump()
        if event_type == "reservation_expired":
            purpose, held = self.ledger.reserved.pop(fields["reservation_id"])
            assert (purpose, held) == (fields["purpose"], set(fields["slots"]))
        elif event_type == "reservation_slot_lost":
            self.ledger.let_go(fields["reservation_id"], fields["slot"])
        elif event_type == "forced_removal":
            self.ledger.forced.append(fields)

    def command(self, command: Command) -> None:
        self.ledger.commands[command.command_id] = command
        self.feed(command)
        reply = self.ledger.replies.get(command.command_id)
        accepted = reply is None or reply.status != "rejected"
        if isinstance(command, Rent) and command.reservation_id is not None and accepted:
            del self.ledger.reserved[command.reservation_id]

    def new_id(self) -> str:
        return f"cmd-{len(self.ledger.commands) + 1}"

    def deliver(self) -> None:
        while self.hw.queue:
            board_event = self.hw.queue.pop(0)
            self.hw.arrivals.pop(id(board_event), None)
            self.feed(board_event)

    def new_bank(self, readable: bool, charge_pct: int) -> Bank:
        self.tokens += 1
        return Bank(self.tokens, f"PB{self.tokens:04d}" if readable else None, charge_pct)

    # -- rules ----------------------------------------------------------------------------------

    @initialize(
        stock=st.lists(
            st.sampled_from([None, 20, 60, 90, 100, 100]), min_size=SLOTS, max_size=SLOTS
        )
    )
    def start(self, stock: list[int | None]) -> None:
        for slot, charge in enumerate(stock, start=1):
            self.hw.banks[slot] = None if charge is None else self.new_bank(True, charge)
            self.hw.locks[slot] = LOCKED
            self.hw.faults[slot] = SlotFault(0)
        self.initial = sum(charge is not None for charge in stock)
        self.feed(InventoryRead(self.hw.readings()))

    @rule(
        rid=st.sampled_from(RESERVATION_IDS),
        purpose=st.sampled_from(["rent", "return"]),
        count=st.integers(1, 3),
        ttl_s=st.sampled_from([20, 600]),
    )
    def reserve(self, rid: str, purpose: str, count: int, ttl_s: int) -> None:
        self.command(Reserve(self.new_id(), rid, purpose, count, ttl_s))  # type: ignore[arg-type]

    @rule(rid=st.sampled_from(RESERVATION_IDS))
    def rent_reserved(self, rid: str) -> None:
        self.command(Rent(self.new_id(), f"order-{len(self.ledger.commands)}", reservation_id=rid))

    @rule(count=st.integers(1, 3))
    def rent_count(self, count: int) -> None:
        self.command(Rent(self.new_id(), f"order-{len(self.ledger.commands)}", count=count))

    @rule(rid=st.sampled_from(RESERVATION_IDS))
    def cancel(self, rid: str) -> None:
        self.command(Cancel(self.new_id(), rid))

    @rule(slot=slots, enabled=mostly(True, False))
    def set_slot(self, slot: int, enabled: bool) -> None:
        self.command(SetSlot(self.new_id(), slot, enabled))

    @precondition(lambda self: bool(self.hw.line))
    @rule(outcome=mostly("obey", "obey", "timeout", "refuse", "stick"), opens_at_once=st.booleans())
    def line_carries_out(self, outcome: str, opens_at_once: bool) -> None:
        self.carry_out_request(self.hw.line.pop(0), outcome, opens_at_once)

    def carry_out_request(self, request: Intent, outcome: str, opens_at_once: bool = False) -> None:
        hw = self.hw
        if isinstance(request, ReadInventory):
            self.deliver()
            self.feed(InventoryRead(hw.readings()))
            return
        assert isinstance(request, Eject | LockSlot)
        slot = request.slot
        if outcome in ("timeout", "refuse"):
            code = (
                FailureCode.HARDWARE_TIMEOUT if outcome == "timeout" else FailureCode.HARDWARE_FAULT
            )
            self.feed(
                EjectFailed(slot, code) if isinstance(request, Eject) else LockFailed(slot, code)
            )
            return
        if isinstance(request, LockSlot):
            self.feed(LockDone(slot, LOCKED))
            hw.set_lock(slot, LOCKED)  # the sprung latch catches a bank pushed home
            hw.set_faults(slot, hw.faults[slot] & ~SlotFault.LOCK_STUCK)
            return
        if hw.banks[slot] is None or hw.faults[slot] & SlotFault.LOCK_STUCK:
            self.feed(EjectFailed(slot, FailureCode.HARDWARE_FAULT))  # NO_BANK, HARDWARE_FAULT
        elif outcome == "stick":
            self.feed(EjectDone(slot, LOCKED))
            hw.set_faults(slot, hw.faults[slot] | SlotFault.LOCK_STUCK)
        else:
            self.feed(EjectDone(slot, UNLOCKED if opens_at_once else LOCKED))
            hw.set_lock(slot, UNLOCKED)

    @rule()
    def boards_report(self) -> None:
        self.deliver()

    @rule()
    def inventory_poll(self) -> None:
        self.carry_out_request(ReadInventory(), "obey")

    def slots_where(self, bank: bool, lock: LockState) -> list[int]:
        hw = self.hw
        return [n for n in hw.banks if (hw.banks[n] is not None) == bank and hw.locks[n] is lock]

    @precondition(lambda self: bool(self.slots_where(True, UNLOCKED)))
    @rule(data=st.data())
    def person_takes(self, data: st.DataObject) -> None:
        slot = data.draw(st.sampled_from(self.slots_where(True, UNLOCKED)))
        self.left.append(self.hw.remove(slot, forced=False))
        self.hw.set_lock(slot, LOCKED)

    @precondition(lambda self: any(isinstance(request, Eject) for request in self.hw.line))
    @rule()
    def renter_waits_at_the_cabinet(self) -> None:
        """The line obeys everything; the renter takes every bank that comes out."""
        while self.hw.line:
            self.carry_out_request(self.hw.line.pop(0), "obey")
        self.deliver()
        for slot in self.slots_where(True, UNLOCKED):
            self.left.append(self.hw.remove(slot, forced=False))
            self.hw.set_lock(slot, LOCKED)
        self.deliver()

    @precondition(lambda self: bool(self.slots_where(False, LOCKED)))
    @rule(data=st.data(), readable=mostly(True, False), charge=st.sampled_from([10, 55, 95]))
    def person_returns(self, data: st.DataObject, readable: bool, charge: int) -> None:
        hw = self.hw
        slot = data.draw(st.sampled_from(self.slots_where(False, LOCKED)))
        bank = hw.banks[slot] = self.new_bank(readable, charge)
        self.inserted.append(bank)
        arrival = BankInserted(slot, bank.bank_id, charge)
        hw.arrivals[id(arrival)] = bank
        hw.queue.append(arrival)
        if not readable:
            hw.set_faults(slot, hw.faults[slot] | SlotFault.ID_UNREADABLE)

    @precondition(lambda self: bool(self.slots_where(True, LOCKED)))
    @rule(data=st.data(), really=mostly(False, True))
    def person_pulls(self, data: st.DataObject, really: bool) -> None:
        slot = data.draw(st.sampled_from(self.slots_where(True, LOCKED)))
        if really:
            self.left.append(self.hw.remove(slot, forced=True))

    @rule(slot=slots, on=mostly(False, True))
    def overheat(self, slot: int, on: bool) -> None:
        faults = self.hw.faults[slot]
        self.hw.set_faults(
            slot, faults | SlotFault.OVERTEMP if on else faults & ~SlotFault.OVERTEMP
        )

    @rule(slot=slots)
    def repair(self, slot: int) -> None:
        self.hw.set_faults(slot, self.hw.faults[slot] & SlotFault.ID_UNREADABLE)

    @precondition(lambda self: bool(self.timers))
    @rule(data=st.data())
    def timer_runs_out(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.timers)))
        self.mono = max(self.mono, self.timers.pop(name))
        self.feed(TimerFired(name))

    @rule(seconds=st.sampled_from([1, 10, 100]))
    def wait(self, seconds: int) -> None:
        self.mono += seconds

    @rule(seconds_down=st.sampled_from([0, 5, 700]))
    def crash_and_restart(self, seconds_down: int) -> None:
        before = self.controller.view()
        snapshot = json.loads(self.controller.snapshot().model_dump_json())
        self.controller = CabinetController.restore(snapshot, SLOTS, MIN_CHARGE, TAKE_TIMEOUT_S)
        assert self.controller.view() == before
        # Requests not carried out and outcomes not fed are lost; so are timers.
        self.hw.line.clear()
        self.timers.clear()
        self.mono += seconds_down
        resumed = self.controller.resume(self.now)
        assert not any(isinstance(i, Eject | LockSlot) for i in resumed)
        self.carry_out(resumed)
        # The boards' queues are drained and acknowledged unseen: the reading below covers
        # them, except for a bank that came and went meanwhile, which nobody saw.
        present = {id(bank) for bank in self.hw.banks.values()}
        for dropped in self.hw.queue:
            if isinstance(dropped, BankInserted):
                ghost = self.hw.arrivals.pop(id(dropped))
                if id(ghost) not in present:
                    self.inserted.remove(ghost)
                    self.left.remove(ghost)
        self.hw.queue.clear()
        self.feed(InventoryRead(self.hw.readings()))

    # -- invariants -----------------------------------------------------------------------------

    @invariant()
    def reserved_as_told(self) -> None:
        shown = {
            entry.slot: entry.state
            for entry in self.controller.view().slots
            if entry.state.startswith("reserved_")
        }
        told: dict[int, str] = {}
        for purpose, held in self.ledger.reserved.values():
            for slot in held:
                assert slot not in told, "a slot in two reservations"
                told[slot] = f"reserved_{purpose}"
        assert shown == told

    @invariant()
    def snapshot_is_json(self) -> None:
        json.loads(self.controller.snapshot().model_dump_json())

    def teardown(self) -> None:
        if not self.hw.banks:
            return
        for _ in range(50):
            self.deliver()
            if self.hw.line:
                self.carry_out_request(self.hw.line.pop(0), "obey")
            elif self.timers:
                name = min(self.timers, key=self.timers.__getitem__)
                self.mono = max(self.mono, self.timers.pop(name))
                self.feed(TimerFired(name))
            elif not self.hw.queue:
                break
        assert self.timers == {}
        assert self.hw.line == []
        assert self.hw.queue == []
        self.feed(InventoryRead(self.hw.readings()))
        ledger = self.ledger
        assert set(ledger.replies) == set(ledger.commands)
        # Banks are conserved, and each record matches what happened.
        tracked = [slot["bank"] for slot in self.controller.snapshot().model_dump()["slots"]]
        physical = [self.hw.banks[slot] for slot in range(1, SLOTS + 1)]
        assert [None if bank is None else bank["bank_id"] for bank in tracked] == [
            None if bank is None else bank.bank_id for bank in physical
        ]
        assert [bank is None for bank in tracked] == [bank is None for bank in physical]
        tracked = [bank for bank in tracked if bank is not None]
        assert len(tracked) + len(ledger.bank_out) + len(ledger.forced) - len(ledger.bank_in) == (
            self.initial
        )
        # Unidentified banks are counted above: two swapped unseen look like one.
        assert known(r["bank_id"] for r in ledger.bank_in) == known(
            b.bank_id for b in self.inserted
        )
        assert known(r["bank_id"] for r in [*ledger.bank_out, *ledger.forced]) == known(
            b.bank_id for b in self.left
        )


CabinetMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=50, deadline=None)
TestCabinetMachine = CabinetMachine.TestCase
