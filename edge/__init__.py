"""Fleet edge agent."""
