"""Driftline: streaming ML monitoring on Kafka."""

__version__ = "0.1.0"
