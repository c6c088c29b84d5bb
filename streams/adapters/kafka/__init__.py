"""Kafka: topics and their configs (``admin``), records in and out (``records``), dead letters,
and the routing stage that re-keys input by model."""
