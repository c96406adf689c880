"""The vehicle simulator's CAN connection: an SLCAN adapter emulated on a pty, or a real bus.

With no options the simulator stands behind an emulated SLCAN (Lawicel) USB-CAN adapter: the
agent opens the pty with python-can's `slcan` interface as it opens a CANable or CANUSB stick,
and needs no privileges (contract section 8). With `--can-interface socketcan --can-channel
vcan0` it joins that bus through python-can instead. Both are a `CanLink`.

The SLCAN dialect is what python-can 4.6 speaks (can/interfaces/slcan.py). Every command and
reply ends in CR; an error reply is a BEL. From the Lawicel CAN232/CANUSB manual:
  Sn        bitrate n (0..8: 10k 20k 50k 100k 125k 250k 500k 800k 1M), channel closed only
  sxxyy     BTR0/BTR1 of an SJA1000 (8 MHz), channel closed only
  O / L / C open, open listen-only, close the channel
  tiiildd.. Tiiiiiiiildd..  transmit an 11-bit / 29-bit frame, l = DLC 0..8; replies z / Z
  riiil     Riiiiiiiil      transmit a remote frame; replies z / Z
  V / N     hardware+software version (Vhhss) / serial number (Nxxxx)
  F         status flags (two hex digits), channel open only; bit 3 = data overrun
  Zn        timestamps off/on: each frame to the host ends with 4 hex digits of ms (0..EA5F)
  Mxxxxxxxx / mxxxxxxxx     acceptance code / mask, channel closed only
Frames to the host use the transmit syntax (`tIIILDD..`, `TIIIIIIIILDD..`, `rIIIL`,
`RIIIIIIIIL`), each followed by CR.

Where adapters disagree this one is lenient the way CANable firmware is, because python-can's
open sends `C` to a closed channel and `O` twice: `C` is always OK, and `O`/`L` on a channel
already open in that mode is OK. `S7` is 750 kbit/s as in python-can and CANable (Lawicel: 800k),
and `S9` is python-can's 83.3 kbit/s. CAN FD commands are refused.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any, Protocol

import can

from sim.serial.channel import OUT_CAP
from sim.serial.pty import Pty

FrameSink = Callable[[can.Message], None]

OK = b"\r"
BELL = b"\a"
BITRATES = {
    "0": 10_000,
    "1": 20_000,
    "2": 50_000,
    "3": 100_000,
    "4": 125_000,
    "5": 250_000,
    "6": 500_000,
    "7": 750_000,
    "8": 1_000_000,
    "9": 83_300,
}
SJA1000_CLOCK_HZ = 8_000_000
VERSION = "1013"  # hardware 10, software 13, read by python-can as two decimal pairs
SERIAL_NUMBER = "SIM1"
STATUS_DATA_OVERRUN = 0x08
TIMESTAMP_WRAP_MS = 60_000
# The longest command is an extended data frame: T, 8 id digits, DLC, 16 data digits.
LINE_MAX = 64
PRINTABLE = bytes(range(0x20, 0x7F))
NOT_PRINTABLE = bytes(b for b in range(256) if b not in PRINTABLE)
HEX_DIGITS = frozenset("0123456789ABCDEFabcdef")
MAX_STANDARD_ID = 0x7FF
MAX_EXTENDED_ID = 0x1FFFFFFF

# letter: (id digits, extended, remote)
FRAME_LAYOUTS = {
    "t": (3, False, False),
    "T": (8, True, False),
    "r": (3, False, True),
    "R": (8, True, True),
}
FRAME_LETTERS = frozenset(letter.encode("ascii") for letter in FRAME_LAYOUTS)


class SlcanError(ValueError):
    """An SLCAN line that cannot be parsed."""


class SlcanRefused(Exception):
    """A well-formed SLCAN command that the adapter does not carry out in its present state."""


def parse_frame(line: str) -> can.Message:
    """A `t`, `T`, `r` or `R` line (without its CR) as a message; SlcanError when malformed."""
    if not line or line[0] not in FRAME_LAYOUTS:
        raise SlcanError(f"not a frame: {line!r}")
    id_digits, extended, remote = FRAME_LAYOUTS[line[0]]
    ident = line[1 : 1 + id_digits]
    dlc_digit = line[1 + id_digits : 2 + id_digits]
    data = line[2 + id_digits :]
    if len(ident) != id_digits or not HEX_DIGITS.issuperset(ident):
        raise SlcanError(f"bad identifier in {line!r}")
    arbitration_id = int(ident, 16)
    if arbitration_id > (MAX_EXTENDED_ID if extended else MAX_STANDARD_ID):
        raise SlcanError(f"identifier out of range in {line!r}")
    if len(dlc_digit) != 1 or dlc_digit not in "012345678":
        raise SlcanError(f"bad DLC in {line!r}")
    dlc = int(dlc_digit)
    if remote:
        if data:
            raise SlcanError(f"a remote frame carries no data: {line!r}")
        payload = b""
    elif len(data) != 2 * dlc or not HEX_DIGITS.issuperset(data):
        raise SlcanError(f"data does not match DLC {dlc} in {line!r}")
    else:
        payload = bytes.fromhex(data)
    return can.Message(
        timestamp=time.time(),
        arbitration_id=arbitration_id,
        is_extended_id=extended,
        is_remote_frame=remote,
        dlc=dlc,
        data=payload,
    )


def format_frame(msg: can.Message, timestamp_ms: int | None = None) -> bytes:
    """A message as the adapter sends it to the host, CR included; ValueError if not CAN 2.0."""
    if msg.is_fd or msg.is_error_frame:
        raise ValueError("SLCAN carries CAN 2.0 data and remote frames only")
    if msg.arbitration_id > (MAX_EXTENDED_ID if msg.is_extended_id else MAX_STANDARD_ID):
        raise ValueError(f"identifier {msg.arbitration_id:#x} out of range")
    ident = f"{msg.arbitration_id:08X}" if msg.is_extended_id else f"{msg.arbitration_id:03X}"
    if msg.is_remote_frame:
        if not 0 <= msg.dlc <= 8:
            raise ValueError(f"DLC {msg.dlc} out of range")
        line = f"{'R' if msg.is_extended_id else 'r'}{ident}{msg.dlc}"
    else:
        if len(msg.data) > 8:
            raise ValueError(f"{len(msg.data)} data bytes do not fit a CAN 2.0 frame")
        letter = "T" if msg.is_extended_id else "t"
        line = f"{letter}{ident}{len(msg.data)}{bytes(msg.data).hex().upper()}"
    if timestamp_ms is not None:
        line += f"{timestamp_ms % TIMESTAMP_WRAP_MS:04X}"
    return line.encode("ascii") + OK


class CanLink(Protocol):
    """What the vehicle simulator needs of its CAN connection."""

    @property
    def connect(self) -> dict[str, Any]:
        """The agent's `[vehicle.can]` keys: interface, channel, bitrate, options."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def send(self, msg: can.Message) -> None:
        """Put a frame on the bus, towards the agent; never blocks."""

    def stats(self) -> dict[str, Any]: ...


class ChannelMode(Enum):
    CLOSED = "closed"
    OPEN = "open"
    LISTEN_ONLY = "listen_only"


@dataclass
class SlcanStats:
    transmit_requests: int = 0  # frame lines the host sent (t T r R): carried out, refused or bad
    frames_from_host: int = 0  # of them, put on the bus (the channel open, not listen-only)
    frames_to_host: int = 0
    frames_while_closed: int = 0  # from the simulator while the host had the channel closed
    channel_opens: int = 0  # times the host opened the channel (O or L on a closed channel)
    malformed_lines: int = 0  # answered with BEL: unknown command or bad syntax
    refused_commands: int = 0  # answered with BEL: well formed, not allowed now
    garbage_bytes: int = 0  # neither printable ASCII nor CR: dropped


class SlcanPty:
    """An SLCAN USB-CAN adapter on a pty; a `CanLink`.

    Frames from the host reach `on_frame` only while the host has the channel open (not in
    listen-only mode); frames from `send` reach the host only while it is open. When the host
    does not read, at most `out_cap` bytes of lines wait and the oldest are dropped, counted in
    `to_host_dropped` and flagged as a data overrun in `F`. Every frame line the host sends
    counts in `transmit_requests`, whether it went out or not (what a box that only listens
    must keep at 0). The adapter outlives the host: after
    the host dies the channel stays as it was, and the host's next open starts over with `C`,
    which also forgets the lines still waiting.
    """

    def __init__(
        self, on_frame: FrameSink, *, bitrate: int = 500_000, out_cap: int = OUT_CAP
    ) -> None:
        self.bitrate = bitrate
        self.host_bitrate: int | None = None
        self.mode = ChannelMode.CLOSED
        self.timestamps = False
        self.counts = SlcanStats()
        self._on_frame = on_frame
        self._out_cap = out_cap
        self._pty: Pty | None = None
        self._line = bytearray()
        self._overlong = False
        self._overruns_reported = 0
        self._commands: dict[str, Callable[[str], bytes]] = {
            "S": self._set_bitrate,
            "s": self._set_bit_timing,
            "O": lambda arg: self._open(arg, ChannelMode.OPEN),
            "L": lambda arg: self._open(arg, ChannelMode.LISTEN_ONLY),
            "C": self._close_channel,
            "V": lambda arg: self._report(arg, "V" + VERSION),
            "v": lambda arg: self._report(arg, "v" + VERSION),
            "N": lambda arg: self._report(arg, "N" + SERIAL_NUMBER),
            "F": self._status_flags,
            "Z": self._set_timestamps,
            "M": self._set_acceptance,
            "m": self._set_acceptance,
            **{letter: functools.partial(self._transmit, letter) for letter in FRAME_LAYOUTS},
            **dict.fromkeys("dDbBY", self._refuse_fd),
        }

    @property
    def path(self) -> str:
        if self._pty is None:
            raise RuntimeError("the SLCAN pty is not started")
        return self._pty.path

    @property
    def connect(self) -> dict[str, Any]:
        return {
            "interface": "slcan",
            "channel": self.path,
            "bitrate": self.bitrate,
            "options": {"sleep_after_open": 0},
        }

    async def start(self) -> None:
        self._pty = Pty(self._on_bytes, out_cap=self._out_cap)
        self._pty.start()

    async def close(self) -> None:
        if self._pty is not None:
            self._pty.close()
            self._pty = None

    def send(self, msg: can.Message) -> None:
        """A frame on the bus, to the host while it has the channel open; ValueError when the
        frame is not CAN 2.0 (FD, error frame, identifier out of range)."""
        if self.mode is ChannelMode.CLOSED or self._pty is None:
            self.counts.frames_while_closed += 1
            return
        timestamp_ms = int(time.monotonic() * 1000) if self.timestamps else None
        self._pty.write(format_frame(msg, timestamp_ms))
        self.counts.frames_to_host += 1

    @property
    def to_host_dropped(self) -> int:
        """Lines for the host dropped because it did not read them in time."""
        return self._pty.channel.dropped_chunks if self._pty is not None else 0

    def stats(self) -> dict[str, Any]:
        return {
            "connect": self.connect if self._pty is not None else None,
            "channel": self.mode.value,
            "host_bitrate": self.host_bitrate,
            "bitrate_mismatch": self.host_bitrate not in (None, self.bitrate),
            "timestamps": self.timestamps,
            "to_host_dropped": self.to_host_dropped,
            **asdict(self.counts),
        }

    def _on_bytes(self, data: bytes) -> None:
        self._line += data
        while (end := self._line.find(b"\r")) >= 0:
            raw = bytes(self._line[:end])
            del self._line[: end + 1]
            if self._overlong:
                self._overlong = False
                self._answer_malformed()
            else:
                self._handle_line(raw)
        if len(self._line) > LINE_MAX:
            self._overlong = True
            self._line.clear()

    def _handle_line(self, raw: bytes) -> None:
        text = raw.translate(None, NOT_PRINTABLE)
        self.counts.garbage_bytes += len(raw) - len(text)
        if text[:1] in FRAME_LETTERS:
            self.counts.transmit_requests += 1
        try:
            reply = self._execute(text.decode("ascii"))
        except SlcanError:
            self._answer_malformed()
            return
        except SlcanRefused:
            self.counts.refused_commands += 1
            reply = BELL
        self._reply(reply)

    def _answer_malformed(self) -> None:
        self.counts.malformed_lines += 1
        self._reply(BELL)

    def _reply(self, reply: bytes) -> None:
        if self._pty is not None:
            self._pty.write(reply)

    def _execute(self, line: str) -> bytes:
        if not line:
            return OK  # hosts send bare CRs to clear a half-typed command
        command = self._commands.get(line[0])
        if command is None:
            raise SlcanError(f"unknown command {line[0]!r}")
        return command(line[1:])

    def _require_closed(self) -> None:
        if self.mode is not ChannelMode.CLOSED:
            raise SlcanRefused("only while the channel is closed")

    def _set_bitrate(self, arg: str) -> bytes:
        if arg not in BITRATES:
            raise SlcanError(f"unknown bitrate code {arg!r}")
        self._require_closed()
        self.host_bitrate = BITRATES[arg]
        return OK

    def _set_bit_timing(self, arg: str) -> bytes:
        if len(arg) != 4 or not HEX_DIGITS.issuperset(arg):
            raise SlcanError(f"bad BTR0/BTR1 {arg!r}")
        try:
            timing = can.BitTiming.from_registers(
                f_clock=SJA1000_CLOCK_HZ, btr0=int(arg[:2], 16), btr1=int(arg[2:], 16)
            )
        except ValueError as exc:
            raise SlcanError(f"impossible bit timing {arg!r}") from exc
        self._require_closed()
        self.host_bitrate = timing.bitrate
        return OK

    def _open(self, arg: str, mode: ChannelMode) -> bytes:
        if arg:
            raise SlcanError(f"unexpected argument {arg!r}")
        if self.mode is ChannelMode.CLOSED:
            self.counts.channel_opens += 1
        elif self.mode is not mode:
            raise SlcanRefused("the channel is open in the other mode")
        self.mode = mode
        return OK

    def _close_channel(self, arg: str) -> bytes:
        if arg:
            raise SlcanError(f"unexpected argument {arg!r}")
        self.mode = ChannelMode.CLOSED
        if self._pty is not None:
            self._pty.channel.discard_pending()
        return OK

    def _report(self, arg: str, answer: str) -> bytes:
        if arg:
            raise SlcanError(f"unexpected argument {arg!r}")
        return answer.encode("ascii") + OK

    def _status_flags(self, arg: str) -> bytes:
        if arg:
            raise SlcanError(f"unexpected argument {arg!r}")
        if self.mode is ChannelMode.CLOSED:
            raise SlcanRefused("only while the channel is open")
        flags = 0
        if self.to_host_dropped > self._overruns_reported:
            flags |= STATUS_DATA_OVERRUN
            self._overruns_reported = self.to_host_dropped
        return f"F{flags:02X}".encode("ascii") + OK

    def _set_timestamps(self, arg: str) -> bytes:
        if arg not in ("0", "1"):
            raise SlcanError(f"bad timestamp switch {arg!r}")
        self._require_closed()
        self.timestamps = arg == "1"
        return OK

    def _set_acceptance(self, arg: str) -> bytes:
        if len(arg) != 8 or not HEX_DIGITS.issuperset(arg):
            raise SlcanError(f"bad acceptance register {arg!r}")
        self._require_closed()
        return OK  # accepted and not applied: every frame passes, as with the default mask

    def _transmit(self, letter: str, arg: str) -> bytes:
        msg = parse_frame(letter + arg)
        if self.mode is not ChannelMode.OPEN:
            raise SlcanRefused("frames go out only while the channel is open, not listen-only")
        self.counts.frames_from_host += 1
        self._on_frame(msg)
        return b"z\r" if letter in "tr" else b"Z\r"

    def _refuse_fd(self, arg: str) -> bytes:
        raise SlcanRefused("CAN FD is not supported")


class CanBusLink:
    """A CAN bus through python-can (`socketcan` on vcan0 or a real interface; `virtual` in
    tests); a `CanLink`. Received frames reach `on_frame` on the loop."""

    def __init__(
        self, on_frame: FrameSink, *, interface: str, channel: str, bitrate: int = 500_000
    ) -> None:
        self.interface = interface
        self.channel = channel
        self.bitrate = bitrate
        self.frames_from_bus = 0
        self.frames_to_bus = 0
        self.send_failures = 0
        self.last_error: str | None = None
        self._on_frame = on_frame
        self._bus: can.BusABC | None = None
        self._notifier: can.Notifier | None = None

    @property
    def connect(self) -> dict[str, Any]:
        return {
            "interface": self.interface,
            "channel": self.channel,
            "bitrate": self.bitrate,
            "options": {},
        }

    async def start(self) -> None:
        self._bus = can.Bus(interface=self.interface, channel=self.channel, bitrate=self.bitrate)
        self._notifier = can.Notifier(
            self._bus, [_LinkListener(self)], timeout=0.1, loop=asyncio.get_running_loop()
        )

    async def close(self) -> None:
        if self._notifier is not None:
            self._notifier.stop(timeout=1.0)
            self._notifier = None
        if self._bus is not None:
            self._bus.shutdown()
            self._bus = None

    def send(self, msg: can.Message) -> None:
        if self._bus is None:
            raise RuntimeError("the CAN bus is not started")
        try:
            self._bus.send(msg, timeout=0)
        except can.CanError as exc:
            self.send_failures += 1
            self.last_error = str(exc)
            return
        self.frames_to_bus += 1

    def stats(self) -> dict[str, Any]:
        return {
            "connect": self.connect,
            "frames_from_bus": self.frames_from_bus,
            "frames_to_bus": self.frames_to_bus,
            "send_failures": self.send_failures,
            "last_error": self.last_error,
        }

    def _received(self, msg: can.Message) -> None:
        self.frames_from_bus += 1
        self._on_frame(msg)


class _LinkListener(can.Listener):
    """Runs on the loop (the notifier is given it)."""

    def __init__(self, link: CanBusLink) -> None:
        self._link = link

    def on_message_received(self, msg: can.Message) -> None:
        self._link._received(msg)

    def on_error(self, exc: Exception) -> None:
        self._link.last_error = f"receive failed: {exc}"


def open_can_link(
    on_frame: FrameSink,
    *,
    interface: str | None = None,
    channel: str | None = None,
    bitrate: int = 500_000,
) -> CanLink:
    """The bus the vehicle simulator joins: `interface` on `channel`, else SLCAN on a pty."""
    if interface is None:
        return SlcanPty(on_frame, bitrate=bitrate)
    if not channel:
        raise ValueError(f"--can-interface {interface} needs --can-channel")
    return CanBusLink(on_frame, interface=interface, channel=channel, bitrate=bitrate)
