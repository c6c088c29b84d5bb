"""The worker's Kafka topics, declared on its app once."""

from __future__ import annotations

from dataclasses import dataclass

import faust

from streams.settings import Settings

__all__ = ["WorkerTopics", "declare_topics", "raw_topic"]


@dataclass(frozen=True, slots=True)
class WorkerTopics:
    """The topics the worker reads and writes, and the names its monitors read.

    ``watched_*`` is the input topic itself ("keyed") or its by-model copy.
    """

    predictions: faust.TopicT
    dead_letters: faust.TopicT
    alerts: faust.TopicT
    labels: faust.TopicT
    label_dead_letters: faust.TopicT
    retrain: faust.TopicT
    watched_predictions: str
    watched_labels: str


def raw_topic(app: faust.App, name: str) -> faust.TopicT:
    """``name`` on ``app``, its keys and values bytes as they are (the core decodes them)."""
    return app.topic(name, key_serializer="raw", value_serializer="raw")


def declare_topics(app: faust.App, settings: Settings) -> WorkerTopics:
    """The six topics of ``settings`` on ``app``, in the order the worker always declared them."""
    return WorkerTopics(
        predictions=raw_topic(app, settings.topic_predictions),
        dead_letters=raw_topic(app, settings.topic_dlq),
        alerts=raw_topic(app, settings.topic_alerts),
        labels=raw_topic(app, settings.topic_labels),
        label_dead_letters=raw_topic(app, settings.topic_labels_dlq),
        retrain=raw_topic(app, settings.topic_retrain),
        watched_predictions=settings.monitored(settings.topic_predictions),
        watched_labels=settings.monitored(settings.topic_labels),
    )
