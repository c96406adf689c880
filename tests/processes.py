"""Real processes for tests: a simulator driven over its stdin/stdout JSON lines."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _reader(stream: Any, lines: queue.Queue[dict[str, Any]], raw: list[str]) -> None:
    for line in stream:
        raw.append(line)
        try:
            lines.put(json.loads(line))
        except json.JSONDecodeError:
            lines.put({"event": "_unparsed", "line": line})
    lines.put({"event": "_eof"})


class SimProcess:
    """`edge-sim KIND ARGS` as a process; `connect` is its sim.ready connection."""

    def __init__(self, kind: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sim.cli", kind, *args],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env={**os.environ, **(env or {})},
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.raw: list[str] = []
        self.seen: list[dict[str, Any]] = []
        threading.Thread(
            target=_reader, args=(self.proc.stdout, self.events, self.raw), daemon=True
        ).start()
        ready = self.wait_for(lambda e: e["event"] == "sim.ready", timeout=15)
        self.connect: dict[str, Any] = ready["connect"]

    def send(self, **command: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def send_raw(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line)
        self.proc.stdin.flush()

    def wait_for(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = 10.0
    ) -> dict[str, Any]:
        """The next event (from now on) that matches; every event read is kept in `seen`."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                stderr = self.proc.stderr.read() if self.proc.poll() is not None else ""
                raise TimeoutError(f"no matching event; last lines: {self.raw[-5:]} {stderr}")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(event)
            if event["event"] == "_eof":
                self.events.put(event)
                raise EOFError(f"simulator exited; last lines: {self.raw[-5:]}")
            if match(event):
                return event

    def state(self) -> dict[str, Any]:
        self.send(op="state")
        return self.wait_for(lambda e: e["event"] == "state")

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
