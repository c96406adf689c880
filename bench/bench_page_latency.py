"""Command latency with the installer's page open and streaming vs without, in one run.

    .venv/bin/python bench/bench_page_latency.py [--commands 800] [--blocks 8] [--clients 3]
                                                 [--interval 1.0] [--dir DIR]

The command path of bench_command_latency.py (a real VehicleBox on a python-can virtual bus
with a fake car that confirms every command, the real CommandGate and CommandVerifier, a real
store; a sample runs from `gate.handle(raw)` to the command's CAN frame written), in blocks
that alternate, ABBA, between:

- **off**: no page, as with `[diagnostics] enabled = false`;
- **page**: the agent's page as `start_diagnostics` builds it (aiohttp, LiveSource,
  InstallerGrants) running on the same loop, and `--clients` browsers (bench/page_streams.py,
  another process), each logged in with its own session and holding /api/stream open, reading
  one state every `--interval` seconds (the config's `update_interval_s`, default 1.0).

Each page block starts a fresh server and its clients before its first command and stops them
after its last. Noise: the spread of the per-block medians within each condition, and a
bootstrap 95 % interval of the difference of the medians. The page moves latency beyond noise
only when that interval excludes 0 and the difference exceeds the within-condition spread.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

from bench_can_decode import quiet_agent_logging  # noqa: E402
from bench_command_latency import RunningCar, Sample, percentile, running_car  # noqa: E402

from edge.config import DiagnosticsConfig  # noqa: E402
from edge.diagnostics.launch import start_diagnostics  # noqa: E402
from edge.diagnostics.password import hash_password  # noqa: E402
from edge.diagnostics.server import DiagnosticsServer  # noqa: E402
from edge.mqtt.link import MqttLink  # noqa: E402
from sim.backend import Backend  # noqa: E402

PASSWORD = "bench-page-password"
CLIENTS = BENCH / "page_streams.py"
BOOTSTRAP = 2000
CONDITIONS = ("off", "page")


@dataclass
class PageLoad:
    """What the page did in one block: states sent to each client, the loop's time gathering."""

    gathers: list[float] = field(default_factory=list)  # seconds per gather + JSON dump
    states: list[int] = field(default_factory=list)
    seconds: float = 0.0


@contextlib.asynccontextmanager
async def page_open(
    car: RunningCar, password_hash: str, interval: float, clients: int
) -> AsyncIterator[PageLoad]:
    """The agent's page on this loop with `clients` browsers streaming, for one block."""
    services = car.box.services
    config = services.config
    settings = DiagnosticsConfig(
        enabled=True,
        port=0,
        password_hash=password_hash,
        update_interval_s=interval,
        login_attempts_per_minute=1000,
    )
    link = MqttLink(
        config.mqtt,
        device_id=config.device.id,
        kind=config.device.kind,
        version="bench",
        store=services.store,
        on_command=car.gate.handle,
    )
    page = start_diagnostics(
        config.model_copy(update={"diagnostics": settings}),
        car.box,
        services.store,
        services.clock,
        link,
        lambda: None,
    )
    assert isinstance(page, DiagnosticsServer)
    load = PageLoad()
    page._gather_json = _timed(page._gather_json, load.gathers)  # type: ignore[method-assign]
    ready = asyncio.Event()
    ready.set()
    server = asyncio.create_task(page.run(ready))
    browsers = None
    try:
        while page.url is None:
            if server.done():
                server.result()
            await asyncio.sleep(0.01)
        browsers = await asyncio.create_subprocess_exec(
            sys.executable,
            str(CLIENTS),
            page.url,
            PASSWORD,
            str(clients),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert browsers.stdin is not None
        assert browsers.stdout is not None
        if json.loads(await browsers.stdout.readline() or b"{}").get("ready") != clients:
            raise RuntimeError("the page's clients did not get their first state")
        load.gathers.clear()
        started = time.perf_counter()
        yield load
        load.seconds = time.perf_counter() - started
        browsers.stdin.close()
        load.states = json.loads(await browsers.stdout.readline())["states"]
        await browsers.wait()
    finally:
        if browsers is not None and browsers.returncode is None:
            browsers.kill()
            await browsers.wait()
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)


def _timed(function: Callable[[], str | None], into: list[float]) -> Callable[[], str | None]:
    def timed() -> str | None:
        started = time.perf_counter()
        try:
            return function()
        finally:
            into.append(time.perf_counter() - started)

    return timed


@dataclass
class Block:
    condition: str
    samples: list[Sample]
    load: PageLoad | None = None

    def totals_ms(self) -> list[float]:
        return sorted(sample.total * 1e3 for sample in self.samples)


async def measure(
    workdir: Path, commands: int, blocks: int, clients: int, interval: float
) -> list[Block]:
    password_hash = hash_password(PASSWORD)
    order = [CONDITIONS[(n + 1) // 2 % 2] for n in range(blocks)]  # off page page off ...
    per_block = max(1, commands // blocks)
    done: list[Block] = []
    async with running_car(workdir, Backend()) as car:
        for condition in order:
            if condition == "off":
                done.append(Block("off", [await car.command() for _ in range(per_block)]))
                continue
            async with page_open(car, password_hash, interval, clients) as load:
                samples = [await car.command() for _ in range(per_block)]
            done.append(Block("page", samples, load))
    return done


Statistic = Callable[[list[float]], float]
STATISTICS: dict[str, Statistic] = {
    "p50": statistics.median,
    "p99": lambda values: percentile(sorted(values), 0.99),
}


def bootstrap_difference(
    a: list[float], b: list[float], statistic: Statistic
) -> tuple[float, float]:
    """95 % interval of statistic(b) - statistic(a), resampling each with replacement."""
    rng = random.Random(16)
    differences = sorted(
        statistic(rng.choices(b, k=len(b))) - statistic(rng.choices(a, k=len(a)))
        for _ in range(BOOTSTRAP)
    )
    return differences[int(0.025 * BOOTSTRAP)], differences[int(0.975 * BOOTSTRAP) - 1]


def report(blocks: list[Block], clients: int, interval: float, workdir: Path) -> None:
    per_block = len(blocks[0].samples)
    print(
        f"{len(blocks)} blocks of {per_block} commands (unlock/lock alternating), "
        f"{' '.join(b.condition for b in blocks)}; page: {clients} logged-in clients streaming, "
        f"update_interval_s {interval}; store in {workdir}, python-can virtual bus"
    )
    print("handle() -> command frame written, ms:")
    pooled: dict[str, list[float]] = {}
    medians: dict[str, list[float]] = {}
    for condition in CONDITIONS:
        ours = [b for b in blocks if b.condition == condition]
        pooled[condition] = sorted(v for b in ours for v in b.totals_ms())
        medians[condition] = [statistics.median(b.totals_ms()) for b in ours]
        p99s = [percentile(b.totals_ms(), 0.99) for b in ours]
        values = pooled[condition]
        print(
            f"  {condition:<4}  p50 {statistics.median(values):.3f}"
            f"  p90 {percentile(values, 0.9):.3f}  p99 {percentile(values, 0.99):.3f}"
            f"  max {values[-1]:.3f}"
            f"  mean {statistics.fmean(values):.3f}   block p50s: "
            + " ".join(f"{m:.3f}" for m in medians[condition])
            + "   block p99s: "
            + " ".join(f"{m:.2f}" for m in p99s)
        )
    whole = {
        c: sorted(
            (s.finished - s.started) * 1e3 for b in blocks if b.condition == c for s in b.samples
        )
        for c in CONDITIONS
    }
    print(
        "whole operation (both confirmations, ok reply committed), ms: "
        + ", ".join(
            f"{c} p50 {statistics.median(whole[c]):.2f} p99 {percentile(whole[c], 0.99):.2f}"
            for c in CONDITIONS
        )
    )
    loads = [b.load for b in blocks if b.load is not None]
    gathers = sorted(g * 1e3 for load in loads for g in load.gathers)
    seconds = sum(load.seconds for load in loads)
    states = sum(sum(load.states) for load in loads)
    if gathers:
        print(
            f"the page's work on the loop: {len(gathers)} gathers in {seconds:.1f} s, "
            f"p50 {statistics.median(gathers):.3f} ms, max {gathers[-1]:.3f} ms "
            f"({sum(gathers) / seconds / 10:.3f} % of the loop); {states} states streamed"
        )
    off, page = pooled["off"], pooled["page"]
    verdicts = []
    for name, statistic in STATISTICS.items():
        difference = statistic(page) - statistic(off)
        low, high = bootstrap_difference(off, page, statistic)
        per_block = {
            c: [statistic(b.totals_ms()) for b in blocks if b.condition == c] for c in CONDITIONS
        }
        spread = max(max(values) - min(values) for values in per_block.values())
        beyond = (low > 0 or high < 0) and abs(difference) > spread
        verdicts.append(
            f"{name}_diff_ms={difference:+.3f} {name}_beyond_noise={str(beyond).lower()}"
        )
        print(
            f"page - off {name}: {difference:+.3f} ms (95 % interval {low:+.3f} .. {high:+.3f}); "
            f"spread of the block {name}s within a condition {spread:.3f} ms: "
            f"{'BEYOND noise' if beyond else 'within noise'}"
        )
    print(
        f"RESULT page_latency off_p50_ms={statistics.median(off):.3f} "
        f"page_p50_ms={statistics.median(page):.3f} " + " ".join(verdicts)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=800, help="commands timed, in all")
    parser.add_argument("--blocks", type=int, default=8, help="blocks, alternating ABBA")
    parser.add_argument("--clients", type=int, default=3, help="browsers streaming the page")
    parser.add_argument("--interval", type=float, default=1.0, help="update_interval_s")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the store file")
    args = parser.parse_args()
    if args.blocks < 2:
        parser.error("--blocks: at least 2, one of each condition")
    quiet_agent_logging()
    with tempfile.TemporaryDirectory(prefix="bench-page-", dir=args.dir) as tmp:
        blocks = asyncio.run(
            measure(Path(tmp), args.commands, args.blocks, args.clients, args.interval)
        )
    report(blocks, args.clients, args.interval, args.dir or Path(tempfile.gettempdir()))


if __name__ == "__main__":
    main()
