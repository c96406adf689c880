"""The agent's serial link to the slot boards of a cabinet or the ground lock of a parking
space: the port (port.py), the request/response link layer (link.py), event polling
(events.py), a board request with the BUSY retries and the hardware codes (request.py), and
their counters (health.py)."""

from .errors import BoardNak, LinkDown, LinkTimeout, PortError, SerialLinkError
from .events import LOST_BOARD_RESET, LOST_OVERFLOW, EventPoller, is_new_event
from .link import SlotBoardLink
from .request import BUSY_ATTEMPTS, BUSY_RETRY_S, BoardRequestFailed, actuate

__all__ = [
    "BUSY_ATTEMPTS",
    "BUSY_RETRY_S",
    "LOST_BOARD_RESET",
    "LOST_OVERFLOW",
    "BoardNak",
    "BoardRequestFailed",
    "EventPoller",
    "LinkDown",
    "LinkTimeout",
    "PortError",
    "SerialLinkError",
    "SlotBoardLink",
    "actuate",
    "is_new_event",
]
