"""The fleet backend as far as a box can tell: it holds the Ed25519 key and signs commands.

Tests and demos use it as their cloud. Builders return plain dicts, signed; to make a bad
command, mutate the dict (after signing for bad_signature, or re-`sign` it for the others).

    python -m sim.backend keygen --out backend.key          # prints the public key, base64
    python -m sim.backend pubkey --key backend.key
    python -m sim.backend sign --key backend.key --device car-0001 --type unlock \\
        --args '{"order_id": "o1"}' [--ttl 60]              # prints the signed envelope
    python -m sim.backend send --url mqtt://127.0.0.1:1883 --key backend.key \\
        --device car-0001 --type unlock --args '{"order_id": "o1"}'    # prints the reply
        [--username U --password P] [--ca-file CA --cert-file C --key-file K] [--protocol 3.1.1]

`send` exits 0 on an ok reply, 3 on another reply, 1 without one, 4 when the broker refuses
the connection (CONNACK with an error code: a login or certificate it does not take), 2 when
the broker cannot be reached or the arguments are wrong.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import math
import os
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict, Unpack

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pydantic import ValidationError

from edge.commands.canonical import canonical_json
from edge.commands.table import COMMANDS
from edge.timefmt import rfc3339


class KeyFileError(ValueError):
    """A key file that holds no Ed25519 private key."""


@dataclass(frozen=True)
class BackendKeys:
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> BackendKeys:
        return cls(Ed25519PrivateKey.generate())

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def public_key_b64(self) -> str:
        """The value of the agent's `security.backend_public_key`."""
        raw = self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return base64.b64encode(raw).decode()

    @classmethod
    def load(cls, path: str | Path) -> BackendKeys:
        """A key file as `save` writes it: PKCS#8 PEM, or base64 of the 32-byte private key."""
        data = Path(path).read_bytes()
        if data.lstrip().startswith(b"-----BEGIN"):
            try:
                key = serialization.load_pem_private_key(data, password=None)
            except ValueError as exc:
                raise KeyFileError(f"{path}: unreadable PEM: {exc}") from None
            if not isinstance(key, Ed25519PrivateKey):
                raise KeyFileError(f"{path}: a {type(key).__name__}, not an Ed25519 key")
            return cls(key)
        try:
            raw = base64.b64decode(data.strip(), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise KeyFileError(f"{path}: neither PEM nor base64 of a 32-byte Ed25519 key")
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    def save(self, path: str | Path, pem: bool = True) -> None:
        """Write the private key, readable by its owner only; refuses to overwrite a file."""
        if pem:
            data = self.private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        else:
            raw = self.private_key.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
            data = base64.b64encode(raw) + b"\n"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(data)


def sign(envelope: Mapping[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """A copy of `envelope` with `sig` over the canonical JSON of everything but `sig`."""
    unsigned = {key: value for key, value in envelope.items() if key != "sig"}
    signature = private_key.sign(canonical_json(unsigned))
    return {**unsigned, "sig": base64.b64encode(signature).decode()}


class EnvelopeTimes(TypedDict, total=False):
    expires_in_s: float  # default 60
    issued_at: datetime  # default now


class Backend:
    """Builds signed commands, one method per command type of contract section 3."""

    def __init__(
        self,
        keys: BackendKeys | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.keys = keys or BackendKeys.generate()
        self._now = now

    def command(
        self,
        device_id: str,
        command_type: str,
        args: Mapping[str, Any],
        *,
        expires_in_s: float = 60,
        issued_at: datetime | None = None,
    ) -> dict[str, Any]:
        """A signed envelope with a fresh id, issued now (or at `issued_at`)."""
        issued = issued_at or self._now()
        envelope = {
            "id": str(uuid.uuid4()),
            "device_id": device_id,
            "type": command_type,
            "issued_at": rfc3339(issued),
            "expires_at": rfc3339(issued + timedelta(seconds=expires_in_s)),
            "args": dict(args),
        }
        return self.sign(envelope)

    def sign(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        return sign(envelope, self.keys.private_key)

    # The builders, one per command type; `times` as for `command`.

    def start_rental(
        self,
        device_id: str,
        order_id: str,
        renter: str,
        tariff: Mapping[str, Any],
        **times: Unpack[EnvelopeTimes],
    ) -> dict[str, Any]:
        """`tariff`: per_minute_cents, fuel_price_cents_per_litre, tank_litres, currency."""
        args = {"order_id": order_id, "renter": renter, "tariff": dict(tariff)}
        return self.command(device_id, "start_rental", args, **times)

    def unlock(
        self, device_id: str, order_id: str, **times: Unpack[EnvelopeTimes]
    ) -> dict[str, Any]:
        return self.command(device_id, "unlock", {"order_id": order_id}, **times)

    def lock(self, device_id: str, order_id: str, **times: Unpack[EnvelopeTimes]) -> dict[str, Any]:
        return self.command(device_id, "lock", {"order_id": order_id}, **times)

    def end_rental(
        self, device_id: str, order_id: str, **times: Unpack[EnvelopeTimes]
    ) -> dict[str, Any]:
        return self.command(device_id, "end_rental", {"order_id": order_id}, **times)

    def set_service(
        self, device_id: str, in_service: bool, reason: str = "", **times: Unpack[EnvelopeTimes]
    ) -> dict[str, Any]:
        args = {"in_service": in_service, "reason": reason}
        return self.command(device_id, "set_service", args, **times)

    def reserve(
        self,
        device_id: str,
        reservation_id: str,
        purpose: str,
        count: int,
        ttl_s: int,
        **times: Unpack[EnvelopeTimes],
    ) -> dict[str, Any]:
        """`ttl_s` is how long the slots are held; the envelope's own is `expires_in_s`."""
        args = {"reservation_id": reservation_id, "purpose": purpose, "count": count}
        return self.command(device_id, "reserve", {**args, "ttl_s": ttl_s}, **times)

    def rent(
        self,
        device_id: str,
        order_id: str,
        *,
        reservation_id: str | None = None,
        count: int | None = None,
        **times: Unpack[EnvelopeTimes],
    ) -> dict[str, Any]:
        args: dict[str, Any] = {"order_id": order_id}
        if reservation_id is not None:
            args["reservation_id"] = reservation_id
        if count is not None:
            args["count"] = count
        return self.command(device_id, "rent", args, **times)

    def cancel(
        self, device_id: str, reservation_id: str, **times: Unpack[EnvelopeTimes]
    ) -> dict[str, Any]:
        return self.command(device_id, "cancel", {"reservation_id": reservation_id}, **times)

    def set_slot(
        self, device_id: str, slot: int, enabled: bool, **times: Unpack[EnvelopeTimes]
    ) -> dict[str, Any]:
        args = {"slot": slot, "enabled": enabled}
        return self.command(device_id, "set_slot", args, **times)

    def lower(
        self, device_id: str, order_id: str, **times: Unpack[EnvelopeTimes]
    ) -> dict[str, Any]:
        return self.command(device_id, "lower", {"order_id": order_id}, **times)

    def raise_(
        self, device_id: str, order_id: str, **times: Unpack[EnvelopeTimes]
    ) -> dict[str, Any]:
        """The `raise` command (a Python keyword, hence the underscore)."""
        return self.command(device_id, "raise", {"order_id": order_id}, **times)

    def configure(
        self, device_id: str, settings: Mapping[str, Any], **times: Unpack[EnvelopeTimes]
    ) -> dict[str, Any]:
        """`settings`: dotted config keys and their values (docs/remote-config.md)."""
        return self.command(device_id, "configure", {"settings": dict(settings)}, **times)


EXIT_REFUSED = 4  # `send`: the broker refused the connection (login, certificate, ACL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sim.backend", description="A signing backend for tests and demos."
    )
    sub = parser.add_subparsers(dest="action", required=True)
    keygen = sub.add_parser("keygen", help="write a new private key; print its public key")
    keygen.add_argument("--out", required=True, type=Path, help="key file to create")
    keygen.add_argument("--base64", action="store_true", help="raw base64 instead of PEM")
    pubkey = sub.add_parser("pubkey", help="print the public key of a key file")
    pubkey.add_argument("--key", required=True, type=Path)
    signer = sub.add_parser("sign", help="print a signed command envelope")
    sender = sub.add_parser("send", help="sign, publish to the box's broker, print the reply")
    sender.add_argument("--url", required=True, help="the broker: mqtt://host:port or mqtts://")
    sender.add_argument("--ca-file", type=Path, help="CA bundle for mqtts")
    sender.add_argument("--cert-file", type=Path, help="client certificate (mTLS)")
    sender.add_argument("--key-file", type=Path, help="the client certificate's key")
    sender.add_argument("--username", help="MQTT username")
    sender.add_argument("--password", help="MQTT password (or env EDGE_MQTT_PASSWORD)")
    sender.add_argument("--client-id", help="MQTT client id (default send-<command id>)")
    sender.add_argument("--protocol", choices=["5", "3.1.1"], default="5")
    sender.add_argument("--timeout", type=float, default=15, help="seconds to wait for a reply")
    sender.add_argument(
        "--message-expiry",
        type=int,
        help="MQTT 5 Message Expiry Interval in s (default: until the command expires)",
    )
    for command in (signer, sender):
        command.add_argument("--key", required=True, type=Path)
        command.add_argument("--device", required=True, help="device_id")
        command.add_argument("--type", required=True, choices=sorted(COMMANDS))
        command.add_argument("--args", default="{}", help="the args, a JSON object")
        command.add_argument("--ttl", type=float, default=60, help="seconds until it expires")
        command.add_argument("--unchecked", action="store_true", help="sign args that do not fit")
    options = parser.parse_args(argv)

    try:
        if options.action == "keygen":
            keys = BackendKeys.generate()
            keys.save(options.out, pem=not options.base64)
            print(keys.public_key_b64)
            return 0
        keys = BackendKeys.load(options.key)
        if options.action == "pubkey":
            print(keys.public_key_b64)
            return 0
        args = json.loads(options.args)
        if not isinstance(args, dict):
            raise ValueError("--args must be a JSON object")
        if not options.unchecked:
            COMMANDS[options.type].args.model_validate(args)
        envelope = Backend(keys).command(
            options.device, options.type, args, expires_in_s=options.ttl
        )
    except (OSError, ValueError) as exc:  # ValidationError and JSONDecodeError included
        detail = str(exc) if not isinstance(exc, ValidationError) else _short(exc)
        print(f"error: {detail}", file=sys.stderr)
        return 2
    if options.action == "sign":
        print(json.dumps(envelope, ensure_ascii=False))
        return 0
    return _send(options, envelope)


def _send(options: argparse.Namespace, envelope: dict[str, Any]) -> int:
    from edge.mqtt.config import MqttConfig
    from sim.send import BrokerRefused, send_and_wait

    try:
        config = MqttConfig(
            url=options.url,
            ca_file=options.ca_file,
            cert_file=options.cert_file,
            key_file=options.key_file,
            username=options.username,
            password=options.password or os.environ.get("EDGE_MQTT_PASSWORD"),
            client_id=options.client_id,
            protocol=options.protocol,
        )
        expiry = options.message_expiry
        if expiry is None:
            expiry = math.ceil(options.ttl)
        reply = send_and_wait(config, envelope, options.timeout, expiry)
    except BrokerRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except (OSError, ValueError) as exc:  # unreachable, TLS refused, bad files
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if reply is None:
        print(f"error: no reply to {envelope['id']} within {options.timeout} s", file=sys.stderr)
        return 1
    print(json.dumps(reply, ensure_ascii=False))
    return 0 if reply.get("status") == "ok" else 3


def _short(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'args'}: {e['msg']}" for e in error.errors()
    )


if __name__ == "__main__":
    sys.exit(main())
