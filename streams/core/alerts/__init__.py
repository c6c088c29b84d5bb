"""Alerts: the values Driftline emits (``alert``, ``retrain_request``), the rule that makes one
alert per episode (``alert_rule``) and the port they leave by (``sink``: ``AlertSink``, with an
in-memory sink; the Kafka, JSONL and webhook sinks are adapters, registered in
``streams/adapters/sinks.py``)."""
