"""What the box publishes and receives over MQTT, as pydantic models (contract sections 2 to 5).

`fields` has what every payload is built from (and the bodies the controllers emit); each kind of
box defines its own records, events, results and telemetry in its folder. `messages` gathers them
into the models of every topic and `validate_outgoing`; `asyncapi` builds the AsyncAPI document
(docs/asyncapi.json) from the same models and edge.mqtt.topics.Topics.
"""
