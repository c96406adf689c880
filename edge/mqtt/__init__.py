"""The box's MQTT link: status, telemetry, events, the durable outbox and commands."""

from edge.mqtt.config import MqttConfig
from edge.mqtt.link import LinkCounters, MqttLink, MqttSetupError

__all__ = ["LinkCounters", "MqttConfig", "MqttLink", "MqttSetupError"]
