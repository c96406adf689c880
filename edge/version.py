"""The agent's version: the installed distribution's, as in `edge-agent --version`."""

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "fleet-edge"


def agent_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0+unknown"
