"""What the vehicle controller asks its adapter to do besides the common intents: send a CAN
command frame."""

from dataclasses import dataclass
from typing import Literal

from edge.intents import HardwareIntent

CanCommand = Literal["lock", "unlock", "start_enable", "start_disable"]


@dataclass(frozen=True)
class SendCan(HardwareIntent):
    command: CanCommand
