"""`edge-sim KIND ...`: starts one simulator (contract section 8)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys

KINDS = {
    "vehicle": "the car's body controller and instrument cluster on a CAN bus",
    "cabinet": "the slot boards of a sharing cabinet on a serial line",
    "parking": "a parking ground lock on a serial line",
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help") or args[0] not in KINDS:
        parser = argparse.ArgumentParser(prog="edge-sim", description="Hardware simulators.")
        sub = parser.add_subparsers(dest="kind", required=True)
        for kind, help_text in KINDS.items():
            sub.add_parser(kind, help=help_text, add_help=False)
        parser.parse_args(args)
        return 2
    module = importlib.import_module(f"sim.{args[0]}")
    simulator = module.from_args(args[1:])
    return asyncio.run(_serve(simulator))


async def _serve(simulator: object) -> int:
    from sim.control import Simulator, serve

    assert isinstance(simulator, Simulator)
    return await serve(simulator)


if __name__ == "__main__":
    sys.exit(main())
