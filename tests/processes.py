"""Test-side names for the shared process harness (sim/harness.py)."""

from sim.harness import AgentProcess, JsonLinesProcess, SimProcess, write_toml

__all__ = ["AgentProcess", "JsonLinesProcess", "SimProcess", "write_toml"]
