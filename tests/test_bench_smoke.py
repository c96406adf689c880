"""The benchmarks still run: each one, with a tiny workload, prints its RESULT line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.parametrize(
    ("script", "args", "result"),
    [
        (
            "bench_can_decode.py",
            ["--frames", "300", "--repeat", "2"],
            r"RESULT can_decode raw_fps=\d+ ours_fps=\d+ ratio=\d+\.\d\d",
        ),
        (
            "bench_command_latency.py",
            ["--commands", "6"],
            r"RESULT command_latency p50_ms=[\d.]+ p99_ms=[\d.]+ max_ms=[\d.]+",
        ),
        (
            "bench_cabinet.py",
            ["--quick"],
            r"RESULT cabinet poll_ratio=[\d.]+ eject_p50_ms=[\d.]+ eject_p99_ms=[\d.]+ "
            r"eject_max_ms=[\d.]+",
        ),
        (
            "bench_real_car.py",
            ["--seconds", "1", "--frames", "2000", "--repeat", "1"],
            r"RESULT real_car cpu_ours=[\d.]+ .* per_frame_ratio=[\d.]+",
        ),
        (
            "bench_outbox_mqtt.py",
            ["50"],
            r"RESULT outbox_mqtt v5_ratio=[\d.]+ v311_ratio=[\d.]+ tls_ratio=[\d.]+",
        ),
        (
            "bench_page_latency.py",
            ["--commands", "8", "--blocks", "2", "--clients", "2", "--interval", "0.05"],
            r"RESULT page_latency off_p50_ms=[\d.]+ page_p50_ms=[\d.]+ p50_diff_ms=[-+\d.]+ "
            r"p50_beyond_noise=(true|false) p99_diff_ms=[-+\d.]+ p99_beyond_noise=(true|false)",
        ),
    ],
    ids=["can_decode", "command_latency", "cabinet", "real_car", "outbox_mqtt", "page_latency"],
)
def test_bench_prints_its_result(tmp_path: Path, script: str, args: list[str], result: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(result, done.stdout), done.stdout
