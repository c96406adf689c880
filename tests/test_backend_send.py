"""`python -m sim.backend send`: signs, publishes to a box's broker, prints the box's reply."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from testbed.processes import REPO
from testbed.rig import BoxRig, closed_after


def send(rig: BoxRig, key: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim.backend", "send", "--url", rig.broker.url,
         "--key", str(key), *args],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_send_prints_the_boxs_reply(tmp_path: Path) -> None:
    with closed_after(BoxRig(tmp_path, "parking", device_id="park-send")) as rig:
        rig.start_agent()
        key = tmp_path / "backend.key"
        rig.backend.keys.save(key, pem=True)

        lowered = send(rig, key, "--device", "park-send", "--type", "lower",
                       "--args", '{"order_id": "o-send"}')  # fmt: skip
        assert lowered.returncode == 0, lowered.stderr
        reply = json.loads(lowered.stdout)
        assert (reply["status"], reply["result"]["lock"]) == ("ok", "lowered")

        again = send(rig, key, "--device", "park-send", "--type", "lower",
                     "--args", '{"order_id": "o-other"}')  # fmt: skip
        assert again.returncode == 3  # the box answered, and not ok
        assert json.loads(again.stdout)["code"] == "not_allowed"

        nobody = send(rig, key, "--device", "park-absent", "--type", "lower",
                      "--args", '{"order_id": "o-x"}', "--timeout", "1")  # fmt: skip
        assert nobody.returncode == 1
        assert "no reply" in nobody.stderr
        assert rig.records()[0]["type"] == "parking_started"
