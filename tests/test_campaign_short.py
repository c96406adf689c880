"""The reliability campaign's scenarios, each once at a small size (scripts/campaign --all runs
them at full size; docs/reliability.md has its figures). A scenario whose pass criterion fails
names the criterion and what broke it. The soak is not here: its RSS slope means nothing over
the minutes the suite can give it (docs/reliability.md); `scripts/soak --minutes 2` is its short
version, `scripts/soak` the real one."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.campaign.findings import Findings
from testbed.campaign.scenarios import SCENARIOS, SHORT, Run

SEED = 12


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_scenario_at_short_size_meets_every_criterion(tmp_path: Path, scenario: str) -> None:
    findings = Findings()
    SCENARIOS[scenario](Run(tmp_path, SEED, findings), SHORT[scenario])
    assert findings.checked, "the scenario checked nothing"
    assert findings.passed, f"scenario {scenario}, seed {SEED}:\n{findings.report()}"
