"""The soak: rentals, ejects and parking sessions back to back on a box of each kind for a
while, sampling the agent's RSS, open fds, threads and asyncio tasks; after a warm-up, none may
grow (RSS by its least-squares slope: less than 1 MiB an hour).

The RSS warm-up is long: the store reaches its steady size only once the replay cache's
housekeeping (every 10 min) has purged command ids kept since the start, and SQLite's page
cache (2 MiB) and WAL index grow with it. So the slope is taken after a third of the run and at
least 20 minutes (docs/reliability.md); a shorter run reports it without judging it. Open fds,
threads and tasks are judged after 30 s.

`python -m testbed.campaign.soak [--minutes 60]` (scripts/soak); `--minutes 2` is the short
version (the suite has none: docs/reliability.md)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from edge.identity import BoxKind
from testbed.campaign.box import CampaignBox
from testbed.campaign.findings import Findings
from testbed.campaign.scenarios import KINDS, in_parallel
from testbed.campaign.sessions import DRIVERS
from testbed.processes import REPO

MIB = 1024 * 1024
RSS_SLOPE_LIMIT = MIB  # bytes an hour
RSS_WARMUP_MIN_S = 1200.0  # two of the replay cache's purges (edge/agent.py REPLAY_PURGE_S)
COUNTS_WARMUP_S = 30.0
WINDOW_S = 600.0  # the slope is also reported per window, to show warm-up fading
TASKPROBE = REPO / "testbed" / "taskprobe"


@dataclass
class Sample:
    t: float
    rss: int
    fds: int
    threads: int
    tasks: int


@dataclass
class Figures:
    kind: str
    sessions: int = 0
    samples: list[Sample] = field(default_factory=list)

    def steady(self, warmup_s: float) -> list[Sample]:
        start = self.samples[0].t + warmup_s if self.samples else 0.0
        return [s for s in self.samples if s.t >= start]

    def rss_slope_per_hour(self, warmup_s: float) -> float:
        """Least squares over the samples after the warm-up, in bytes an hour."""
        return _slope(self.steady(warmup_s))

    def window_slope(self, start_s: float) -> float:
        """The slope over the samples from `start_s` to `start_s + WINDOW_S`."""
        t0 = self.samples[0].t if self.samples else 0.0
        return _slope([p for p in self.samples if start_s <= p.t - t0 < start_s + WINDOW_S])

    def growth(self, warmup_s: float, name: str) -> int:
        """The fewest of the last quarter less the fewest of the first (after warm-up): what
        is open for a moment (a command's task, a reconnect's socket) comes and goes, what
        leaks raises the floor."""
        points = self.steady(warmup_s)
        quarter = max(1, len(points) // 4)
        first = min(getattr(p, name) for p in points[:quarter])
        last = min(getattr(p, name) for p in points[-quarter:])
        return int(last - first)


def _slope(points: list[Sample]) -> float:
    """Least squares of RSS over time, in bytes an hour (NaN with fewer than 3 points)."""
    if len(points) < 3:
        return float("nan")
    n = len(points)
    mean_t = sum(p.t for p in points) / n
    mean_r = sum(p.rss for p in points) / n
    num = sum((p.t - mean_t) * (p.rss - mean_r) for p in points)
    den = sum((p.t - mean_t) ** 2 for p in points)
    return num / den * 3600 if den else 0.0


def sample(pid: int, stderr: list[str], t0: float) -> Sample:
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])
    probes = [line for line in stderr[-50:] if line.startswith("taskprobe ")]
    tasks = int(probes[-1].split()[1]) if probes else -1
    return Sample(
        time.monotonic() - t0,
        rss_kb * 1024,
        len(os.listdir(f"/proc/{pid}/fd")),
        len(os.listdir(f"/proc/{pid}/task")),
        tasks,
    )


def soak_box(
    root: Path,
    kind: BoxKind,
    duration_s: float,
    sample_s: float,
    findings: Findings,
    samples_csv: Path | None = None,
) -> Figures:
    env = {"PYTHONPATH": f"{TASKPROBE}{os.pathsep}{REPO}", "FLEET_TASKPROBE_S": str(sample_s)}
    figures = Figures(kind)
    box = CampaignBox(
        root / f"soak-{kind}", kind, f"soak-{kind}", findings, powercut=False, agent_env=env
    )
    stop = threading.Event()
    try:
        box.start_agent()
        box.telemetry()
        agent = box.rig.agent
        assert agent is not None
        t0 = time.monotonic()

        def sampler() -> None:
            while not stop.wait(sample_s):
                if agent.proc.poll() is None:
                    taken = sample(agent.proc.pid, agent.stderr, t0)
                    figures.samples.append(taken)
                    if samples_csv is not None:
                        with samples_csv.open("a") as out:
                            out.write(
                                f"{kind},{taken.t:.1f},{taken.rss},{taken.fds},"
                                f"{taken.threads},{taken.tasks},{figures.sessions}\n"
                            )

        thread = threading.Thread(target=sampler)
        thread.start()
        try:
            while time.monotonic() - t0 < duration_s:
                DRIVERS[kind](box, f"soak-{kind}-{figures.sessions}", {})
                figures.sessions += 1
        finally:
            stop.set()
            thread.join()
        findings.check("serving", agent.proc.poll() is None, f"soak {kind}: the agent exited")
    finally:
        box.close()
    return figures


def rss_warmup(duration_s: float) -> float:
    return max(RSS_WARMUP_MIN_S, duration_s / 3)


def judge(figures: Figures, duration_s: float, findings: Findings) -> str:
    warmup_s = rss_warmup(duration_s)
    judged = duration_s >= 2 * warmup_s
    slope = figures.rss_slope_per_hour(warmup_s) if judged else float("nan")
    if judged:
        findings.check(
            "soak",
            slope < RSS_SLOPE_LIMIT,
            f"{figures.kind}: RSS grows {slope / MIB:.2f} MiB an hour",
        )
    for name in ("fds", "threads", "tasks"):
        grew = figures.growth(COUNTS_WARMUP_S, name)
        findings.check("soak", grew <= 0, f"{figures.kind}: {name} grew by {grew}")
    steady = figures.steady(COUNTS_WARMUP_S)
    findings.count(f"soak sessions ({figures.kind})", figures.sessions)
    windows = ", ".join(
        f"{start // 60}-{(start + WINDOW_S) / 60:.0f} min {figures.window_slope(start) / MIB:+.2f}"
        for start in range(0, int(duration_s - WINDOW_S / 2), int(WINDOW_S))
    )
    verdict = (
        f"slope after {warmup_s / 60:.0f} min {slope / MIB:+.2f} MiB/h"
        if judged
        else f"slope not judged (a run of {duration_s / 60:.0f} min is shorter than twice the "
        f"{warmup_s / 60:.0f}-min warm-up)"
    )
    return (
        f"{figures.kind}: {figures.sessions} sessions; RSS {figures.samples[0].rss / MIB:.1f} -> "
        f"{figures.samples[-1].rss / MIB:.1f} MiB, {verdict}; per {WINDOW_S / 60:.0f} min "
        f"(MiB/h): {windows or '-'}; fds {steady[0].fds}->{steady[-1].fds}, threads "
        f"{steady[0].threads}->{steady[-1].threads}, tasks {steady[0].tasks}->{steady[-1].tasks}"
    )


def run_soak(
    root: Path, duration_s: float, findings: Findings, samples_csv: Path | None = None
) -> list[str]:
    sample_s = 2.0 if duration_s <= 300 else 10.0
    results: dict[str, Figures] = {}

    def one(kind: BoxKind) -> None:
        results[kind] = soak_box(root, kind, duration_s, sample_s, findings, samples_csv)

    in_parallel([lambda k=k: one(k) for k in KINDS], findings)  # type: ignore[misc]
    return [judge(results[k], duration_s, findings) for k in KINDS if k in results]


def judge_samples(path: Path, findings: Findings) -> list[str]:
    """The verdicts on the samples of a run (`--samples`), each kind's run as long as its
    samples go."""
    rows = [line.split(",") for line in path.read_text().splitlines() if line]
    lines = []
    for kind in KINDS:
        mine = [row for row in rows if row[0] == kind]
        if not mine:
            continue
        figures = Figures(kind, sessions=int(mine[-1][6]))
        figures.samples = [
            Sample(float(t), int(rss), int(fds), int(threads), int(tasks))
            for _, t, rss, fds, threads, tasks, _ in mine
        ]
        lines.append(judge(figures, figures.samples[-1].t, findings))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument(
        "--samples", type=Path, help="append every sample here (kind,t,rss,fds,threads,tasks,n)"
    )
    parser.add_argument(
        "--judge", type=Path, help="judge the samples a run appended to this file; run nothing"
    )
    args = parser.parse_args(argv)
    findings = Findings()
    if args.judge is not None:
        print("\n".join(judge_samples(args.judge, findings)))
        print(findings.report())
        return 0 if findings.passed else 1
    with tempfile.TemporaryDirectory(prefix="soak-") as root:
        lines = run_soak(Path(root), args.minutes * 60, findings, args.samples)
    print(f"soak, {args.minutes:g} min on each kind at once:")
    print("\n".join(lines))
    print(findings.report())
    return 0 if findings.passed else 1


if __name__ == "__main__":
    sys.exit(main())
