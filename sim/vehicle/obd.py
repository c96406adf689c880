"""The engine ECU's OBD-II server (ISO 15765-4): service 0x01 PIDs and service 0x03 DTCs.

The ECU is ECU #0: it hears the functional id 0x7DF and its physical id 0x7E0, and answers on
0x7E8. An answer longer than a single frame goes out as a first frame, then in blocks as the
tester's flow control frames (sent to 0x7E0) allow. As ISO 15765-4 wants of an emissions ECU:
- a functional request the ECU cannot answer (unsupported service, no supported PID, malformed)
  gets no answer at all, so that the ECU that can answer is heard alone;
- a physical one gets a negative response: 0x11 service not supported, 0x31 request out of range
  (none of the PIDs asked for is supported), 0x13 incorrect message length.
Of several PIDs in one request the supported ones are answered, in the order asked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from firmware_protocol.obd import (
    FUNCTIONAL_REQUEST_ID,
    PHYSICAL_REQUEST_IDS,
    SERVICE_CURRENT_DATA,
    SERVICE_STORED_DTCS,
    Complete,
    FlowControl,
    IsoTpError,
    IsoTpReassembler,
    IsoTpSender,
    Nrc,
    ObdError,
    SendFlowControl,
    encode_current_data,
    encode_negative_response,
    encode_stored_dtcs,
    parse_request,
    response_id,
    segment,
)

# ISO 15765-2 N_Bs: how long a sender waits for the flow control after a first frame or block.
FLOW_CONTROL_TIMEOUT_S = 1.0

SendFrame = Callable[[int, bytes], None]


@dataclass
class ObdCounters:
    requests: int = 0
    answers: int = 0
    negative_answers: int = 0
    unanswered: int = 0  # functional requests the ECU cannot answer: silence, as ISO 15765-4 says
    multi_frame_answers: int = 0
    flow_control_timeouts: int = 0  # the tester sent no flow control within N_Bs: answer dropped
    aborted_answers: int = 0  # overflow from the tester, a new request, or the ECU went silent
    bad_frames: int = 0  # ISO-TP frames that could not be read


class ObdEcu:
    """Answers OBD-II requests from `pid_values()` and `stored_dtcs()` through `send`."""

    def __init__(
        self,
        send: SendFrame,
        pid_values: Callable[[], Mapping[int, float | None]],
        stored_dtcs: Callable[[], Sequence[str]],
    ) -> None:
        self.request_id = PHYSICAL_REQUEST_IDS[0]
        self.response_id = response_id(self.request_id)
        self.counters = ObdCounters()
        self._send = send
        self._pid_values = pid_values
        self._stored_dtcs = stored_dtcs
        self._reassemblers = {
            FUNCTIONAL_REQUEST_ID: IsoTpReassembler(),
            self.request_id: IsoTpReassembler(),
        }
        self._answer: asyncio.Task[None] | None = None
        self._flow_control: asyncio.Future[bytes] | None = None

    def hears(self, arbitration_id: int) -> bool:
        return arbitration_id in self._reassemblers

    def on_frame(self, arbitration_id: int, data: bytes) -> None:
        if arbitration_id == self.request_id and self._take_flow_control(data):
            return
        try:
            step = self._reassemblers[arbitration_id].feed(data)
        except IsoTpError:
            self.counters.bad_frames += 1
            return
        if isinstance(step, SendFlowControl):
            if arbitration_id == FUNCTIONAL_REQUEST_ID:
                # ISO 15765-4: functional requests are single frames; a longer one is ignored.
                self._reassemblers[arbitration_id].reset()
                self.counters.bad_frames += 1
            else:
                self._send(self.response_id, step.frame)
        elif isinstance(step, Complete):
            self._answer_request(step.payload, functional=arbitration_id == FUNCTIONAL_REQUEST_ID)

    def abort(self) -> None:
        """Stop an answer under way (a new request, the ECU going silent, shutdown)."""
        if self._answer is not None and not self._answer.done():
            self._answer.cancel()
            self.counters.aborted_answers += 1
        self._answer = None

    async def close(self) -> None:
        answer = self._answer
        self.abort()
        if answer is not None:
            await asyncio.gather(answer, return_exceptions=True)

    def _take_flow_control(self, data: bytes) -> bool:
        """Hand a flow control frame to the answer waiting for it; False if it is none."""
        waiting = self._flow_control
        if waiting is None or waiting.done():
            return False
        try:
            FlowControl.decode(data)
        except IsoTpError:
            return False
        waiting.set_result(data)
        return True

    def _answer_request(self, request: bytes, *, functional: bool) -> None:
        self.counters.requests += 1
        payload, positive = self._response(request)
        if functional and not positive:
            self.counters.unanswered += 1
            return
        if positive:
            self.counters.answers += 1
        else:
            self.counters.negative_answers += 1
        self.abort()
        frames = segment(payload)
        if len(frames) == 1:
            self._send(self.response_id, frames[0])
            return
        self.counters.multi_frame_answers += 1
        self._answer = asyncio.get_running_loop().create_task(self._send_long(payload))

    def _response(self, request: bytes) -> tuple[bytes, bool]:
        """The answer payload to a request, and whether it is a positive one."""
        try:
            parsed = parse_request(request)
        except ObdError:
            service = request[0] if request else 0
            return encode_negative_response(service, Nrc.INCORRECT_MESSAGE_LENGTH), False
        if parsed.service == SERVICE_STORED_DTCS:
            return encode_stored_dtcs(self._stored_dtcs()), True
        if parsed.service != SERVICE_CURRENT_DATA:
            return encode_negative_response(parsed.service, Nrc.SERVICE_NOT_SUPPORTED), False
        values = self._pid_values()
        answered = {pid: v for pid in parsed.pids if (v := values.get(pid)) is not None}
        if not answered:
            return encode_negative_response(parsed.service, Nrc.REQUEST_OUT_OF_RANGE), False
        return encode_current_data(answered), True

    async def _send_long(self, payload: bytes) -> None:
        sender = IsoTpSender(payload)
        loop = asyncio.get_running_loop()
        first_frame_sent = False
        waiting: asyncio.Future[bytes] | None = None
        try:
            while not sender.done:
                # The waiter exists before the frame that asks for flow control is written.
                waiting = self._flow_control = loop.create_future()
                if not first_frame_sent:
                    self._send(self.response_id, sender.first_frame)
                    first_frame_sent = True
                try:
                    async with asyncio.timeout(FLOW_CONTROL_TIMEOUT_S):
                        frame = await waiting
                except TimeoutError:
                    self.counters.flow_control_timeouts += 1
                    return
                try:
                    burst = sender.on_flow_control(frame)
                except IsoTpError:  # flow status overflow: the tester cannot take it
                    self.counters.aborted_answers += 1
                    return
                for index, consecutive in enumerate(burst.frames):
                    if index:
                        await asyncio.sleep(burst.st_min_s)
                    self._send(self.response_id, consecutive)
        finally:
            if waiting is not None:
                waiting.cancel()
                if self._flow_control is waiting:
                    self._flow_control = None
