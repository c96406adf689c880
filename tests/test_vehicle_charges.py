"""Rental charges (contract section 4): hand-computed golden cases and properties."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.vehicle.charges import rental_charges
from edge.vehicle.inputs import Tariff
from edge.vehicle.readings import tenths
from edge.vehicle.records import Charges


def tariff(
    per_minute: int = 25, price: int = 789, tank: str = "50", currency: str = "EUR"
) -> Tariff:
    return Tariff(per_minute, price, Decimal(tank), currency)


def pct(text: str) -> Decimal:
    return Decimal(text)


@pytest.mark.parametrize(
    ("duration_s", "start", "end", "the_tariff", "expected"),
    [
        # 3725 s = 62 min 5 s -> 63 started minutes * 25 = 1575;
        # 50 L * 17.5 % = 8.75 L * 789 = 6903.75 -> 6904.
        (3725, "80.0", "62.5", tariff(), (1575, 6904, 8479)),
        (0, "50.0", "50.0", tariff(), (0, 0, 0)),
        (1, "50.0", "50.0", tariff(), (25, 0, 25)),
        (60, "50.0", "50.0", tariff(), (25, 0, 25)),
        (61, "50.0", "50.0", tariff(), (50, 0, 50)),
        # 45 L * 1 % = 0.45 L * 10 = 4.5 -> 5 (half-up); the refund mirrors it: -4.5 -> -5.
        (0, "21.0", "20.0", tariff(price=10, tank="45"), (0, 5, 5)),
        (0, "20.0", "21.0", tariff(price=10, tank="45"), (0, -5, -5)),
        # 45.5 L * 0.1 % = 0.0455 L * 100 = 4.55 -> 5.
        (0, "10.1", "10.0", tariff(price=100, tank="45.5"), (0, 5, 5)),
        # 50 L * 0.1 % = 0.05 L * 150 = 7.5 -> 8. In floats 33.3 - 33.2 = 0.0999... gives 7.
        (0, "33.3", "33.2", tariff(price=150), (0, 8, 8)),
        # More fuel back than taken: 50 L * -12.4 % = -6.2 L * 789 = -4891.8 -> -4892.
        (600, "40.0", "52.4", tariff(), (250, -4892, -4642)),
        # 0.4 % fuel-gauge steps on a 60.5 L tank at 1,999 c/L: 0.242 L -> 483.758 -> 484.
        (59, "30.4", "30.0", tariff(per_minute=0, price=1999, tank="60.5"), (0, 484, 484)),
    ],
)
def test_golden(
    duration_s: int, start: str, end: str, the_tariff: Tariff, expected: tuple[int, int, int]
) -> None:
    charges = rental_charges(duration_s, pct(start), pct(end), the_tariff)
    assert (charges.time_cents, charges.fuel_cents, charges.total_cents) == expected
    assert charges.currency == the_tariff.currency


def test_unknown_fuel_at_either_end_charges_no_fuel() -> None:
    no_fuel = Charges(time_cents=50, fuel_cents=0, total_cents=50, currency="EUR")
    assert rental_charges(120, None, pct("10.0"), tariff()) == no_fuel
    assert rental_charges(120, pct("10.0"), None, tariff()) == no_fuel


def test_as_fields() -> None:
    charges = Charges(time_cents=50, fuel_cents=-3, total_cents=47, currency="CNY")
    assert charges.model_dump(mode="json") == {
        "time_cents": 50,
        "fuel_cents": -3,
        "total_cents": 47,
        "currency": "CNY",
    }


def test_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="duration_s"):
        rental_charges(-1, None, None, tariff())


@pytest.mark.parametrize(
    ("value", "expected"),
    [(62.5, "62.5"), (62.45, "62.5"), (62.44, "62.4"), (2.675, "2.7"), (12345.65, "12345.7")],
)
def test_readings_round_half_up_to_tenths(value: float, expected: str) -> None:
    assert tenths(value) == Decimal(expected)
    assert tenths(None) is None


fuel_levels = st.integers(0, 1000).map(lambda tenth: Decimal(tenth) / 10)
tariffs = st.builds(
    Tariff,
    per_minute_cents=st.integers(0, 10_000),
    fuel_price_cents_per_litre=st.integers(0, 100_000),
    tank_litres=st.decimals(min_value=1, max_value=300, places=2),
    currency=st.just("EUR"),
)
durations = st.integers(0, 10_000_000)


def exact_fuel_cents(start: Decimal, end: Decimal, the_tariff: Tariff) -> int:
    """The contract's formula in rationals, rounded half-up (ties away from zero)."""
    exact = (
        Fraction(the_tariff.tank_litres)
        * (Fraction(start) - Fraction(end))
        / 100
        * the_tariff.fuel_price_cents_per_litre
    )
    magnitude = math.floor(abs(exact) + Fraction(1, 2))
    return magnitude if exact >= 0 else -magnitude


@given(durations, fuel_levels, fuel_levels, tariffs)
def test_exact_against_rationals(
    duration_s: int, start: Decimal, end: Decimal, the_tariff: Tariff
) -> None:
    charges = rental_charges(duration_s, start, end, the_tariff)
    minutes = math.ceil(Fraction(duration_s, 60))
    assert charges.time_cents == minutes * the_tariff.per_minute_cents
    assert charges.fuel_cents == exact_fuel_cents(start, end, the_tariff)
    for cents in (charges.time_cents, charges.fuel_cents, charges.total_cents):
        assert type(cents) is int
    assert charges.total_cents == charges.time_cents + charges.fuel_cents


@given(durations, durations, fuel_levels, fuel_levels, tariffs)
def test_monotone_in_duration(
    first: int, second: int, start: Decimal, end: Decimal, the_tariff: Tariff
) -> None:
    shorter, longer = sorted((first, second))
    short = rental_charges(shorter, start, end, the_tariff)
    long = rental_charges(longer, start, end, the_tariff)
    assert short.time_cents <= long.time_cents
    assert short.fuel_cents == long.fuel_cents
    assert short.total_cents <= long.total_cents


@given(durations, fuel_levels, fuel_levels, tariffs)
def test_fuel_sign_follows_the_fuel_taken(
    duration_s: int, start: Decimal, end: Decimal, the_tariff: Tariff
) -> None:
    fuel_cents = rental_charges(duration_s, start, end, the_tariff).fuel_cents
    back = rental_charges(duration_s, end, start, the_tariff).fuel_cents
    assert back == -fuel_cents
    if start == end:
        assert fuel_cents == 0
    elif start > end:
        assert fuel_cents >= 0
    else:
        assert fuel_cents <= 0
