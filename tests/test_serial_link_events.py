"""Event polling over the serial link: each event once, in order, acknowledged after delivery."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from serial_link_board import (
    FakeBoard,
    RecordingLogger,
    board_and_link,
    config_for,
    run,
    running_link,
)

from edge.serial import (
    LOST_BOARD_RESET,
    LOST_OVERFLOW,
    EventPoller,
    LinkTimeout,
    SlotBoardLink,
    is_new_event,
)
from firmware_protocol.slotboard import (
    BankInserted,
    BankRemoved,
    BoardReset,
    Command,
    LockChanged,
    LockState,
    QueuedEvent,
    ResetReason,
)
from testbed.waiting import wait_until_async

pytestmark = pytest.mark.timeout(30)

INSERTED = BankInserted(2, "PB000123", 87)
LOCKED = LockChanged(2, LockState.LOCKED)
REMOVED = BankRemoved(3, False)


class Box:
    """The callbacks a box gives the poller; `fail_on` seqs raise once each."""

    def __init__(self) -> None:
        self.events: list[tuple[int, QueuedEvent]] = []
        self.lost: list[tuple[int, str]] = []
        self.fail_on: set[int] = set()
        self.tries: list[int] = []

    def on_event(self, address: int, queued: QueuedEvent) -> None:
        self.tries.append(queued.seq)
        if queued.seq in self.fail_on:
            self.fail_on.discard(queued.seq)
            raise RuntimeError("disk full")
        self.events.append((address, queued))

    def on_lost_events(self, address: int, reason: str) -> None:
        self.lost.append((address, reason))

    def seqs(self) -> list[int]:
        return [queued.seq for _, queued in self.events]


def poller_for(link: SlotBoardLink, box: Box, addresses: list[int], **options: Any) -> EventPoller:
    return EventPoller(link, addresses, 0.02, box.on_event, box.on_lost_events, **options)


@pytest.mark.parametrize(
    ("seq", "last", "new"),
    [
        (0, None, True),
        (5, 4, True),
        (4, 4, False),
        (3, 4, False),
        (0x0000, 0xFFFF, True),
        (0x8002, 0x0003, True),
        (0x8003, 0x0003, False),
        (0xFFFF, 0x0000, False),
    ],
)
def test_an_event_is_new_within_half_the_seq_space_after_the_last(
    seq: int, last: int | None, new: bool
) -> None:
    assert is_new_event(seq, last) is new


def test_events_arrive_once_in_order_and_are_acked_after_delivery() -> None:
    async def scenario() -> None:
        board = FakeBoard()
        board.queue(BoardReset(ResetReason.POWER_ON), INSERTED, LOCKED)
        box = Box()
        delivered_at_ack: list[tuple[int, int]] = []
        board.on_ack = lambda seq: delivered_at_ack.append((seq, len(box.events)))
        async with board_and_link(board) as link:
            poller = poller_for(link, box, [1])
            task = asyncio.create_task(poller.run())
            await wait_until_async(lambda: board.acks == [2], 5.0, "board.acks == [2]")
            assert box.events == [
                (1, QueuedEvent(0, BoardReset(ResetReason.POWER_ON))),
                (1, QueuedEvent(1, INSERTED)),
                (1, QueuedEvent(2, LOCKED)),
            ]
            assert delivered_at_ack == [(2, 3)]
            assert box.lost == [(1, LOST_BOARD_RESET)]
            assert board.events.pending == 0

            board.queue(REMOVED)
            await wait_until_async(lambda: board.acks == [2, 3], 5.0, "board.acks == [2, 3]")
            assert box.seqs() == [0, 1, 2, 3]
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    run(scenario())


def test_a_lost_ack_brings_the_events_again_but_the_box_sees_them_once() -> None:
    async def scenario() -> None:
        board = FakeBoard()
        board.queue(INSERTED, LOCKED)
        box = Box()
        async with board_and_link(board) as link:
            poller = poller_for(link, box, [1])
            board.lose_requests[Command.ACK_EVENTS] = 3  # every attempt of the ack
            with pytest.raises(LinkTimeout):
                await poller.poll(1)
            assert box.seqs() == [0, 1]
            assert board.events.pending == 2

            await poller.poll(1)
            assert box.seqs() == [0, 1]
            assert poller.counters.duplicates == 2
            assert board.acks == [1]
            assert board.events.pending == 0

    run(scenario())


def test_a_handler_that_raises_gets_the_event_again_and_nothing_is_acked_early() -> None:
    async def scenario() -> None:
        board = FakeBoard()
        board.queue(INSERTED, LOCKED, REMOVED)
        box = Box()
        box.fail_on = {1}
        logger = RecordingLogger()
        async with board_and_link(board) as link:
            poller = poller_for(link, box, [1], logger=logger)
            await poller.poll(1)
            assert box.seqs() == [0]
            assert board.acks == []
            assert logger.named("serial.event_handler_failed")

            await poller.poll(1)
            assert box.seqs() == [0, 1, 2]
            assert box.tries == [0, 1, 1, 2]  # 0 was skipped as already delivered
            assert board.acks == [2]
            assert poller.counters.handler_failures == 1

    run(scenario())


def test_a_board_reset_restarts_seq_tracking_and_is_reported() -> None:
    async def scenario() -> None:
        board = FakeBoard()
        board.queue(INSERTED, LOCKED, REMOVED)
        box = Box()
        async with board_and_link(board) as link:
            poller = poller_for(link, box, [1])
            await poller.poll(1)
            assert box.seqs() == [0, 1, 2]
            assert box.lost == []

            board.reset()  # queues BoardReset with seq 0
            board.queue(INSERTED)  # seq 1: behind the last seen (2), yet new
            await poller.poll(1)
            assert [queued for _, queued in box.events[3:]] == [
                QueuedEvent(0, BoardReset(ResetReason.WATCHDOG)),
                QueuedEvent(1, INSERTED),
            ]
            assert box.lost == [(1, LOST_BOARD_RESET)]
            assert board.acks[-1] == 1

    run(scenario())


def test_an_overflow_is_reported_before_the_ack_and_then_cleared() -> None:
    async def scenario() -> None:
        board = FakeBoard(queue_capacity=4)
        board.queue(*[BankRemoved(slot, False) for slot in range(1, 7)])  # two dropped
        box = Box()
        acks_when_reported: list[int] = []
        async with board_and_link(board) as link:

            def on_lost(address: int, reason: str) -> None:
                acks_when_reported.append(len(board.acks))
                box.on_lost_events(address, reason)

            poller = EventPoller(link, [1], 0.02, box.on_event, on_lost)
            await poller.poll(1)
            assert box.seqs() == [0, 1, 2, 3]
            assert box.lost == [(1, LOST_OVERFLOW)]
            assert acks_when_reported == [0]

            board.queue(REMOVED)
            await poller.poll(1)
            assert box.seqs() == [0, 1, 2, 3, 4]
            assert box.lost == [(1, LOST_OVERFLOW)]

    run(scenario())


def test_run_keeps_polling_the_live_board_while_another_is_silent() -> None:
    async def scenario() -> None:
        board = FakeBoard(address=1)
        board.queue(INSERTED)
        box = Box()
        async with board_and_link(board) as link:
            poller = poller_for(link, box, [7, 1])  # nobody answers at address 7
            task = asyncio.create_task(poller.run())
            await wait_until_async(lambda: box.seqs() == [0], 2.0, "box.seqs() == [0]")
            board.queue(LOCKED)
            # The silent board is skipped for a while, so the next event comes quickly.
            started = asyncio.get_running_loop().time()
            await wait_until_async(lambda: box.seqs() == [0, 1], 2.0, "box.seqs() == [0, 1]")
            assert asyncio.get_running_loop().time() - started < 0.25
            assert not link.reachable(7)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    run(scenario())


def test_run_survives_a_link_without_a_port(tmp_path: Any) -> None:
    async def scenario() -> None:
        box = Box()
        config = config_for(str(tmp_path / "ttyNONE"))
        async with running_link(config, RecordingLogger(), wait_open=False) as link:
            task = asyncio.create_task(poller_for(link, box, [1]).run())
            await asyncio.sleep(0.1)
            assert not task.done()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert box.events == []

    run(scenario())
