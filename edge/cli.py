"""`edge-agent`: the agent's command line (contract section 6, and the operator's commands)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge.config import AgentConfig, ConfigError, load_config, profile_notes, summary
from edge.store import StoreError
from edge.version import agent_version

EXIT_CONFIG = 2
EXIT_STORE = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-agent", description="Fleet edge agent.")
    parser.add_argument("--version", action="version", version=f"edge-agent {agent_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the agent until SIGTERM or SIGINT")
    run.add_argument("--config", required=True, type=Path, metavar="FILE")
    check = sub.add_parser("check-config", help="check a config file and exit")
    check.add_argument("file", type=Path, metavar="FILE")
    status = sub.add_parser(
        "status",
        help="show the box as its store shows it (safe while the agent runs); exit 0 when"
        " the agent runs and is ready, 3 when not, 1 when the store cannot be read",
    )
    status.add_argument("--config", required=True, type=Path, metavar="FILE")
    status.add_argument("--json", action="store_true", help="one JSON object")
    outbox = sub.add_parser("outbox", help="list what waits for the broker, oldest first")
    outbox.add_argument("--config", required=True, type=Path, metavar="FILE")
    outbox.add_argument("--limit", type=int, default=100, metavar="N", help="default 100")
    outbox.add_argument("--json", action="store_true", help="one JSON object")
    sub.add_parser(
        "hash-password",
        help="read a password for the installer's page (twice on a terminal, else one line"
        " of stdin) and print the hash for [diagnostics] password_hash",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "hash-password":
        from edge.diagnostics.password_prompt import hash_password_command

        return hash_password_command()
    path: Path = args.file if args.command == "check-config" else args.config
    try:
        config = load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "check-config":
        print(summary(config))
        for note in profile_notes(config):
            print(note, file=sys.stderr)
        return 0
    if args.command == "run":
        from edge.agent import run_agent

        return run_agent(config, path)
    try:
        return _report(args, config)
    except StoreError as exc:
        print(f"edge-agent {args.command}: {exc}", file=sys.stderr)
        return EXIT_STORE


def _report(args: argparse.Namespace, config: AgentConfig) -> int:
    # Run as root (sudo), SQLite gives the -wal and -shm files it creates the store's owner,
    # so the agent can still open its store afterwards.
    from edge.status.outbox_listing import format_outbox, list_outbox
    from edge.status.report import exit_code, format_status, gather_status

    if args.command == "status":
        status = gather_status(config)
        shown = json.dumps(status.as_json(), ensure_ascii=False)
        print(shown if args.json else format_status(status))
        return exit_code(status)
    depth, items = list_outbox(config, max(args.limit, 0))
    if args.json:
        listed = [item.as_json() for item in items]
        print(json.dumps({"depth": depth, "items": listed}, ensure_ascii=False))
    else:
        print(format_outbox(depth, items))
    return 0


if __name__ == "__main__":
    sys.exit(main())
