"""`python -m testbed.campaign [--all | --powercut --sigkill --outage --disk --clock]
[--seed N] [--short] [--workdir DIR]`: runs the scenarios, prints the figures and every pass
criterion, exits 0 only when all are met. The seed is printed first; the same seed replays the
same faults at the same points."""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from testbed.campaign.findings import Findings
from testbed.campaign.scenarios import FULL, SCENARIOS, SHORT, Run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/campaign", description=__doc__)
    parser.add_argument("--all", action="store_true", help="every scenario")
    for name in SCENARIOS:
        parser.add_argument(f"--{name}", action="store_true", help=f"the {name} scenario")
    parser.add_argument("--seed", type=int, default=None, help="replays a run (default: random)")
    parser.add_argument("--short", action="store_true", help="the suite's small sizes")
    parser.add_argument("--workdir", type=Path, default=None, help="kept afterwards if given")
    args = parser.parse_args(argv)
    if args.workdir is not None and args.workdir.exists() and any(args.workdir.iterdir()):
        parser.error(f"--workdir {args.workdir} is not empty (a stale store would be reused)")
    chosen = [name for name in SCENARIOS if args.all or getattr(args, name)]
    if not chosen:
        parser.error("name a scenario or --all")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    command = f"scripts/campaign {' '.join('--' + n for n in chosen)} --seed {seed}"
    command += " --short" if args.short else ""
    print(f"seed {seed}  (replay: {command})", flush=True)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="campaign-"))
    findings = Findings()
    run = Run(root, seed, findings)
    sizes = SHORT if args.short else FULL
    began = time.monotonic()
    # The outage mostly waits: it runs beside the others.
    background = [n for n in chosen if n == "outage"]
    threads = [
        threading.Thread(target=_run_one, args=(run, name, sizes, findings)) for name in background
    ]
    for thread in threads:
        thread.start()
    for name in chosen:
        if name not in background:
            _run_one(run, name, sizes, findings)
    for thread in threads:
        thread.join()
    minutes = (time.monotonic() - began) / 60
    print(
        f"\n{'=' * 72}\ncampaign {'(short) ' if args.short else ''}seed {seed}, "
        f"{', '.join(chosen)}: {minutes:.1f} min"
    )
    print(findings.report())
    print("ALL PASS CRITERIA MET" if findings.passed else "SOME PASS CRITERIA FAILED")
    print(f"replay: {command}")
    if args.workdir is None and findings.passed:
        shutil.rmtree(root, ignore_errors=True)
    elif not findings.passed:
        print(f"work directory kept: {root}")
    return 0 if findings.passed else 1


def _run_one(run: Run, name: str, sizes: dict, findings: Findings) -> None:  # type: ignore[type-arg]
    began = time.monotonic()
    print(f"-- {name}: {sizes[name]}", flush=True)
    try:
        SCENARIOS[name](run, sizes[name])
    except Exception as exc:  # reported as a failure with the rest
        findings.check("serving", False, f"{name}: harness {type(exc).__name__}: {exc!s:.500}")
    print(f"-- {name} done in {time.monotonic() - began:.0f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
