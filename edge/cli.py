"""`edge-agent`: the agent's command line (contract section 6)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.config import ConfigError, load_config, summary


def _parser() -> argparse.ArgumentParser:
    from edge.agent import agent_version

    parser = argparse.ArgumentParser(prog="edge-agent", description="Fleet edge agent.")
    parser.add_argument("--version", action="version", version=f"edge-agent {agent_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the agent until SIGTERM or SIGINT")
    run.add_argument("--config", required=True, type=Path, metavar="FILE")
    check = sub.add_parser("check-config", help="check a config file and exit")
    check.add_argument("file", type=Path, metavar="FILE")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    path: Path = args.config if args.command == "run" else args.file
    try:
        config = load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    if args.command == "check-config":
        print(summary(config))
        return 0
    from edge.agent import run_agent

    return run_agent(config)


if __name__ == "__main__":
    sys.exit(main())
