"""Every producer of the worker waits for all in-sync replicas and is idempotent, so a broker
that dies mid-stream loses no acknowledged record and a retried batch is written once."""

from __future__ import annotations

from streams.adapters.faust.app import _build_app
from streams.adapters.kafka.producer import KafkaProducer
from streams.settings import Settings


def test_fausts_producer_is_idempotent_with_acks_all(tmp_path):
    app = _build_app(Settings(data_dir=tmp_path))
    options = {**app.producer._settings_default(), **app.producer._settings_extra()}
    assert options["acks"] == "all"
    assert options["enable_idempotence"] is True


def test_the_routing_producer_is_idempotent_with_acks_all():
    # A port nothing listens on: librdkafka connects as soon as it is built.
    kafka = Settings(kafka_bootstrap="127.0.0.1:1").kafka
    producer = KafkaProducer(kafka, timeout_s=5, max_message_bytes=1_000_000)
    assert producer._config["acks"] == "all"
    assert producer._config["enable.idempotence"] is True
