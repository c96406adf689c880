"""Under any interleaving of lost, repeated, late, misaddressed and corrupted answers, an eject
is carried out at most once, and the link reports success only on the answer to that very
request."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from serial_link_board import (
    DROP,
    DUPLICATE,
    FLIP,
    LATE,
    OK,
    WRONG_SEQ,
    FakeBoard,
    assert_no_other_tasks,
    config_for,
    running_link,
)

from edge.serial import LinkTimeout
from firmware_protocol.slotboard import (
    Command,
    EjectRequest,
    EjectResponse,
    LockState,
    Payload,
    is_response_to,
)

pytestmark = pytest.mark.timeout(60)

TIMEOUT_S = 0.03
ANSWER_FATES = st.sampled_from([OK, DROP, DUPLICATE, LATE, WRONG_SEQ, FLIP])
# Within the attempt, during the next attempt, or after the request was given up.
LATENESS_S = st.sampled_from([0.01, 0.045, 0.1])


@settings(max_examples=30, deadline=None)
@given(
    fates=st.lists(ANSWER_FATES, max_size=24),
    ejects=st.integers(min_value=1, max_value=5),
    late_s=LATENESS_S,
)
def test_an_eject_is_done_at_most_once_and_confirmed_only_by_its_own_answer(
    fates: list[str], ejects: int, late_s: float
) -> None:
    async def scenario() -> None:
        board = FakeBoard()
        board.plan.extend(fates)
        board.late_s = late_s
        board.start()
        outcomes: dict[int, Payload | None] = {}
        try:
            async with running_link(config_for(board.path)) as link:
                for slot in range(1, ejects + 1):  # one slot per request tells them apart
                    try:
                        outcomes[slot] = await link.request(
                            1, EjectRequest(slot), timeout_s=TIMEOUT_S
                        )
                    except LinkTimeout:
                        outcomes[slot] = None
                    assert link.pending_request is None
                await asyncio.sleep(late_s + 0.02)  # the last late answers land, unheeded
                late_responses = link.health().late_responses
        finally:
            board.close()
        assert_no_other_tasks()

        for slot, outcome in outcomes.items():
            requests = [
                frame
                for frame in board.requests_of(Command.EJECT)
                if frame.payload == bytes((slot,))
            ]
            assert len(requests) <= 3
            assert len(set(requests)) <= 1  # every retry the same bytes, the same seq
            assert board.ejects[slot] <= 1
            if outcome is None:
                continue
            assert outcome == EjectResponse(slot, LockState.UNLOCKED)
            assert board.ejects[slot] == 1
            assert any(is_response_to(requests[0], answer) for answer in board.sent)
        extra_answers = len(board.sent) - sum(outcome is not None for outcome in outcomes.values())
        assert late_responses <= extra_answers + fates.count(WRONG_SEQ)

    asyncio.run(scenario())
