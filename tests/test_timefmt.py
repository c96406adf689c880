"""RFC 3339 timestamps (contract section 1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.timefmt import parse_rfc3339, rfc3339, utc_now_rfc3339


def test_rfc3339_is_utc_with_milliseconds_and_z() -> None:
    plus_one = timezone(timedelta(hours=1))
    moment = datetime(2026, 11, 23, 19, 14, 27, 123999, tzinfo=plus_one)
    assert rfc3339(moment) == "2026-11-23T18:14:27.123Z"
    assert rfc3339(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000Z"


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        rfc3339(datetime(2026, 11, 23))


def test_now_reads_back_within_a_second() -> None:
    assert abs(parse_rfc3339(utc_now_rfc3339()) - datetime.now(UTC)) < timedelta(seconds=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23T18:14:27.123Z", datetime(2026, 11, 23, 18, 14, 27, 123000, tzinfo=UTC)),
        ("2026-11-23t18:14:27z", datetime(2026, 11, 23, 18, 14, 27, tzinfo=UTC)),
        ("2026-11-23 19:14:27.5+01:00", datetime(2026, 11, 23, 18, 14, 27, 500000, tzinfo=UTC)),
        ("2026-11-23T18:14:27.123456789-00:30", datetime(2026, 11, 23, 18, 44, 27, 123456, UTC)),
    ],
)
def test_parse_accepts_z_offsets_and_any_fraction(text: str, expected: datetime) -> None:
    parsed = parse_rfc3339(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23T18:14:27",  # no zone
        "2026-11-23",
        "2026-W47-1T18:14:27Z",
        "2026-13-01T00:00:00Z",
        "2026-11-23T18:14:60Z",
        "2026-11-23T18:14:27.Z",
        "20261123T181427Z",
        " 2026-11-23T18:14:27Z",
        "2026-11-23T18:14:27+0100",
        "٢٠٢٦-11-23T18:14:27Z",  # non-ASCII digits
    ],
)
def test_parse_refuses_what_rfc3339_does_not_allow(text: str) -> None:
    with pytest.raises(ValueError, match="not an RFC 3339 timestamp"):
        parse_rfc3339(text)


@given(st.datetimes(timezones=st.just(UTC)))
def test_round_trip_to_the_millisecond(moment: datetime) -> None:
    assert parse_rfc3339(rfc3339(moment)) == moment.replace(
        microsecond=moment.microsecond // 1000 * 1000
    )
