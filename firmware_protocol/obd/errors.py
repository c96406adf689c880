"""Narrow exceptions of the OBD-II layer (ISO-TP framing, services, PIDs, DTCs)."""


class ObdError(ValueError):
    """Anything the OBD-II codec refuses to read or to write."""


class IsoTpError(ObdError):
    """A CAN frame or payload that ISO 15765-2 does not allow."""


class IsoTpSequenceError(IsoTpError):
    """A consecutive frame out of order; the message being reassembled is dropped."""

    def __init__(self, expected: int, received: int) -> None:
        super().__init__(f"consecutive frame {received} received, {expected} expected")
        self.expected = expected
        self.received = received


class NegativeResponseError(ObdError):
    """The ECU answered 0x7F: it refused `service` with negative response code `nrc`."""

    def __init__(self, service: int, nrc: int) -> None:
        super().__init__(f"service {service:#04x} refused with NRC {nrc:#04x}")
        self.service = service
        self.nrc = nrc
