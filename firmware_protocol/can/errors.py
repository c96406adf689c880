"""Narrow exceptions of the CAN layer."""


class CanDecodeError(ValueError):
    """A frame of a known id that cannot be read: wrong length, bad checksum, no known command."""


class CanEncodeError(ValueError):
    """Logical values that the DBC cannot carry: missing, out of range, no "not available" raw."""


class ProfileError(ValueError):
    """A signal profile that is malformed or does not fit its DBC; `key` names the offending key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem
