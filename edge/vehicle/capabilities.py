"""What this car lets the box do and see, from its signal profile: a command or a status the
car does not have is declared absent in the profile, never faked."""

from __future__ import annotations

from dataclasses import dataclass

from firmware_protocol.can import Profile


@dataclass(frozen=True)
class Capabilities:
    """True where the car has it. Without `lock_status` the lock is never reported as
    confirmed; without `start_status` start enable is what the box commanded, labelled so."""

    lock_command: bool = True
    lock_status: bool = True
    start_command: bool = True
    start_status: bool = True

    @classmethod
    def of(cls, profile: Profile) -> Capabilities:
        commands, inputs = profile.commands, profile.inputs
        return cls(
            lock_command="lock" in commands and "unlock" in commands,
            lock_status="lock_state" in inputs,
            start_command="start_enable" in commands and "start_disable" in commands,
            start_status="start_enabled" in inputs,
        )

    def missing_lock(self, command: str) -> str | None:
        """Why `command` (lock, unlock) cannot be carried out on this car; None when it can."""
        if self.lock_command:
            return None
        return (
            f"this car takes no central-lock command: {command} needs the capability "
            f"commands.{command}, absent from its signal profile"
        )
