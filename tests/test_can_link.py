"""The CAN link on python-can's virtual bus: only the profile's ids reach the agent, frames go
out, and a bus that cannot be opened is retried without stopping the agent."""

from __future__ import annotations

import asyncio
import uuid

import can

from edge.can.link import CanLink
from edge.config import CanConfig
from testbed.waiting import wait_until_async


def virtual(channel: str) -> CanConfig:
    return CanConfig(interface="virtual", channel=channel, bitrate=500_000)


def test_only_the_wanted_ids_are_delivered_and_frames_go_out() -> None:
    channel = f"link-{uuid.uuid4()}"

    async def scenario() -> tuple[list[tuple[int, bytes]], can.Message | None]:
        received: list[tuple[int, bytes]] = []
        link = CanLink(virtual(channel), {0x2A0, 0x3E0}, lambda i, d: received.append((i, d)))
        opened = asyncio.Event()
        task = asyncio.create_task(link.run(opened))
        await asyncio.wait_for(opened.wait(), 5)
        car = can.Bus(interface="virtual", channel=channel)
        try:
            for frame_id in (0x2A0, 0x123, 0x3E0, 0x7FF):
                car.send(
                    can.Message(arbitration_id=frame_id, data=b"\x01\x02", is_extended_id=False)
                )
            await wait_until_async(lambda: len(received) >= 2, 5.0, "two frames received")
            assert link.send(0x215, b"\xaa\xbb")
            sent = await asyncio.to_thread(car.recv, 2.0)
        finally:
            car.shutdown()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return received, sent

    received, sent = asyncio.run(scenario())
    assert received == [(0x2A0, b"\x01\x02"), (0x3E0, b"\x01\x02")]
    assert sent is not None
    assert (sent.arbitration_id, bytes(sent.data)) == (0x215, b"\xaa\xbb")


class RecordingLogger:
    def __init__(self) -> None:
        self.events: list[str] = []

    def _record(self, event: str, **fields: object) -> None:
        self.events.append(event)

    info = warning = error = exception = debug = _record


def test_a_bus_that_cannot_be_opened_is_retried_and_send_fails_cleanly() -> None:
    log = RecordingLogger()
    missing = CanConfig(
        interface="slcan",
        channel="/dev/nonexistent-can-adapter",
        bitrate=500_000,
        options={"sleep_after_open": 0},
    )

    async def scenario() -> bool:
        link = CanLink(missing, {0x2A0}, lambda i, d: None, logger=log)
        task = asyncio.create_task(link.run())
        # Retried: a second open fails after the first back-off.
        await wait_until_async(
            lambda: log.events.count("can.open_failed") >= 2, 5.0, "a second open attempt"
        )
        sent = link.send(0x215, b"\x00")
        assert not task.done()  # still retrying, never raised
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return sent

    assert asyncio.run(scenario()) is False
    assert log.events.count("can.open_failed") >= 2
    assert log.events.count("can.send_failed") == 1
