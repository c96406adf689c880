"""What the MQTT link itself publishes on `events`: a broker that refuses the box, an outbox
item the broker would not take, a link that only works one way (contract 1.1, section 2)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from edge.wire.fields import EventBody


class LinkRefused(EventBody):
    """The broker refused the connection (CONNACK with an error reason code), or the TLS
    handshake failed (e.g. a client certificate the broker does not trust). Raised once per
    reason until a connection is accepted; published once the box is connected again."""

    event_type: ClassVar[str] = "link_refused"
    fault: ClassVar[bool] = True

    reason: str = Field(description="The CONNACK reason code by name, or the TLS error.")
    reason_code: int | None = Field(description="The CONNACK reason code; null for TLS.")


class OutboxRefused(EventBody):
    """The broker did not take a record or reply: a PUBACK with an error reason code (MQTT 5),
    or an item larger than the broker's Maximum Packet Size. The item stays in the outbox and
    is sent again later."""

    event_type: ClassVar[str] = "outbox_refused"
    fault: ClassVar[bool] = True

    topic: Literal["records", "replies"] = Field(description="The item's topic suffix.")
    outbox_id: int = Field(description="The item's place in the box's outbox.")
    reason: str = Field(description="The PUBACK reason code by name, or why it was not sent.")
    reason_code: int | None = Field(description="The PUBACK reason code; null when not sent.")


class LinkOneWay(EventBody):
    """A probe the box published to itself did not come back within mqtt.probe_timeout_s
    while the box was connected: the broker takes the box's messages but no longer delivers
    to it (no commands either). The box reconnects, keeping its session."""

    event_type: ClassVar[str] = "link_one_way"
    fault: ClassVar[bool] = True

    probe: int = Field(description="The number `n` of the probe that did not come back.")
    waited_s: float = Field(description="How long the box waited for it.")


LINK_EVENTS: tuple[type[EventBody], ...] = (LinkRefused, OutboxRefused, LinkOneWay)
