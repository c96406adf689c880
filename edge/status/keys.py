"""The store's state keys behind `edge-agent status`, besides the boxes' own snapshots."""

from typing import Final

AGENT_STATE_KEY: Final = "agent"  # this run: pid, version, started/ready/heartbeat times
LINK_STATE_KEY: Final = "mqtt"  # connected or not, since when
FAULT_STATE_KEY: Final = "last_fault"  # the last warning or error logged
