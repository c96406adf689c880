"""A serial line for the board simulators: a pty paced to the baud rate, or a real port.

The cabinet and parking simulators are slot boards on a serial line (contract section 8). With
no `--port` they stand behind a pty whose slave end the agent opens with pyserial exactly as it
opens /dev/ttyUSB0; with `--port` they open that port. Either way the line carries the faults of
the simulators' `noise` control op: bit errors and lost bytes, in both directions.

- `channel`: `FdChannel`, non-blocking reads and bounded, queued writes of one fd on the loop.
- `pty`: `Pty`, a pty pair whose slave end the host opens as its serial port.
- `noise`: `LineFaults`, the faults on a line, and `LineNoise`, which applies them.
- `pacing`: `Pacer`, which hands bytes on no faster than a UART carries them.
- `lines`: `SerialLine`, a board's line to the host, on a pty (`SerialPty`) or a real port
  (`SerialDevice`); `open_serial_line` picks one.

`Pty` and `FdChannel` are also the transport under the emulated SLCAN adapter (sim/slcan.py).
"""
