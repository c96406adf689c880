"""The checks every command goes through before it reaches a state machine (contract section 3).

`CommandVerifier.verify` runs them in the contract's order and raises `CommandRejected` with
the first failure's code: bad_json, bad_schema, wrong_device, bad_signature, expired, replayed.
Nothing it is given makes it raise anything else.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Set
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import JsonValue, ValidationError

from edge.commands.args import CommandArgs
from edge.commands.canonical import canonical_json
from edge.commands.envelope import Envelope, is_command_id
from edge.commands.reply import CommandRejected, RejectCode
from edge.commands.table import COMMAND_TYPES, COMMANDS
from edge.config import AgentConfig

MAX_COMMAND_BYTES = 64 * 1024  # larger is bad_json: refused before it is parsed
_SIGNATURE_BYTES = 64
_MAX_DETAIL = 300


@dataclass(frozen=True)
class VerifiedCommand:
    id: str
    type: str
    args: CommandArgs  # the model of `COMMANDS[type].args`
    issued_at: datetime
    expires_at: datetime
    envelope: dict[str, JsonValue]  # as received, `sig` included
    received_mono: float | None = None  # the box's monotonic time when it was verified


class ExpiryClock(Protocol):
    """The box's clock as the expiry check reads it (edge.clock.BoxClock)."""

    def expiry_time(self) -> tuple[float, bool]:
        """Epoch seconds, never below the wall-clock floor; whether the clock is synchronised."""

    def raise_floor(self, issued_at_epoch: float) -> None: ...

    def mono(self) -> float: ...


class CommandVerifier:
    def __init__(
        self,
        device_id: str,
        public_key: Ed25519PublicKey,
        clock_skew_s: float,
        max_ttl_s: float,
        allowed_types: Set[str],
        now: Callable[[], datetime],
        clock: ExpiryClock | None = None,
    ) -> None:
        unknown = set(allowed_types) - COMMANDS.keys()
        if unknown:
            raise ValueError(f"unknown command types {sorted(unknown)}")
        self._device_id = device_id
        self._public_key = public_key
        self._skew = timedelta(seconds=clock_skew_s)
        self._max_ttl = timedelta(seconds=max_ttl_s)
        self._allowed_types = frozenset(allowed_types)
        self._now = now
        self._clock = clock

    @classmethod
    def for_config(
        cls,
        config: AgentConfig,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: ExpiryClock | None = None,
    ) -> CommandVerifier:
        """The verifier of the box `config` describes, serving its kind's command types; with
        `clock`, expiry is judged on the box's clock and its floor (docs/time-and-storage.md)."""
        return cls(
            device_id=config.device.id,
            public_key=config.security.public_key,
            clock_skew_s=config.security.clock_skew_s,
            max_ttl_s=config.security.max_ttl_s,
            allowed_types=COMMAND_TYPES[config.device.kind],
            now=now,
            clock=clock,
        )

    def verify(self, raw: bytes, is_replayed: Callable[[str], bool]) -> VerifiedCommand:
        """The command in `raw` if it passes every check; CommandRejected with the first failure.

        `is_replayed(id)` says whether the id was already accepted; remembering accepted ids
        (until `forget_at`) is the caller's job.
        """
        data = _read_json(raw)
        envelope, args = self._check_schema(data)
        command_id = envelope.id
        if envelope.device_id != self._device_id:
            raise CommandRejected(
                RejectCode.WRONG_DEVICE,
                f"addressed to {envelope.device_id!r}, this is {self._device_id!r}",
                command_id,
            )
        self._check_signature(data, envelope.sig, command_id)
        self._check_validity(envelope)
        if is_replayed(command_id):
            raise CommandRejected(RejectCode.REPLAYED, "this id was already accepted", command_id)
        received_mono = None
        if self._clock is not None:
            self._clock.raise_floor(envelope.issued_at.timestamp())
            received_mono = self._clock.mono()
        return VerifiedCommand(
            id=command_id,
            type=envelope.type,
            args=args,
            issued_at=envelope.issued_at,
            expires_at=envelope.expires_at,
            envelope=data,
            received_mono=received_mono,
        )

    def forget_at(self, command: VerifiedCommand) -> float:
        """The epoch second after which the replay check no longer needs `command.id`:
        from then on the command fails `expired` anyway."""
        return (command.expires_at + self._skew).timestamp()

    def forget_mono(self, command: VerifiedCommand) -> float | None:
        """The box's monotonic time after which the replay check no longer needs `command.id`,
        whatever the wall clock does meanwhile: by then the floor (at least `issued_at` when
        the command was verified, advanced on the monotonic clock) is past its expiry plus the
        skew, so the command fails `expired`. None without the box's clock."""
        if command.received_mono is None:
            return None
        valid_for = (command.expires_at - command.issued_at + self._skew).total_seconds()
        return command.received_mono + valid_for + 1.0

    def _check_schema(self, data: Any) -> tuple[Envelope, CommandArgs]:
        if not isinstance(data, dict):
            raise CommandRejected(RejectCode.BAD_SCHEMA, "not a JSON object")
        readable_id = data.get("id") if is_command_id(data.get("id")) else None
        try:
            envelope = Envelope.model_validate(data)
        except ValidationError as exc:
            raise CommandRejected(RejectCode.BAD_SCHEMA, _describe(exc), readable_id) from None
        spec = COMMANDS.get(envelope.type)
        if spec is None:
            raise CommandRejected(
                RejectCode.BAD_SCHEMA, f"unknown type {envelope.type!r:.40}", readable_id
            )
        if envelope.type not in self._allowed_types:
            raise CommandRejected(
                RejectCode.BAD_SCHEMA,
                f"type {envelope.type!r} is a {spec.kind} command, not served by this box",
                readable_id,
            )
        try:
            args = spec.args.model_validate(envelope.args)
        except ValidationError as exc:
            detail = _describe(exc, within="args")
            raise CommandRejected(RejectCode.BAD_SCHEMA, detail, readable_id) from None
        return envelope, args

    def _check_signature(self, data: dict[str, JsonValue], sig: str, command_id: str) -> None:
        # A sig that is a string but not base64 of 64 bytes is a signature that does not
        # verify: bad_signature, like any other wrong signature.
        try:
            signature = base64.b64decode(sig, validate=True)
        except (binascii.Error, ValueError):
            signature = b""
        if len(signature) != _SIGNATURE_BYTES:
            raise CommandRejected(
                RejectCode.BAD_SIGNATURE, "sig is not base64 of 64 bytes", command_id
            )
        signed = canonical_json({key: value for key, value in data.items() if key != "sig"})
        try:
            self._public_key.verify(signature, signed)
        except InvalidSignature:
            raise CommandRejected(
                RejectCode.BAD_SIGNATURE, "not signed by the backend's key", command_id
            ) from None

    def _check_validity(self, envelope: Envelope) -> None:
        if self._clock is None:
            now, synced = self._now(), True
        else:
            epoch, synced = self._clock.expiry_time()
            now = datetime.fromtimestamp(epoch, UTC)
        issued, expires = envelope.issued_at, envelope.expires_at
        problem = None
        if expires < issued:
            problem = "expires_at is before issued_at"
        elif expires - issued > self._max_ttl:
            problem = f"valid for {(expires - issued).total_seconds():g} s, more than max_ttl_s"
        # Arithmetic on `now` only: the envelope's times may lie next to datetime.max.
        elif expires < now - self._skew:
            problem = f"expired at {envelope.expires_at.isoformat()}, now {now.isoformat()}"
        elif issued > now + self._skew and synced:
            # Skew is tolerated both ways; beyond it the clocks disagree. This also bounds how
            # long the replay check must remember an id: at most max_ttl_s + 2 * clock_skew_s.
            # On a clock not synchronised the box cannot tell whose clock is wrong: it takes
            # the command, and raises its floor to its issued_at (docs/time-and-storage.md).
            problem = f"issued in the future ({issued.isoformat()}, now {now.isoformat()})"
        if problem is not None:
            raise CommandRejected(RejectCode.EXPIRED, problem, envelope.id)


def _read_json(raw: bytes) -> Any:
    if len(raw) > MAX_COMMAND_BYTES:
        raise CommandRejected(
            RejectCode.BAD_JSON, f"{len(raw)} bytes, more than {MAX_COMMAND_BYTES}"
        )
    try:
        text = bytes(raw).decode("utf-8")
        data = json.loads(
            text, object_pairs_hook=_object_without_duplicates, parse_constant=_no_constant
        )
        canonical_json(data)  # a lone surrogate (from a \ud800 escape) has no canonical form
    except UnicodeDecodeError as exc:
        raise CommandRejected(RejectCode.BAD_JSON, f"not UTF-8 (byte {exc.start})") from None
    except (ValueError, RecursionError) as exc:
        raise CommandRejected(RejectCode.BAD_JSON, f"not JSON: {exc}"[:200]) from None
    return data


def _object_without_duplicates(pairs: list[tuple[str, JsonValue]]) -> dict[str, JsonValue]:
    # Two parsers could read `{"type": "lock", "type": "unlock"}` differently.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate key in an object")
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _describe(error: ValidationError, within: str | None = None) -> str:
    parts = []
    for detail in error.errors(include_url=False)[:3]:
        where = ".".join(str(part) for part in (within, *detail["loc"]) if part is not None)
        parts.append(f"{where}: {detail['msg']}" if where else detail["msg"])
    if error.error_count() > 3:
        parts.append(f"and {error.error_count() - 3} more")
    return "; ".join(parts)[:_MAX_DETAIL]
