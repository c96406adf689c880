"""`Pty`: a pty pair; the host opens its slave end as a serial port, the simulator the master."""

from __future__ import annotations

import fcntl
import os
import struct
import termios
import tty

from .channel import OUT_CAP, BytesSink, FdChannel

# The simulator hands the host at most this many unread bytes; the rest waits in its own capped
# queue, where the oldest can be dropped whole. Kept below the kernel's 4 KiB line-discipline
# buffer, so the kernel rarely takes a write only in part (it still can: its buffers are filled
# by a worker that may lag; see `Pty` for what happens to the rest).
HOST_BACKLOG_MAX = 2048


class Pty:
    """A pty pair; the host opens `path` as a serial port, the simulator uses the master.

    The simulator keeps its own fd on the slave open for as long as it runs, so the master never
    sees EIO or a hangup when the host closes the port or is killed, and the host may open the
    port again any number of times. The simulator never reads that fd; it only asks it how much
    the host has left unread.

    The master is in packet mode, so it learns when the host flushes its input (pyserial does on
    every open): the rest of a half-written batch is then dropped, never sent as a headless tail.
    """

    def __init__(self, on_bytes: BytesSink, *, out_cap: int = OUT_CAP) -> None:
        self._on_bytes = on_bytes
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        fcntl.ioctl(self._master, termios.TIOCPKT, struct.pack("i", 1))
        self.path = os.ttyname(self._slave)
        self.host_flushes = 0
        self.channel = FdChannel(
            self._master,
            self._on_packet,
            out_cap=out_cap,
            room=self._host_room,
            read_before_resuming=True,
        )

    def start(self) -> None:
        self.channel.start()

    def write(self, data: bytes) -> None:
        """Queue `data` for the host; pieces longer than `HOST_BACKLOG_MAX` are split."""
        for start in range(0, len(data), HOST_BACKLOG_MAX):
            self.channel.write(data[start : start + HOST_BACKLOG_MAX])

    def close(self) -> None:
        self.channel.close()
        os.close(self._master)
        os.close(self._slave)

    def unread_by_host(self) -> int:
        (count,) = struct.unpack("i", fcntl.ioctl(self._slave, termios.FIONREAD, b"\0\0\0\0"))
        return int(count)

    def _host_room(self) -> int:
        return HOST_BACKLOG_MAX - self.unread_by_host()

    def _on_packet(self, packet: bytes) -> None:
        # Each read of a master in packet mode is one packet: a TIOCPKT_DATA byte and the data,
        # or one byte of TIOCPKT_* status flags.
        if packet[0] == termios.TIOCPKT_DATA:
            if len(packet) > 1:
                self._on_bytes(packet[1:])
        elif packet[0] & termios.TIOCPKT_FLUSHREAD:
            self.host_flushes += 1
            self.channel.abandon_unfinished()
