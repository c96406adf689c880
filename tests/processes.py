"""Test-side names for the shared process harness (testbed/processes.py)."""

from testbed.processes import AgentProcess, JsonLinesProcess, SimProcess, write_toml

__all__ = ["AgentProcess", "JsonLinesProcess", "SimProcess", "write_toml"]
