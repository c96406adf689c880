"""Configuration from the cloud (contract 1.1, `configure`): the remotely settable keys, their
checks, the atomic replace of the config file and the rollback when the box does not come
back. docs/remote-config.md is the operator's side."""
