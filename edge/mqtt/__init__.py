"""The box's MQTT link: status, telemetry, events, the durable outbox and commands.

Import from the modules (`edge.mqtt.link`, `edge.mqtt.config`, ...): this package imports
nothing, so reading the config (`edge.mqtt.config`) does not pull in paho and the store."""
