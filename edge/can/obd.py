"""OBD-II requests over the CAN link (ISO 15765-4): one request at a time, answers reassembled
with ISO-TP and flow control, timeouts that never leave a waiter behind."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from firmware_protocol.obd import (
    FUNCTIONAL_REQUEST_ID,
    RESPONSE_IDS,
    SERVICE_STORED_DTCS,
    Complete,
    IsoTpReassembler,
    NegativeResponseError,
    Nrc,
    ObdError,
    SendFlowControl,
    parse_current_data,
    parse_stored_dtcs,
    physical_request_id,
    request_current_data,
    request_stored_dtcs,
    segment,
)

# ISO 15765-4: P2 (ECU response time) is 50 ms nominal; we allow a slow bus and a busy host.
RESPONSE_TIMEOUT_S = 0.5
# After NRC 0x78 "response pending" the ECU may take up to P2* = 5 s.
PENDING_TIMEOUT_S = 5.0

Send = Callable[[int, bytes], bool]


class ObdTimeout(ObdError):
    """No ECU answered in time."""


class ObdClient:
    def __init__(self, send: Send) -> None:
        self._send = send
        self._reassemblers = {ecu: IsoTpReassembler() for ecu in RESPONSE_IDS}
        self._answer: asyncio.Future[bytes] | None = None
        self._service = 0
        self._busy = asyncio.Lock()
        self.garbage = 0

    def on_frame(self, arbitration_id: int, data: bytes) -> None:
        reassembler = self._reassemblers.get(arbitration_id)
        if reassembler is None:
            return
        try:
            step = reassembler.feed(data)
        except ObdError:
            self.garbage += 1
            reassembler.reset()
            return
        if isinstance(step, SendFlowControl):
            self._send(physical_request_id(arbitration_id), step.frame)
        elif isinstance(step, Complete):
            self._deliver(step.payload)

    def _deliver(self, payload: bytes) -> None:
        answer = self._answer
        if answer is None or answer.done() or not payload:
            return
        if payload[0] in (self._service + 0x40, 0x7F):
            answer.set_result(payload)

    async def _exchange(self, request: bytes) -> bytes:
        async with self._busy:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + RESPONSE_TIMEOUT_S
            self._service = request[0]
            for reassembler in self._reassemblers.values():
                reassembler.reset()
            try:
                # The waiter exists before the request is written.
                self._answer = loop.create_future()
                if not self._send(FUNCTIONAL_REQUEST_ID, segment(request)[0]):
                    raise ObdError("the CAN bus refused the request")
                while True:
                    try:
                        async with asyncio.timeout(max(0.0, deadline - loop.time())):
                            payload = await self._answer
                    except TimeoutError:
                        raise ObdTimeout(f"no answer to service {request[0]:#04x}") from None
                    if (
                        payload[0] == 0x7F
                        and len(payload) >= 3
                        and (payload[2] == Nrc.RESPONSE_PENDING)
                    ):
                        deadline = loop.time() + PENDING_TIMEOUT_S
                        self._answer = loop.create_future()
                        continue
                    return payload
            finally:
                answer, self._answer = self._answer, None
                if answer is not None and not answer.done():
                    answer.cancel()

    async def read_pid(self, pid: int) -> float:
        payload = await self._exchange(request_current_data(pid))
        values = parse_current_data(payload)
        if pid not in values:
            raise ObdError(f"the answer does not carry PID {pid:#04x}")
        return values[pid]

    async def read_stored_dtcs(self) -> tuple[str, ...] | None:
        """The stored trouble codes; None when no ECU answers (the car gives none)."""
        try:
            return parse_stored_dtcs(await self._exchange(request_stored_dtcs()))
        except ObdTimeout:
            return None
        except NegativeResponseError as exc:
            if exc.service == SERVICE_STORED_DTCS:
                return None
            raise


async def poll_forever(
    client: ObdClient, pids: dict[str, tuple[int, float]], on_value: Callable[[str, float], None]
) -> None:
    """Read each named PID every its poll period; a failed read leaves the signal to go stale."""
    loop = asyncio.get_running_loop()
    due = dict.fromkeys(pids, loop.time())
    while True:
        name = min(due, key=due.__getitem__)
        await asyncio.sleep(max(0.0, due[name] - loop.time()))
        pid, period = pids[name]
        due[name] = loop.time() + period
        with contextlib.suppress(ObdError):
            on_value(name, await client.read_pid(pid))
