"""RFC 3339 timestamps as the contract writes them (section 1): UTC, milliseconds, `Z`."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# RFC 3339 section 5.6 `date-time`; the note there allows a space or lower case `t`/`z`.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def rfc3339(dt: datetime) -> str:
    """`2026-11-23T18:14:27.123Z`: the instant `dt` in UTC, truncated to milliseconds."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt!r}: wall-clock times must carry their zone")
    u = dt.astimezone(UTC)
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
        f".{u.microsecond // 1000:03d}Z"
    )


def utc_now_rfc3339() -> str:
    return rfc3339(datetime.now(UTC))


def parse_rfc3339(text: str) -> datetime:
    """The aware UTC datetime of an RFC 3339 `date-time` (`Z` or an offset; any fraction).

    Raises ValueError for anything else, including ISO 8601 forms RFC 3339 does not allow
    (no zone, date only, week dates).
    """
    if not isinstance(text, str) or not _RFC3339.fullmatch(text):
        raise ValueError(f"not an RFC 3339 timestamp: {text!r:.60}")
    normal = text.upper().replace("Z", "+00:00")
    head, dot, rest = normal.partition(".")
    if dot:
        digits = rest[: len(rest) - 6]  # the zone is always the last 6 characters here
        normal = f"{head}.{digits[:6].ljust(6, '0')}{rest[-6:]}"
    try:
        return datetime.fromisoformat(normal).astimezone(UTC)
    except ValueError as exc:  # a field out of range, e.g. month 13 or second 60
        raise ValueError(f"not an RFC 3339 timestamp: {text!r:.60}: {exc}") from None
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before the first UTC datetime
        raise ValueError(f"not an RFC 3339 timestamp: {text!r:.60}: out of range") from None
