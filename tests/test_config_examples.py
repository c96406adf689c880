"""The example configs in config/ load, and show every key the models know."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from edge.config import AgentConfig, load_config

EXAMPLES = sorted((Path(__file__).parent.parent / "config").glob("*.example.toml"))


def _keys_shown(text: str) -> set[str]:
    """Keys set in the file plus keys shown in `# key = ...` comments, dotted by section."""
    uncommented = "\n".join(
        line.lstrip("# ") if line.startswith("# ") and " = " in line else line
        for line in text.splitlines()
    )
    shown: set[str] = set()

    def walk(table: dict[str, object], prefix: str) -> None:
        for key, value in table.items():
            shown.add(prefix + key)
            if isinstance(value, dict) and key != "options":
                walk(value, prefix + key + ".")

    walk(tomllib.loads(uncommented), "")
    return shown


def _model_keys(model: type[BaseModel], prefix: str, kind: str) -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        nested = [
            arg
            for arg in getattr(annotation, "__args__", (annotation,))
            if isinstance(arg, type) and issubclass(arg, BaseModel)
        ]
        if prefix == "" and name in ("vehicle", "cabinet", "parking") and name != kind:
            continue
        keys.add(prefix + name)
        for sub in nested:
            keys |= _model_keys(sub, prefix + name + ".", kind)
    return keys


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_loads_and_shows_every_key(path: Path) -> None:
    config = load_config(path)
    expected = _model_keys(AgentConfig, "", config.device.kind)
    assert expected <= _keys_shown(path.read_text())


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_check_config_command_accepts_example(path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: ")
    assert len(done.stdout.splitlines()) == 1


def test_check_config_names_each_bad_key(tmp_path: Path) -> None:
    text = (EXAMPLES[0].parent / "vehicle.example.toml").read_text()
    text = text.replace('kind = "vehicle"', 'kind = "boat"').replace(
        "bitrate = 500000", 'bitrate = "fast"'
    )
    bad = tmp_path / "bad.toml"
    bad.write_text(text + "\n[extra]\nx = 1\n")
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", "check-config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert any(line.startswith("device.kind:") for line in lines), lines
    assert any(line.startswith("extra:") for line in lines), lines
