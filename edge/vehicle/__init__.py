"""The vehicle box: its pure state machines (inputs in, intents out; no I/O, no clocks), its
adapter (`box`), and the shapes it publishes.

The adapter feeds `inputs` to `controller.VehicleController.handle` and carries out the intents
it gets back (the common ones of edge.intents and `intents.SendCan`). What goes out on the wire
is typed here and gathered by edge.wire: `records`, `events`, `results` (reply results),
`telemetry`; `snapshot` is the controller's durable state; `commands` the command args.
Choices the contract leaves open:
- `start_enabled` in the view is the last state the bus has shown; null while unknown (at start,
  after a restart, on a lost bus). A start-enable fault shows in events, not in this field.
- `lock` is "fault" from a failed command until the bus shows the position that command asked
  for, or a later command succeeds; a lost bus does not hide a fault.
- The pre-use check and the start readings of `rental_started` are read when the first unlock of
  a booking is accepted (the car as the renter found it); the clock starts at its confirmation.
- end_rental on a booking never unlocked ends it like a rental: the same refusals, lock and
  withdrawal, then `rental_ended` with started_at, start readings and distance null, duration 0,
  no charges, and the note "booking cancelled before the first unlock" in its check.
- A fuel level unknown at either end charges no fuel and notes "fuel unknown" in the check;
  an unknown odometer gives distance_km null and notes "odometer unknown".
- Readings in records are JSON numbers whose text is the 0.1-rounded decimal (42.5); money is
  integer cents computed in Decimal.
- If the engine starts while end_rental is locking, the withdrawal waits (withdraw_pending), the
  rental goes on, and end_rental fails with code `not_allowed`.
- An unlock drops a pending withdrawal. A pending withdrawal is kept across a restart and goes
  ahead when the bus shows the engine stopped; nothing else is sent to the car after a restart.
"""
