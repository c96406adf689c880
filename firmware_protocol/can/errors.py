"""Narrow exceptions of the CAN layer."""


class CanDecodeError(ValueError):
    """A frame of a known id that cannot be read: wrong length, bad checksum, a repeated
    counter, no known command; `reason` says which ("length", "checksum", "counter", "command")."""

    def __init__(self, message: str, reason: str = "command") -> None:
        super().__init__(message)
        self.reason = reason


class CanEncodeError(ValueError):
    """Logical values that the DBC cannot carry: missing, out of range, no "not available" raw."""


class ProfileError(ValueError):
    """A signal profile that is malformed or does not fit its DBC; `key` names the offending key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


class ProfileProblems(ProfileError):
    """Several problems in one profile, each a ProfileError naming its key."""

    def __init__(self, problems: list[ProfileError]) -> None:
        super().__init__(problems[0].key, problems[0].problem)
        self.problems = problems

    def __str__(self) -> str:
        return "; ".join(str(problem) for problem in self.problems)
