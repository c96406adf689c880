"""The signing backend the tests and demos use as their cloud, and its command line."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.commands import COMMAND_TYPES, CommandVerifier, canonical_json
from edge.config import decode_public_key
from sim.backend import Backend, BackendKeys, KeyFileError, sign

REPO = Path(__file__).resolve().parents[1]


def backend_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim.backend", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("key_format", [[], ["--base64"]], ids=["pem", "base64"])
def test_keygen_then_sign_then_verify(tmp_path: Path, key_format: list[str]) -> None:
    key_file = tmp_path / "backend.key"
    keygen = backend_cli("keygen", "--out", str(key_file), *key_format)
    assert keygen.returncode == 0, keygen.stderr
    public_key_b64 = keygen.stdout.strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert backend_cli("pubkey", "--key", str(key_file)).stdout.strip() == public_key_b64

    signed = backend_cli(
        "sign", "--key", str(key_file), "--device", "car-0001", "--type", "unlock",
        "--args", '{"order_id": "o1"}', "--ttl", "30",
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    verifier = CommandVerifier(
        device_id="car-0001",
        public_key=decode_public_key(public_key_b64),
        clock_skew_s=30,
        max_ttl_s=3600,
        allowed_types=COMMAND_TYPES["vehicle"],
        now=lambda: datetime.now(UTC),
    )
    command = verifier.verify(signed.stdout.encode(), lambda _id: False)
    assert command.type == "unlock"
    assert (command.expires_at - command.issued_at).total_seconds() == 30


def test_keygen_never_overwrites_a_key(tmp_path: Path) -> None:
    key_file = tmp_path / "backend.key"
    key_file.write_text("precious")
    result = backend_cli("keygen", "--out", str(key_file))
    assert result.returncode == 2
    assert "exists" in result.stderr
    assert key_file.read_text() == "precious"


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        pytest.param('{"order_id": 1}', "order_id", id="ill-typed"),
        pytest.param('{"order_id": "o1"', "Expecting", id="not-json"),
        pytest.param('["o1"]', "JSON object", id="not-an-object"),
    ],
)
def test_sign_refuses_args_that_do_not_fit(tmp_path: Path, args: str, complaint: str) -> None:
    key_file = tmp_path / "backend.key"
    BackendKeys.generate().save(key_file)
    result = backend_cli(
        "sign", "--key", str(key_file), "--device", "car-0001", "--type", "unlock", "--args", args
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert complaint in result.stderr
    assert result.stdout == ""


def test_sign_unchecked_signs_whatever_it_is_given(tmp_path: Path) -> None:
    key_file = tmp_path / "backend.key"
    BackendKeys.generate().save(key_file)
    result = backend_cli(
        "sign", "--key", str(key_file), "--device", "car-0001", "--type", "unlock",
        "--args", '{"order_id": 1}', "--unchecked",
    )  # fmt: skip
    assert result.returncode == 0
    assert json.loads(result.stdout)["args"] == {"order_id": 1}


def test_a_key_file_that_is_no_key_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "backend.key"
    key_file.write_text("hello\n")
    with pytest.raises(KeyFileError, match="neither PEM nor base64"):
        BackendKeys.load(key_file)
    result = backend_cli("pubkey", "--key", str(key_file))
    assert (result.returncode, result.stdout) == (2, "")


def test_keys_survive_a_save_and_load(tmp_path: Path) -> None:
    keys = BackendKeys.generate()
    keys.save(tmp_path / "a.pem")
    keys.save(tmp_path / "a.b64", pem=False)
    for name in ("a.pem", "a.b64"):
        assert BackendKeys.load(tmp_path / name).public_key_b64 == keys.public_key_b64


def test_sign_covers_everything_but_sig_and_replaces_an_old_sig() -> None:
    keys = BackendKeys.generate()
    envelope = {"b": "ä", "a": 1, "sig": "old"}
    signed = sign(envelope, keys.private_key)
    assert signed.keys() == {"a", "b", "sig"}
    assert envelope["sig"] == "old"  # a copy, the input untouched
    keys.public_key.verify(base64.b64decode(signed["sig"]), canonical_json({"a": 1, "b": "ä"}))


def test_each_command_gets_a_fresh_id() -> None:
    backend = Backend()
    assert backend.unlock("car-0001", "o1")["id"] != backend.unlock("car-0001", "o1")["id"]
