"""`python -m testbed.powercut BACKING MOUNTPOINT`: mounts the power-cut filesystem and takes
control commands as JSON lines on stdin, answering each with a JSON line on stdout:

    {"op": "cut"}                      the power goes: unsynced bytes and names are lost
    {"op": "limit", "bytes": N|null}   a disk of N bytes (ENOSPC past it); null: no limit
    {"op": "fail", "mode": "erofs"|"eio"|null}   every write fails so, or works again
    {"op": "stats"}

The first line is {"event": "powercut.ready"} once the mount is up. EOF on stdin or SIGTERM
unmounts and exits 0.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from mfusepy import FUSE

from testbed.powercut.fs import PowerCutFS


def _say(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


class ControlledFS(PowerCutFS):
    def init(self, path: str) -> None:
        _say("powercut.ready")


def _answer(fs: PowerCutFS, command: dict[str, Any]) -> None:
    op = command.get("op")
    if op == "cut":
        _say("cut", lost_bytes=fs.cut(), cuts=fs.cuts)
    elif op == "limit":
        fs.limit_bytes = command.get("bytes")
        _say("limit", bytes=fs.limit_bytes, used=fs.used_bytes())
    elif op == "fail":
        fs.failure = command.get("mode")
        _say("fail", mode=fs.failure)
    elif op == "stats":
        _say(
            "stats",
            used=fs.used_bytes(),
            cuts=fs.cuts,
            syncs=fs.syncs,
            dir_syncs=fs.dir_syncs,
            limit=fs.limit_bytes,
            failure=fs.failure,
        )
    else:
        _say("error", detail=f"unknown op {op!r}")


def _control(fs: PowerCutFS, mountpoint: str) -> None:
    for line in sys.stdin:
        try:
            command = json.loads(line)
        except json.JSONDecodeError:
            _say("error", detail="not JSON")
            continue
        _answer(fs, command)
    subprocess.run(["fusermount3", "-u", "-z", mountpoint], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m testbed.powercut")
    parser.add_argument("backing", type=Path)
    parser.add_argument("mountpoint", type=Path)
    args = parser.parse_args()
    fs = ControlledFS(args.backing)
    threading.Thread(target=_control, args=(fs, str(args.mountpoint)), daemon=True).start()
    FUSE(
        fs,
        str(args.mountpoint),
        foreground=True,
        auto_unmount=True,
        attr_timeout=0,
        entry_timeout=0,
        negative_timeout=0,
        fsname="powercut",
    )


if __name__ == "__main__":
    main()
