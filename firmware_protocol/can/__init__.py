"""The vehicle's CAN bus: the reference DBC, signal profiles, and the codec compiled from them.

>>> codec = VehicleCodec.load("reference")  # or the path of another car's profile
>>> codec.decode(0x3E0, bytes([125, 0, 0, 0, 0, 0, 0, 0]))
{'fuel_pct': 50.0}
>>> codec.encode_command("unlock", counter=3)
(533, b'\\xe3\\x03\\x02\\x00')
"""

from .checksum import ALGORITHMS
from .codec import Broadcast, Command, VehicleCodec
from .errors import CanDecodeError, CanEncodeError, ProfileError, ProfileProblems
from .profile import (
    COMMANDS,
    INPUTS,
    CanInput,
    CanSource,
    CommandMap,
    ObdInput,
    Profile,
    Protection,
    Threshold,
    load_profile,
    parse_profile,
)
from .values import NOT_AVAILABLE, LockState, LogicalValue, NotAvailable

__all__ = [
    "ALGORITHMS",
    "COMMANDS",
    "INPUTS",
    "NOT_AVAILABLE",
    "Broadcast",
    "CanDecodeError",
    "CanEncodeError",
    "CanInput",
    "CanSource",
    "Command",
    "CommandMap",
    "LockState",
    "LogicalValue",
    "NotAvailable",
    "ObdInput",
    "Profile",
    "ProfileError",
    "ProfileProblems",
    "Protection",
    "Threshold",
    "VehicleCodec",
    "load_profile",
    "parse_profile",
]
