"""The installer's page: the box's live state in a browser, served by the agent itself.

Off unless `[diagnostics] enabled`; on loopback by default (reach it through an SSH tunnel,
docs/diagnostics.md). Logged in with a password whose scrypt hash is in the config
(`password`); every page and JSON endpoint sits behind that login (`server`, `access`).
Nothing on the page acts on the hardware by itself: an installer grant, a command envelope
signed by the backend, goes through the same verifier and command gate as every command
(`grants`). What the page shows is gathered from the running agent (`live`).
"""
