"""structlog set up for the agent: one JSON object a line on stdout, stable event names.

The event names and what each means are listed in docs/logs.md.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TextIO

import structlog
from structlog.typing import EventDict, WrappedLogger

from edge.faults import FAULTS

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

# sd-daemon(3): the "<N>" a line written to the journal's stdout stream may start with.
# journald stores the line at that priority and strips the prefix (SyslogLevelPrefix=,
# on by default); `journalctl -p warning` then finds warnings and worse.
SYSLOG_PRIORITIES = {
    "debug": 7,
    "info": 6,
    "warning": 4,
    "warn": 4,
    "error": 3,
    "exception": 3,
    "critical": 2,
    "fatal": 2,
}
DEFAULT_PRIORITY = SYSLOG_PRIORITIES["info"]


def writes_to_journal(stream: TextIO, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether `stream` is the journal stream systemd handed the service.

    systemd sets JOURNAL_STREAM to "DEVICE:INODE" (decimal) of the stream it connected
    stdout/stderr to; a stream with the same numbers is that one, anything else (a pipe, a
    file, a terminal, stdout redirected by a wrapper) is not.
    """
    device, _, inode = environ.get("JOURNAL_STREAM", "").partition(":")
    try:
        stat = os.fstat(stream.fileno())
        return (stat.st_dev, stat.st_ino) == (int(device), int(inode))
    except (OSError, ValueError):  # no such stream, no fileno (io.UnsupportedOperation), no env
        return False


class JsonLineRenderer:
    """Renders an event dict as one JSON object, prefixed by its syslog priority `<N>` when
    the line goes to the journal."""

    def __init__(self, *, journal: bool) -> None:
        self._journal = journal
        self._json = structlog.processors.JSONRenderer(sort_keys=False)

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> str:
        rendered = self._json(logger, method_name, event_dict)
        line = rendered.decode() if isinstance(rendered, bytes) else rendered
        if not self._journal:
            return line
        priority = SYSLOG_PRIORITIES.get(method_name, DEFAULT_PRIORITY)
        return f"<{priority}>{line}"


def configure(level: str = "info", *, journal: bool | None = None) -> None:
    """Log at `level` and above to stdout, remembering the last fault for `edge-agent status`
    (edge/faults.py). `journal`: prefix each line with its syslog priority; by default exactly
    when stdout is the journal stream (`writes_to_journal`)."""
    if journal is None:
        journal = writes_to_journal(sys.stdout)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
            FAULTS,
            structlog.processors.format_exc_info,
            JsonLineRenderer(journal=journal),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )


def get_logger(component: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(component=component)
    return logger


__all__ = ["JsonLineRenderer", "configure", "get_logger", "writes_to_journal"]
