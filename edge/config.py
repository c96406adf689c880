"""The agent's config file (contract section 7): TOML, checked whole, each problem named by its key.

`load_config` reports every problem of a file at once (`ConfigError.problems`, one line each,
`dotted.key: what is wrong`), so `edge-agent check-config` can list them all in one run.
Every section forbids unknown keys: a misspelt key is an error, never a silent default.

Each box kind has a section named after it, required for that kind and refused for the others.
A kind's section is a field of `AgentConfig` named like the kind; `[cabinet]` and `[parking]`
have no model yet, so those kinds are refused with `cabinet: section missing`.
"""

from __future__ import annotations

import base64
import binascii
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from edge.diagnostics.password import parse_hash
from edge.identity import BOX_KINDS, BoxKind, DeviceId
from edge.mqtt.config import MqttConfig


def decode_public_key(text: str) -> Ed25519PublicKey:
    """The Ed25519 key of `text`, base64 of its raw 32 bytes; ValueError when it is not."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ValueError("not base64 of 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def _check_public_key(text: str) -> str:
    decode_public_key(text)
    return text


class ConfigError(Exception):
    """The config cannot be used; `problems` says why, one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Section(BaseModel):
    # strict: TOML has types of its own, so `bitrate = "500000"` is a mistake worth naming.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DeviceConfig(_Section):
    id: DeviceId
    kind: BoxKind


class SecurityConfig(_Section):
    backend_public_key: Annotated[str, AfterValidator(_check_public_key)]
    # The upper bounds only catch a slipped digit: a day of skew, a year of validity.
    clock_skew_s: float = Field(default=30, ge=0, le=86_400)
    max_ttl_s: float = Field(default=86_400, gt=0, le=366 * 86_400)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return decode_public_key(self.backend_public_key)


class StorageConfig(_Section):
    path: Annotated[Path, Field(strict=False)]
    # The most the store may use (docs/time-and-storage.md); unset: the disk is the limit.
    max_mb: float | None = Field(default=None, gt=0, le=1_000_000)
    max_events: int = Field(default=1000, ge=1, le=1_000_000)  # events waiting for the broker


class ClockConfig(_Section):
    """`[clock]`: where the box learns that its wall clock is synchronised."""

    # A file whose existence says so (e.g. one an NTP client's hook writes); unset: the kernel
    # (adjtimex) and systemd-timesyncd say.
    synced_file: Annotated[Path | None, Field(strict=False)] = None
    boot_id_file: Annotated[Path, Field(strict=False)] = Path("/proc/sys/kernel/random/boot_id")


class TelemetryConfig(_Section):
    interval_s: float = Field(default=10, gt=0)


class LogConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"


def _check_can_interface(name: str) -> str:
    if name == "udp_multicast":
        raise ValueError(
            "udp_multicast is refused: its CAN traffic goes out on the network and can leave "
            "the machine; use socketcan, slcan or virtual"
        )
    from can.interfaces import VALID_INTERFACES  # python-can only for a box with a CAN bus

    if name not in VALID_INTERFACES:
        raise ValueError(f"unknown python-can interface {name!r}")
    return name


class CanConfig(_Section):
    interface: Annotated[str, AfterValidator(_check_can_interface)] = "socketcan"
    channel: str = Field(default="can0", min_length=1)
    bitrate: int = Field(default=500_000, gt=0)
    # Extra keyword arguments for python-can's Bus(), e.g. `tty_baudrate` for slcan.
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("options")
    @classmethod
    def _options_do_not_shadow_keys(cls, options: dict[str, Any]) -> dict[str, Any]:
        shadowed = sorted({"interface", "channel", "bitrate"} & options.keys())
        if shadowed:
            raise ValueError(f"sets {', '.join(shadowed)}: set vehicle.can.{shadowed[0]} instead")
        return options


def _check_profile(name_or_path: str) -> str:
    from firmware_protocol.can import ProfileError, ProfileProblems, load_profile

    try:
        load_profile(name_or_path)
    except ProfileProblems:
        return name_or_path  # each problem gets its own line: see profile_problems
    except ProfileError as exc:
        where = "" if exc.key == "profile" else f"{exc.key}: "
        raise ValueError(f"{where}{exc.problem}") from None
    return name_or_path


def profile_problems(name_or_path: str) -> list[str]:
    """One line per problem of the vehicle's signal profile, checked against its DBC."""
    from firmware_protocol.can import ProfileError, ProfileProblems, VehicleCodec

    try:
        VehicleCodec.load(name_or_path)
    except ProfileProblems as exc:
        return [f"vehicle.profile: {problem}" for problem in exc.problems]
    except ProfileError as exc:
        where = "" if exc.key == "profile" else f"{exc.key}: "
        return [f"vehicle.profile: {where}{exc.problem}"]
    return []


def profile_notes(config: AgentConfig) -> list[str]:
    """What check-config tells beside a valid vehicle profile, one line each: what the car
    lacks, DBC messages it skips, cycle times it assumes."""
    if config.vehicle is None:
        return []
    from firmware_protocol.can import VehicleCodec

    codec = VehicleCodec.load(config.vehicle.profile)
    return [f"note: vehicle.profile: {note}" for note in codec.notes]


class VehicleConfig(_Section):
    # a builtin name or a TOML path; loaded here so check-config reports a broken profile
    profile: Annotated[str, AfterValidator(_check_profile)] = Field(
        default="reference", min_length=1
    )
    command_timeout_s: float = Field(default=1.5, gt=0)  # lock/start status must confirm within
    command_retries: int = Field(default=2, ge=0)
    obd_poll_interval_s: float = Field(default=1.0, gt=0)
    can: CanConfig = Field(default_factory=CanConfig)


class SerialConfig(_Section):
    port: str = Field(default="/dev/ttyUSB0", min_length=1)
    baudrate: int = Field(default=115_200, gt=0)
    # Kernel RS-485 mode, for adapters whose driver turns the transceiver around on RTS.
    rs485: bool = False
    rts_level_for_tx: bool = True
    rts_level_for_rx: bool = False
    delay_before_tx_s: float = Field(default=0.0, ge=0)
    delay_before_rx_s: float = Field(default=0.0, ge=0)


def _check_board_addresses(addresses: list[int]) -> list[int]:
    if len(set(addresses)) != len(addresses):
        raise ValueError("a board address appears twice")
    if any(not 1 <= address <= 0xF7 for address in addresses):
        raise ValueError("board addresses are 1 to 247")
    return addresses


class CabinetConfig(_Section):
    # Board addresses in slot order: the first board's slots are 1..n, the next board's follow.
    boards: Annotated[list[int], AfterValidator(_check_board_addresses)] = Field(
        default_factory=lambda: [1], min_length=1
    )
    slots_per_board: int = Field(default=16, ge=1, le=16)  # checked against each board at start
    min_charge_pct: int = Field(default=80, ge=0, le=100)
    take_timeout_s: float = Field(default=30.0, gt=0)
    event_poll_s: float = Field(default=0.2, gt=0)
    inventory_poll_s: float = Field(default=10.0, gt=0)
    serial: SerialConfig = Field(default_factory=SerialConfig)


class ParkingConfig(_Section):
    address: int = Field(default=1, ge=1, le=0xF7)
    move_timeout_s: float = Field(default=10.0, gt=0)
    event_poll_s: float = Field(default=0.2, gt=0)
    serial: SerialConfig = Field(default_factory=SerialConfig)


def _check_password_hash(text: str) -> str:
    if text:
        parse_hash(text)
    return text


class DiagnosticsConfig(_Section):
    """The installer's page (docs/diagnostics.md): off unless enabled, on loopback by default."""

    enabled: bool = False
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8080, ge=0, le=65535)  # 0: any free port (logged)
    password_hash: Annotated[str, AfterValidator(_check_password_hash)] = ""
    session_ttl_s: float = Field(default=1800, gt=0, le=86_400)
    login_attempts_per_minute: int = Field(default=5, ge=1, le=1000)
    update_interval_s: float = Field(default=1.0, ge=0.05, le=60)

    @model_validator(mode="after")
    def _password_when_enabled(self) -> DiagnosticsConfig:
        if self.enabled and not self.password_hash:
            raise ValueError(
                "password_hash: needed when enabled (make one with `edge-agent hash-password`)"
            )
        return self


class RemoteConfigSection(_Section):
    """`[config]`: how `configure` from the cloud is applied (docs/remote-config.md)."""

    # The box must be ready and connected this soon after applying new settings, else it
    # returns to the previous config by itself.
    rollback_s: float = Field(default=120.0, gt=0, le=86_400)


class AgentConfig(_Section):
    device: DeviceConfig
    mqtt: MqttConfig
    security: SecurityConfig
    storage: StorageConfig
    clock: ClockConfig = Field(default_factory=ClockConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    vehicle: VehicleConfig | None = None
    cabinet: CabinetConfig | None = None
    parking: ParkingConfig | None = None
    config: RemoteConfigSection = Field(default_factory=RemoteConfigSection)
    diagnostics: DiagnosticsConfig = Field(default_factory=DiagnosticsConfig)


def load_config(path: str | Path) -> AgentConfig:
    """The checked config of the TOML file at `path`; ConfigError listing every problem."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text (byte {exc.start})"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    return parse_config(text, source=str(path))


def parse_config(text: str, source: str = "<config>") -> AgentConfig:
    """The checked config of TOML `text`; ConfigError listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: TOML syntax error: {exc}"]) from None
    return validate_config(data)


def validate_config(data: Mapping[str, Any]) -> AgentConfig:
    """The checked config of already parsed TOML `data`; ConfigError listing every problem."""
    problems: list[str] = []
    config: AgentConfig | None = None
    try:
        config = AgentConfig.model_validate(dict(data))
    except ValidationError as exc:
        problems = [_describe(error) for error in exc.errors(include_url=False)]
    problems += _kind_section_problems(data)
    if config is not None and config.vehicle is not None and not problems:
        problems += profile_problems(config.vehicle.profile)
    if problems or config is None:
        raise ConfigError(problems)
    return config


def _kind_section_problems(data: Mapping[str, Any]) -> list[str]:
    device = data.get("device")
    kind = device.get("kind") if isinstance(device, Mapping) else None
    if kind not in BOX_KINDS:
        return []  # the kind itself is reported as a problem of `device.kind`
    problems = []
    for section in BOX_KINDS:
        if section == kind and section not in data:
            problems.append(f"{section}: section missing")
        elif section != kind and section in data and section in AgentConfig.model_fields:
            problems.append(f'{section}: only for device.kind = "{section}", this box is "{kind}"')
    return problems


_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "missing",
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "string_too_short": "must not be empty",
    "path_type": "must be a path (a string)",
}


def _describe(error: ErrorDetails) -> str:
    key = ".".join(str(part) for part in error["loc"])
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind == "missing" and len(error["loc"]) == 1:
        message = "section missing"
    elif kind in _MESSAGES:
        message = _MESSAGES[kind]
    elif kind == "greater_than":
        message = f"must be greater than {_number(ctx['gt'])}"
    elif kind == "greater_than_equal":
        message = f"must be at least {_number(ctx['ge'])}"
    elif kind == "less_than_equal":
        message = f"must be at most {_number(ctx['le'])}"
    elif kind == "literal_error":
        message = f"must be one of {ctx['expected']}"
    elif kind == "value_error":
        message = str(ctx["error"])
    else:
        message = error["msg"]
    return f"{key}: {message}" if key else message


def _number(value: object) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def summary(config: AgentConfig) -> str:
    """One line for `edge-agent check-config`: who the box is and what it will talk to."""
    mqtt = config.mqtt
    host = f"[{mqtt.host}]" if ":" in mqtt.host else mqtt.host
    parts = [
        "ok:",
        config.device.id,
        config.device.kind,
        f"{'mqtts' if mqtt.tls else 'mqtt'}://{host}:{mqtt.port}",
    ]
    if config.vehicle is not None:
        can = config.vehicle.can
        parts += ["can", f"{can.interface}:{can.channel}@{can.bitrate}"]
        parts += ["profile", config.vehicle.profile]
    if config.cabinet is not None:
        serial = config.cabinet.serial
        boards = ",".join(str(address) for address in config.cabinet.boards)
        parts += ["serial", f"{serial.port}@{serial.baudrate}", "boards", boards]
    if config.parking is not None:
        serial = config.parking.serial
        parts += ["serial", f"{serial.port}@{serial.baudrate}", "lock", str(config.parking.address)]
    parts += ["store", str(config.storage.path)]
    return " ".join(parts)
