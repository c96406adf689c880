"""The `result` of the parking box's replies.

A lower's `ok` carries `LowerResult`. A raise's `ok` carries the `parking_ended` record it
wrote, as written (edge/parking/records.py `ParkingEnded` with the common record fields), so it
has no model here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edge.wire.fields import ReplyResult


class LowerResult(ReplyResult):
    """The lower's `ok`: the arm is down for the order."""

    order_id: str = Field(description="The order now holding the space.")
    lock: Literal["lowered"] = Field(description="The ground lock, as the board reported it.")


class InstallerMoveResult(ReplyResult):
    """A test_move's `ok`: the arm is where the grant asked."""

    direction: Literal["raise", "lower"] = Field(description="As asked.")
    lock: Literal["raised", "lowered"] = Field(description="As the board reported it.")


RESULTS: tuple[type[ReplyResult], ...] = (LowerResult, InstallerMoveResult)
