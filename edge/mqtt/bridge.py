"""Drives one paho Client from the agent's asyncio loop, without paho's network thread.

paho's examples/loop_asyncio.py pattern (aiomqtt does the same): the socket sits in the
loop's selector, readable -> `loop_read()`, writable while paho has bytes queued ->
`loop_write()`, and `loop_misc()` once a second for keepalive.

paho has no non-blocking connect: DNS, the TCP connect, the TLS handshake and writing
CONNECT block (`connect_timeout` bounds the TCP and TLS parts). They run in a short-lived
thread. While it runs the loop leaves the client alone and the client has no socket
callbacks, so paho writes CONNECT itself; the socket joins the loop once the thread is done.
The only callback paho can call from that thread is `on_disconnect` (CONNECT could not be
written), so that one must not touch the loop.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Final, TypeVar

import paho.mqtt.client as mqtt

MISC_INTERVAL_S: Final = 1.0

T = TypeVar("T")


class PahoLoopBridge:
    """Attaches a paho client's socket to the running loop for as long as it is open."""

    def __init__(self, client: mqtt.Client, on_closed: Callable[[], None]) -> None:
        self._client = client
        self._on_closed = on_closed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd: int | None = None
        self._sock: Any = None
        self._misc: asyncio.TimerHandle | None = None
        self._connecting = False

    @property
    def attached(self) -> bool:
        return self._fd is not None

    async def open(self) -> None:
        """Connects (TCP, TLS, CONNECT written) and attaches the socket to the loop.

        Raises OSError (refused, unreachable, DNS, TLS) or ValueError (a certificate that
        does not name the host) when there is no connection. The CONNACK arrives later,
        through `on_connect`; `on_closed` is called when the socket closes.
        """
        if self.attached:
            raise RuntimeError("the MQTT socket is already open")
        self._loop = asyncio.get_running_loop()
        self._connecting = True
        try:
            await _in_thread(self._client.reconnect, on_abandoned=self._abandoned)
        except asyncio.CancelledError:
            raise  # the thread still owns the client, until `_abandoned`
        except BaseException:
            self._connecting = False
            raise
        self._connecting = False
        sock = self._client.socket()
        if sock is None:
            raise ConnectionError("the connection closed while CONNECT was being written")
        self._attach(sock)

    def abort(self) -> None:
        """Drops the connection without DISCONNECT (the broker then publishes the will).

        Shuts the socket down and lets paho read the end of stream, so paho closes it
        through its own path and stays consistent for the next `reconnect()`. While the
        connect thread runs the client is its own; the thread's result is dropped later.
        """
        if self._connecting:
            return
        sock = self._client.socket()
        if sock is None:
            return
        if isinstance(sock, socket.socket):  # paho's other SocketLike is its websocket wrapper
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._client.loop_read()
        if self.attached:  # paho did not close it: never leave a dead fd in the selector
            self._detach()
            sock.close()

    def _abandoned(self) -> None:
        """The connect thread finished after `open()` was cancelled: drop what it opened."""
        self._connecting = False
        self.abort()

    def _attach(self, sock: Any) -> None:
        assert self._loop is not None
        self._sock = sock
        self._fd = sock.fileno()
        self._client.on_socket_close = self._socket_closed
        self._client.on_socket_register_write = self._register_write
        self._client.on_socket_unregister_write = self._unregister_write
        self._loop.add_reader(self._fd, self._readable)
        if self._client.want_write():
            self._loop.add_writer(self._fd, self._writable)
        self._misc = self._loop.call_later(MISC_INTERVAL_S, self._tick)

    def _detach(self) -> None:
        assert self._loop is not None
        assert self._fd is not None
        self._loop.remove_reader(self._fd)
        self._loop.remove_writer(self._fd)
        if self._misc is not None:
            self._misc.cancel()
            self._misc = None
        self._client.on_socket_close = None
        self._client.on_socket_register_write = None
        self._client.on_socket_unregister_write = None
        self._fd = None
        self._sock = None

    def _readable(self) -> None:
        self._client.loop_read()
        # TLS decrypts whole records: bytes paho has not read yet may sit in the SSL object
        # while the fd stays quiet, so read until the SSL object is empty too.
        while isinstance(self._sock, ssl.SSLSocket) and self._sock.pending() > 0:
            self._client.loop_read()

    def _writable(self) -> None:
        self._client.loop_write()

    def _tick(self) -> None:
        self._misc = None
        self._client.loop_misc()
        if self.attached:
            assert self._loop is not None
            self._misc = self._loop.call_later(MISC_INTERVAL_S, self._tick)

    def _socket_closed(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        if self.attached:
            self._detach()
            self._on_closed()

    def _register_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        if self._loop is not None and self._fd is not None:
            self._loop.add_writer(self._fd, self._writable)

    def _unregister_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        if self._loop is not None and self._fd is not None:
            self._loop.remove_writer(self._fd)


async def _in_thread(call: Callable[[], T], on_abandoned: Callable[[], None]) -> T:
    """`call()` in a thread of its own, which ends with the call (no pool is left behind).

    If the awaiting task is cancelled the thread still runs to its end (a blocking connect
    cannot be interrupted); `on_abandoned` is then called on the loop, to clean up.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if done.cancelled():
            on_abandoned()
        elif error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)  # type: ignore[arg-type]

    def target() -> None:
        result: T | None = None
        error: BaseException | None = None
        try:
            result = call()
        except BaseException as exc:  # handed to the awaiting task, raised there
            error = exc
        with suppress(RuntimeError):  # the loop closed meanwhile: nobody is left to tell
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=target, name="mqtt-connect", daemon=True).start()
    return await done
