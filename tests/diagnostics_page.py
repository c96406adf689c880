"""The installer's page on a rig: its [diagnostics] settings, its URL, a logged-in HTTP client.

The agent binds the page to a free loopback port (`port = 0`) and logs the URL it got
(`diagnostics.listening`); the tests read it from there.
"""

from __future__ import annotations

from typing import Any

from edge.diagnostics.password import hash_password
from testbed.rig import BoxRig

PASSWORD = "installer-secret-42"
PASSWORD_HASH = hash_password(PASSWORD)
UPDATE_S = 0.2


def diagnostics_settings(**overrides: Any) -> dict[str, Any]:
    return {
        "enabled": True,
        "host": "127.0.0.1",
        "port": 0,
        "password_hash": PASSWORD_HASH,
        "update_interval_s": UPDATE_S,
        **overrides,
    }


def page_url(rig: BoxRig) -> str:
    """The page's URL, as the running agent logged it."""
    assert rig.agent is not None
    line = rig.agent.wait_logged("diagnostics.listening", timeout=15)
    url: str = line["url"]
    return url
