"""The charges of a rental (contract section 4): exact decimal arithmetic, integer cents.

    time_cents  = ceil(duration_s / 60) * per_minute_cents
    fuel_cents  = tank_litres * (fuel_start_pct - fuel_end_pct) / 100 * fuel_price_cents_per_litre,
                  rounded half-up (ties away from zero, so a refund mirrors a charge)
    total_cents = time_cents + fuel_cents

A fuel level unknown at either end charges no fuel.
"""

from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

from edge.vehicle.inputs import Tariff
from edge.vehicle.records import Charges

# Enough digits that the product is never rounded before the final quantize.
_EXACT = Context(prec=60)


def rental_charges(
    duration_s: int,
    fuel_start_pct: Decimal | None,
    fuel_end_pct: Decimal | None,
    tariff: Tariff,
) -> Charges:
    if duration_s < 0:
        raise ValueError(f"duration_s must not be negative, got {duration_s}")
    started_minutes = -(-duration_s // 60)
    time_cents = started_minutes * tariff.per_minute_cents
    fuel_cents = 0
    if fuel_start_pct is not None and fuel_end_pct is not None:
        with localcontext(_EXACT):
            litres = tariff.tank_litres * (fuel_start_pct - fuel_end_pct) / 100
            cents = litres * tariff.fuel_price_cents_per_litre
            fuel_cents = int(cents.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return Charges(
        time_cents=time_cents,
        fuel_cents=fuel_cents,
        total_cents=time_cents + fuel_cents,
        currency=tariff.currency,
    )
