"""The parking box's pure state machines: inputs in, intents out (no I/O, no clocks).

The adapter feeds `inputs` to `controller.ParkingController.handle` and carries out the
`intents` it gets back (RaiseLock and LowerLock each answered by one outcome input). Choices
the contract leaves open:
- `parking_started` is written when the board reports the arm lowered, not when the lower is
  sent, and the lower is replied then; likewise `parking_ended` and the raise's reply when it
  reports the arm raised. The raise's reply carries the record's fields.
- lower is `busy` while the arm moves or before the board has reported since the agent started,
  and `not_allowed` with an order holding the space or the arm not raised (lowered, fault).
- raise is `not_allowed` for no order or another order's id, and while the occupancy sensor sees
  a car ("a car is over the lock") or cannot tell (not reported since the start, or its fault
  bit); `busy` while the arm moves. It may be tried from `fault` (a raise that failed before);
  the board refuses it when its limit switch is bad.
- The telemetry `lock` is "unknown" (beyond the contract's four values) until the board has
  reported a position; `occupied` is null while the sensor cannot tell.
- Fault bits are reported as event `ground_lock_faults` on every change; entering and leaving
  the fault state as `ground_lock_fault` (with the reason) and `ground_lock_fault_cleared`
  (edge/parking/events.py).
- After a restart the arm is never moved by itself: a lower or raise that was under way ends as
  the board's first report finds the arm (the target: ok and its record; the other limit:
  `failed` `hardware_fault`), or `hardware_timeout` after `move_timeout_s`. The one move the
  controller makes without a command is down, when a car is reported over an arm that may be
  rising (the raise is then refused).
"""
