"""Thin adapters between the pure core and Kafka, Redis, Faust and Prometheus."""
