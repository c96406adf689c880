"""edge.logs: under systemd (stdout is the JOURNAL_STREAM) each JSON line starts with its syslog
priority `<N>`, so journald stores the priority; anywhere else a line is exactly one JSON object.

The agent's logging is configured in a real child process whose stdout is a file: the file's
own device and inode stand in for the journal stream systemd would hand over.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from edge.logs import writes_to_journal

REPO = Path(__file__).resolve().parent.parent

CHILD = """
from edge.logs import configure, get_logger

configure("debug")
log = get_logger("test")
log.debug("test.debug", n=1)
log.info("test.info", text="a line\\nwith a newline")
log.warning("test.warning")
log.error("test.error")
log.critical("test.critical")
try:
    raise RuntimeError("boom")
except RuntimeError:
    log.exception("test.exception")
"""

EXPECTED = [  # (event, level, syslog priority)
    ("test.debug", "debug", 7),
    ("test.info", "info", 6),
    ("test.warning", "warning", 4),
    ("test.error", "error", 3),
    ("test.critical", "critical", 2),
    ("test.exception", "error", 3),
]


def run_child(stdout_path: Path, journal_stream: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    if journal_stream is not None:
        env["JOURNAL_STREAM"] = journal_stream
    with stdout_path.open("w") as stdout:
        if journal_stream == "same file":
            stat = os.fstat(stdout.fileno())
            env["JOURNAL_STREAM"] = f"{stat.st_dev}:{stat.st_ino}"
        subprocess.run(
            [sys.executable, "-c", CHILD],
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=env,
            cwd=REPO,
            check=True,
            timeout=30,
        )
    return stdout_path.read_text().splitlines()


def check_lines(lines: list[str], prefixed: bool) -> None:
    assert len(lines) == len(EXPECTED), lines
    records = []
    for line, (event, level, priority) in zip(lines, EXPECTED, strict=True):
        prefix = f"<{priority}>" if prefixed else ""
        assert line.startswith(prefix + "{"), line
        record = json.loads(line.removeprefix(prefix))
        assert (record["event"], record["level"], record["component"]) == (event, level, "test")
        records.append(record)
    assert records[1]["text"] == "a line\nwith a newline"
    assert "RuntimeError: boom" in records[-1]["exception"]


def test_journal_stream_lines_carry_the_syslog_priority(tmp_path: Path) -> None:
    check_lines(run_child(tmp_path / "out", "same file"), prefixed=True)


def test_without_journal_stream_each_line_is_one_json_object(tmp_path: Path) -> None:
    check_lines(run_child(tmp_path / "out", None), prefixed=False)


def test_journal_stream_of_another_file_leaves_lines_unprefixed(tmp_path: Path) -> None:
    other_path = tmp_path / "other"
    other_path.write_text("")
    other = other_path.stat()
    lines = run_child(tmp_path / "out", f"{other.st_dev}:{other.st_ino}")
    check_lines(lines, prefixed=False)


def test_writes_to_journal_matches_device_and_inode_only(tmp_path: Path) -> None:
    with (tmp_path / "f").open("w") as stream:
        stat = os.fstat(stream.fileno())
        assert writes_to_journal(stream, {"JOURNAL_STREAM": f"{stat.st_dev}:{stat.st_ino}"})
        for value in ("", "garbage", f"{stat.st_dev}", f"{stat.st_dev}:{stat.st_ino + 1}", ":"):
            assert not writes_to_journal(stream, {"JOURNAL_STREAM": value}), value
        assert not writes_to_journal(stream, {})


def test_a_stream_without_a_file_descriptor_is_not_the_journal() -> None:
    assert not writes_to_journal(io.StringIO(), {"JOURNAL_STREAM": "1:1"})
