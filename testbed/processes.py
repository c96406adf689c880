"""Real processes for the demo and the tests: simulators and agents, driven and watched
through their JSON lines."""

from __future__ import annotations

import contextlib
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
from typing import IO, Any

from testbed.waiting import wait_until

REPO = Path(__file__).resolve().parent.parent
JsonLine = dict[str, Any]  # one line a process printed, parsed


class JsonLinesProcess:
    """A child process whose stdout is JSON lines; every line is kept, in order."""

    def __init__(
        self,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        stdin: bool = False,
        echo: Callable[[JsonLine], None] | None = None,
    ) -> None:
        self.argv = argv
        self.proc = subprocess.Popen(
            argv,
            cwd=REPO,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,
        )
        self._events: queue.Queue[JsonLine] = queue.Queue()
        self.raw: list[str] = []
        self.seen: list[JsonLine] = []
        self.stderr: list[str] = []
        self._echo = echo
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.raw.append(line)
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = {"event": "_unparsed", "line": line}
            if not isinstance(event, dict):
                event = {"event": "_unparsed", "line": line}
            if self._echo is not None:
                self._echo(event)
            self._events.put(event)
        self._events.put({"event": "_eof"})

    def _read_stderr(self) -> None:
        stream: IO[str] | None = self.proc.stderr
        assert stream is not None
        for line in stream:
            self.stderr.append(line)

    def wait_for(self, match: Callable[[JsonLine], bool], timeout: float = 10.0) -> JsonLine:
        """The next line (from now on) that matches; every line read is kept in `seen`."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"{self.argv[2:4]}: no matching line in {timeout}s; last lines: "
                    f"{self.raw[-8:]} stderr: {self.stderr[-8:]}"
                )
            try:
                event = self._events.get(timeout=left)
            except queue.Empty:
                continue
            if event["event"] == "_eof":
                self._events.put(event)
                self.proc.wait(5)
                raise EOFError(
                    f"{self.argv[2:4]} exited {self.proc.returncode}; last lines: "
                    f"{self.raw[-8:]} stderr: {''.join(self.stderr[-20:])}"
                )
            self.seen.append(event)
            if match(event):
                return event

    def logged(self, event: str | None = None, since: int = 0, **fields: Any) -> list[JsonLine]:
        """Every JSON line printed so far from `raw` index `since` on (only those named
        `event`, with `fields`), waited for or not."""
        lines = []
        for raw in self.raw[since:]:
            with contextlib.suppress(json.JSONDecodeError):
                line = json.loads(raw)
                if (
                    isinstance(line, dict)
                    and (event is None or line.get("event") == event)
                    and all(line.get(k) == v for k, v in fields.items())
                ):
                    lines.append(line)
        return lines

    def wait_logged(
        self, event: str, /, since: int = 0, timeout: float = 10.0, **fields: Any
    ) -> JsonLine:
        """The first line from `raw` index `since` on that is `event` with `fields`, waiting
        for it to be printed; unlike `wait_for`, it also finds lines already read."""
        found = wait_until(
            lambda: self.logged(event, since, **fields),
            timeout,
            lambda: f"{self.argv[2:4]}: no line {event} {fields}; last lines: {self.raw[-8:]}",
        )
        return found[0]

    def wait_event(self, event: str, /, timeout: float = 10.0, **fields: Any) -> JsonLine:
        return self.wait_for(
            lambda e: e.get("event") == event and all(e.get(k) == v for k, v in fields.items()),
            timeout,
        )

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then SIGKILL after `timeout`; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.wait()

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def __enter__(self) -> JsonLinesProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SimProcess(JsonLinesProcess):
    """`edge-sim KIND ARGS`; `connect` is its sim.ready connection."""

    def __init__(
        self,
        kind: str,
        *args: str,
        env: dict[str, str] | None = None,
        echo: Callable[[JsonLine], None] | None = None,
    ) -> None:
        super().__init__(
            [sys.executable, "-m", "sim.cli", kind, *args], env=env, stdin=True, echo=echo
        )
        try:
            ready = self.wait_event("sim.ready", timeout=20)
        except (TimeoutError, EOFError):
            self.kill()
            raise
        self.connect: dict[str, Any] = ready["connect"]

    def send(self, **command: Any) -> None:
        self.send_raw(json.dumps(command) + "\n")

    def send_raw(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line)
        self.proc.stdin.flush()

    def state(self) -> JsonLine:
        self.send(op="state")
        return self.wait_event("state")


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def write_toml(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    """A TOML file of `{"section.sub": {key: value}}`."""
    lines: list[str] = []
    for section, keys in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in keys.items())
        lines.append("")
    path.write_text("\n".join(lines))
    return path


class AgentProcess(JsonLinesProcess):
    """`edge-agent run --config FILE`, waiting for `agent.ready` unless told not to."""

    def __init__(
        self,
        config_path: Path,
        *,
        wait_ready: bool = True,
        timeout: float = 30.0,
        echo: Callable[[JsonLine], None] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            [sys.executable, "-m", "edge.cli", "run", "--config", str(config_path)],
            env=env,
            echo=echo,
        )
        if wait_ready:
            try:
                self.wait_event("agent.ready", timeout=timeout)
            except (TimeoutError, EOFError):
                self.kill()
                raise
