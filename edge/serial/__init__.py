"""The agent's serial link to the slot boards of a cabinet or the ground lock of a parking
space: the port (port.py), the request/response link layer (link.py), event polling
(events.py), and their counters (health.py)."""

from .errors import BoardNak, LinkDown, LinkTimeout, PortError, SerialLinkError
from .events import LOST_BOARD_RESET, LOST_OVERFLOW, EventPoller, is_new_event
from .link import SlotBoardLink

__all__ = [
    "LOST_BOARD_RESET",
    "LOST_OVERFLOW",
    "BoardNak",
    "EventPoller",
    "LinkDown",
    "LinkTimeout",
    "PortError",
    "SerialLinkError",
    "SlotBoardLink",
    "is_new_event",
]
