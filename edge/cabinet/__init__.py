"""The cabinet box, one slice: its command args (`commands`), the controller's `inputs` and
`intents`, what it publishes (`records`, `events`, `results`, `telemetry`), its durable state
(`snapshot`), the pure state machines (`controller`, `slot`, `reservations`, `rent`; inputs in,
intents out, no I/O, no clocks) and the adapter (`box`, `board_worker`, `boards`, `slot_map`).

The adapter feeds `inputs` to `controller.CabinetController.handle` and carries out the
`intents` it gets back: Eject and LockSlot one at a time on the line, each answered by one
outcome input; ReadInventory by an InventoryRead. Slot states are listed in `slot`. Choices the
contract leaves open:
- reserve is all or nothing: fewer free slots than `count` is `not_allowed`, the detail saying
  how many there are. Its result: `reservation_id`, `purpose`, `slots` (ascending), `expires_at`.
- rent by count picks like reserve: the fullest banks at or above `min_charge_pct` with a
  readable id, ties to the lowest slot. Its reply comes when every eject has an outcome: `ok`
  when all opened; otherwise `failed` (code `hardware_timeout` when every failure was a
  timeout, else `hardware_fault`) with the same exact `result`: `order_id`, `reservation_id`,
  `ejected` (slots) and `failed` (`slot`, `code`, `reason`). Banks that were ejected are out
  whatever the reply says; their `bank_out` records are the billing truth.
- An eject succeeds when the latch is seen open (LockChanged, EjectDone or a reading) or the
  bank is seen gone. `bank_out` is written when the bank is seen gone from a slot ejecting it,
  even late (while being locked back in): with `reserved_at`, `ejected_at`, `taken_at`.
- A bank still there `take_timeout_s` after the latch opened is locked back in (LockSlot, event
  `eject_not_taken`); an eject that shows no sign of opening by then has failed.
- Every bank seen arriving in a slot writes `bank_in`, even in a disabled or faulted slot, and
  even with an unreadable id (bank_id null, plus event `unknown_bank`): the bank is there. It
  consumes its slot of a return reservation (`reservation_id`, `reserved_at`). A bank the latch
  did not catch is locked in.
- A bank leaving without an eject (forced or not) is only the event `forced_removal`: there is no
  order to bill. The slot is quarantined.
- A latch that opens under a bank with no eject: event `slot_unlocked`, LockSlot, quarantine.
- Fault bits (or an unreadable latch) put a resting slot in `fault` (events `slot_fault`,
  `slot_fault_cleared`); a LOCK_STUCK while waiting for an eject to open fails that eject.
- A reserved slot that stops being what was reserved (faulted, disabled, bank pulled) leaves its
  reservation with event `reservation_slot_lost`; a reservation left with no slot ends quietly.
- `busy` (try again soon): any reserve or rent before the slots have been read once since the
  agent started; a rent of a reservation whose slots were not read since a restart, or whose
  banks are being ejected by another rent; too few charged banks when those being locked back
  in would make up the difference; set_slot(false) on a slot ejecting or locking. Otherwise a
  shortage is `not_allowed`.
- After a restart nothing is sent to the boards by itself, except LockSlot again for a slot that
  was locking a bank in and still reads unlatched. An eject that had not opened fails with
  `hardware_fault` ("interrupted by a restart"); what changed while down is recorded with
  `observed_after_restart: true`, and `taken_at`/`returned_at` null.
"""
