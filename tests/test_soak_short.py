"""The soak's short version (issue #12, docs/reliability.md): two minutes of back-to-back
sessions on a box of each kind at once; fds, threads and asyncio tasks must not grow. The RSS
slope needs the hour of `scripts/soak`: a run shorter than twice its warm-up only reports it."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.campaign.findings import Findings
from testbed.campaign.soak import run_soak

MINUTES = 2


@pytest.mark.slow
@pytest.mark.timeout(MINUTES * 60 + 180)
def test_two_minutes_of_sessions_grow_no_fds_threads_or_tasks(tmp_path: Path) -> None:
    findings = Findings()
    lines = run_soak(tmp_path, MINUTES * 60, findings)
    assert len(lines) == 3, lines  # vehicle, cabinet and parking each ran
    assert findings.checked["soak"] >= 9  # fds, threads and tasks of each kind
    assert findings.done, lines
    assert findings.passed, "\n".join([*lines, findings.report()])
