"""The `[mqtt]` config section (contract section 2 and 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MqttProtocol = Literal["5", "3.1.1"]


class MqttConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    client_id: str | None = Field(default=None, description="defaults to device.id")
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    protocol: MqttProtocol = "5"
    # MQTT 5: the Session Expiry Interval (a 32-bit field; 0xFFFFFFFF means never).
    session_expiry_s: int = Field(default=7 * 86400, ge=0, le=0xFFFFFFFF)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=60.0, gt=0)
    # The probe (contract 1.1): a message to itself every interval; one that does not come
    # back within the timeout means the broker no longer delivers to the box.
    probe_interval_s: float = Field(default=60.0, gt=0, le=86_400)
    probe_timeout_s: float = Field(default=15.0, gt=0, le=3600)

    @field_validator("url")
    @classmethod
    def _url_is_mqtt(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError("must start with mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError("names no host")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError as exc:
            raise ValueError(f"bad port: {exc}") from exc
        return url

    @model_validator(mode="after")
    def _files_make_sense(self) -> MqttConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s: must be at least reconnect_min_s")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file: set both or neither")
        if (self.cert_file is not None or self.ca_file is not None) and not self.tls:
            raise ValueError("url: TLS files are set, so it must start with mqtts://")
        return self

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"

    @property
    def host(self) -> str:
        host = urlsplit(self.url).hostname
        assert host is not None
        return host

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or (8883 if self.tls else 1883)
