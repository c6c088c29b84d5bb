"""The settings of every Driftline command: one frozen object, built once at the entry point.

Nothing below the CLI reads ``os.environ``; it is handed a ``Settings``. The worker, replay,
``profile``, ``simulate`` and the clients all start from ``Settings.from_env`` (the one
environment reader, ``streams.env_reader``), command-line flags given as overrides.

A knob the core uses has its default in the core class that uses it (``MonitorConfig``,
``PerformanceConfig``, ``SpecRegistry``, ``EventDecoder``); the field here takes that
default, and ``monitor_config()`` / ``performance_config()`` / ``spec_registry()`` /
``event_decoder()`` build the core objects from the fields, so the worker and replay
configure the core the same way.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal

from streams.core.abuse.abuse_tracker import AbuseConfig
from streams.core.contract.decoder import EventDecoder
from streams.core.contract.registry import SpecRegistry, UnknownModelPolicy
from streams.core.contract.spec import DEFAULT_LATENCY_OBJECTIVE_MS, ModelSpec
from streams.core.detectors import configs_from_json
from streams.core.drift.model_monitor import MonitorConfig
from streams.core.labels.performance_monitor import PerformanceConfig
from streams.core.rollout import CanaryConfig, Rollouts
from streams.env_reader import read_env, variable
from streams.kafka_config import KafkaConfig
from streams.settings_checks import SASL_MECHANISMS, SECURITY_PROTOCOLS, check_settings

__all__ = ["SASL_MECHANISMS", "SECRETS", "SECURITY_PROTOCOLS", "Settings", "setting_default"]

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
#: Settings that are secrets: kept out of ``repr``, and each also read from a file named by
#: ``DRIFTLINE_<NAME>_FILE`` (how Kubernetes mounts Secrets), not both.
SECRETS: tuple[str, ...] = ("kafka_sasl_password", "web_token", "pii_key", "webhook_token")


def _default(owner: type, name: str) -> Any:
    """The default of ``owner``'s field or keyword argument ``name``: the one place it is
    written, so a setting and the core class it configures cannot disagree."""
    if is_dataclass(owner):
        (spec,) = [spec for spec in fields(owner) if spec.name == name]
        default = spec.default
    else:
        default = inspect.signature(owner).parameters[name].default
    if default is MISSING or default is inspect.Parameter.empty:
        raise TypeError(f"{owner.__name__}.{name} has no plain default")
    return default


# A module constant: a call in a field whose type is a Literal alias reads to linters as a
# mutable default (RUF009); the value is a plain string.
_UNKNOWN_MODELS: UnknownModelPolicy = _default(SpecRegistry, "unknown_models")


@dataclass(frozen=True, slots=True)
class Settings:
    """Every knob of a Driftline worker (and of replay, profile, simulate and the clients).

    Each field ``name`` is read from the environment variable ``DRIFTLINE_<NAME>`` (see
    ``from_env``); a default the core also uses is taken from the core class.
    """

    kafka_bootstrap: str = "127.0.0.1:9092"
    # How every Kafka client authenticates (streams/kafka_config.py builds their configs).
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    # A secret (see SECRETS): also read from DRIFTLINE_KAFKA_SASL_PASSWORD_FILE.
    kafka_sasl_password: str | None = field(default=None, repr=False)
    kafka_ssl_ca_file: Path | None = None
    kafka_ssl_cert_file: Path | None = None
    kafka_ssl_key_file: Path | None = None
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "driftline"
    # Replicas of the Redis primary that must hold a batch's writes before it is acked
    # (WAIT; streams/adapters/redis/replicas.py), and how long one wait may take. 0: no wait
    # (a primary lost with writes not yet replicated may then lose a crashed worker's last
    # batches). Not with a Redis Cluster URL.
    redis_replicas: int = 0
    redis_replicas_timeout_ms: int = 1000
    app_id: str = "driftline"
    topic_predictions: str = "predictions"
    topic_labels: str = "labels"
    topic_alerts: str = "alerts"
    topic_dlq: str = "predictions-dlq"
    topic_labels_dlq: str = "labels-dlq"
    topic_retrain: str = "retrain-requests"
    # How a model's events reach the one worker that owns its state. "repartition": a
    # routing stage forwards every record to an internal topic keyed by model id (right
    # whatever keys the producers use). "direct": the same, but a prediction already on the
    # partition its model maps to (keyed by model_id with librdkafka's partitioner) is
    # applied where it is read, with no copy. "keyed": monitors run directly on the input
    # topics, correct ONLY when every producer keys by model_id with the same partitioner.
    routing: str = "repartition"
    # The internal topics of "repartition" (empty: "<app_id>-predictions-by-model" and
    # "<app_id>-labels-by-model").
    topic_by_model: str = ""
    topic_labels_by_model: str = ""
    # "repartition" sends the records bound for one by-model partition together, in bundles
    # of up to this many bytes; 0: a copy per record, which workers of versions before
    # bundles can read (set it while such workers still run, e.g. in a rolling upgrade).
    routing_bundle_bytes: int = 262_144
    partitions: int = 4
    # Replicas of each topic the worker creates, and how many must hold a record before
    # acks=all succeeds. 0: from the brokers that answer at creation, min(3, brokers) and
    # 2 when that is 3 or more, else 1. Topics that exist already are left as they are.
    replication_factor: int = 0
    min_insync_replicas: int = 0
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    # When set, /metrics answers only requests with "Authorization: Bearer <token>". A secret.
    web_token: str | None = field(default=None, repr=False)
    batch_size: int = 1000
    # Under a backlog, fetched chunks waiting for the busy worker are joined into one batch
    # of at most this many records (what a batch costs per model is then paid once).
    batch_max_records: int = 5000
    max_message_bytes: int = _default(EventDecoder, "max_message_bytes")
    max_features: int = _default(EventDecoder, "max_features")
    unknown_models: UnknownModelPolicy = _UNKNOWN_MODELS
    warmup_events: int = _default(SpecRegistry, "warmup_events")
    max_models: int = _default(SpecRegistry, "max_models")
    # A warm-up frees its model slot if it has not completed this long after it started.
    warmup_timeout_s: float = _default(SpecRegistry, "warmup_timeout_s")
    # Watched versions per model; a new one retires the least recently seen if it has been
    # unseen this long, else its events are dead-lettered (version_limit).
    max_versions_per_model: int = _default(SpecRegistry, "max_versions_per_model")
    version_idle_s: float = _default(SpecRegistry, "version_idle_s")
    max_statistic_series: int = 5000
    window_events: int = _default(MonitorConfig, "window_events")
    reference_events: int = _default(MonitorConfig, "reference_events")
    # Detector settings over their defaults, a JSON object by detector name, e.g.
    # {"psi": {"threshold": 0.15}, "cusum": {"enabled": true}} (a model spec's own
    # "detectors" go over these).
    detectors: str = ""
    # Events per window of the adversarial patterns (models whose spec names a
    # source_attribute): enough that a source with a few % of the traffic shows a pattern.
    abuse_window_events: int = _default(AbuseConfig, "window_events")
    state_ttl_s: int = 30 * 86400
    # How often a worker checks that Redis still has the state it saved (a Redis restarted
    # without persistence loses it), and saves what it holds again where not.
    lost_state_check_s: float = 30.0
    # The label join: how long a prediction waits for its label (0: predictions are not
    # kept, labels cannot join), and a label for its prediction.
    label_ttl_s: int = 7 * 86400
    label_wait_s: int = 600
    max_early_labels: int = 100_000
    # Duplicate event ids (producer retries) within this many seconds are counted and
    # skipped (0: off).
    dedup_ttl_s: int = 600
    label_retry_s: float = 5.0
    # Retraining requests: after this many evaluations (250 labels each) of a persisting
    # performance or concept-drift episode, then none for the cooldown's evaluations.
    retrain_after: int = _default(PerformanceConfig, "retrain_after")
    retrain_cooldown: int = _default(PerformanceConfig, "retrain_cooldown")
    # Performance alerts: an accuracy/F1/ROC AUC drop below the reference, or a relative
    # MAE/RMSE rise above it, confidently past the margin, judged once the window holds
    # this many labels; the reference is the first reference_labels labels unless a
    # profile brings one; alpha is the chance of any false performance or concept-drift
    # alert per 1,000,000 labels.
    performance_reference_labels: int = _default(PerformanceConfig, "reference_labels")
    performance_alpha: float = _default(PerformanceConfig, "alpha")
    performance_max_drop: float = _default(PerformanceConfig, "max_drop")
    performance_max_error_rise: float = _default(PerformanceConfig, "max_error_rise")
    performance_min_labels: int = _default(PerformanceConfig, "min_labels")
    # How soon the group notices a dead worker and hands its partitions to another
    # (heartbeats go every tenth of it, from the consumer's own thread).
    session_timeout_s: float = 10.0
    # Static group membership: a worker restarted under the same id (a StatefulSet pod, or
    # a container restarted in its pod) gets its partitions back at once instead of after
    # the session timeout. Empty: dynamic membership (a stopping worker leaves the group).
    group_instance_id: str = ""
    # How often acked offsets are committed to the group (Faust's default): a crash
    # redelivers at most about this much, which Redis's offsets then skip.
    commit_interval_s: float = 2.8
    # How long one send to Kafka may wait (Faust's default is 1200 s): a topic that cannot be
    # written fails the send then, and the writer counts a retry instead of waiting silently.
    producer_timeout_s: float = 60.0
    spec_refresh_s: float = 10.0
    # PII features and attributes: "hash" (HMAC under pii_key, a secret) or "drop".
    pii: str = "hash"
    pii_key: str | None = field(default=None, repr=False)
    # Dead letters of events with a known spec carry PII as keyed hashes (or without it).
    dlq_redact_pii: bool = False
    # A partition with lag and no progress for this long makes /health fail (503).
    stall_s: float = 60.0
    # The model latency SLO's objective (ms) for models whose spec sets no
    # latency_objective_ms: the worker exports each model's, the rules judge against it.
    latency_objective_ms: float = DEFAULT_LATENCY_OBJECTIVE_MS
    specs_dir: Path | None = None
    # Faust keeps small bookkeeping files here (in the working directory unless told).
    data_dir: Path = Path("~/.local/state/driftline/faust")
    # The webhook alert sink (streams/adapters/http/webhook_sink.py), off while the URL is
    # empty: each alert POSTed after Kafka has it, retried this many times, best effort.
    webhook_url: str = field(default="", repr=False)  # Slack's URLs embed their secret
    webhook_timeout_s: float = 5.0
    webhook_retries: int = 3
    # Sent as "Authorization: Bearer <token>". A secret.
    webhook_token: str | None = field(default=None, repr=False)
    # A new model version's reference: "inherit" the previous version's (a release that
    # shifts every score raises prediction_drift) or learn its "own" from its first events.
    new_version_reference: str = "inherit"
    # Canary verdicts: two versions of a model compared on the same event-time windows of
    # this length, judged once each has this many events (streams/core/rollout/canary.py).
    canary_window_s: float = _default(CanaryConfig, "window_s")
    canary_min_events: int = _default(CanaryConfig, "min_events")

    def __post_init__(self) -> None:
        check_settings(self)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Read ``DRIFTLINE_*`` variables; ``overrides`` (from CLI flags) win over them.

        An override of ``None`` is a flag not given: the variable (else the default) holds.
        """
        values = read_env(cls, environ)
        values.update({key: value for key, value in overrides.items() if value is not None})
        for name in SECRETS:
            _read_secret_file(name, environ, values)
        return cls(**values)

    @property
    def kafka(self) -> KafkaConfig:
        """How every Kafka client connects: bootstrap, protocol, SASL and TLS."""
        return KafkaConfig(
            bootstrap=self.kafka_bootstrap,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=self.kafka_sasl_password,
            ssl_ca_file=self.kafka_ssl_ca_file,
            ssl_cert_file=self.kafka_ssl_cert_file,
            ssl_key_file=self.kafka_ssl_key_file,
        )

    def event_decoder(self) -> EventDecoder:
        """The prediction decoder, with this worker's message and feature caps."""
        return EventDecoder(max_message_bytes=self.max_message_bytes,
                            max_features=self.max_features)  # fmt: skip

    def spec_registry(self, specs: Iterable[ModelSpec] = ()) -> SpecRegistry:
        """A registry of ``specs`` with the unknown-model policy, warm-up and caps."""
        return SpecRegistry(
            specs,
            unknown_models=self.unknown_models,
            warmup_events=self.warmup_events,
            max_models=self.max_models,
            warmup_timeout_s=self.warmup_timeout_s,
            max_versions_per_model=self.max_versions_per_model,
            version_idle_s=self.version_idle_s,
        )

    def monitor_config(self) -> MonitorConfig:
        """The drift monitors' windows and detector settings (``DRIFTLINE_DETECTORS`` over
        each detector's defaults; a model spec's own ``detectors`` go over these)."""
        return MonitorConfig(
            window_events=self.window_events,
            reference_events=self.reference_events,
            detectors=configs_from_json(self.detectors),
            abuse=AbuseConfig(window_events=self.abuse_window_events),
        )

    def canary_config(self) -> CanaryConfig:
        """How a model's versions are compared (canary verdicts, shadow traffic)."""
        return CanaryConfig(window_s=self.canary_window_s, min_events=self.canary_min_events)

    def rollouts(self) -> Rollouts:
        """The canary and shadow state of every model, empty."""
        return Rollouts(self.canary_config(), max_models=self.max_models)

    def performance_config(self) -> PerformanceConfig:
        """The performance monitors' margins and retraining policy."""
        return PerformanceConfig(
            max_drop=self.performance_max_drop,
            max_error_rise=self.performance_max_error_rise,
            min_labels=self.performance_min_labels,
            reference_labels=self.performance_reference_labels,
            alpha=self.performance_alpha,
            retrain_after=self.retrain_after,
            retrain_cooldown=self.retrain_cooldown,
        )

    @property
    def predictions_by_model(self) -> str:
        """The internal topic of the predictions, keyed by model id."""
        return self.topic_by_model or f"{self.app_id}-predictions-by-model"

    @property
    def labels_by_model(self) -> str:
        """The internal topic of the labels, keyed by model id."""
        return self.topic_labels_by_model or f"{self.app_id}-labels-by-model"

    @property
    def internal_topics(self) -> dict[str, str]:
        """Each internal topic the worker needs -> the input topic it copies (none when
        ``routing`` is "keyed")."""
        if self.routing == "keyed":
            return {}
        return {self.predictions_by_model: self.topic_predictions,
                self.labels_by_model: self.topic_labels}  # fmt: skip

    def monitored(self, topic: str) -> str:
        """The topic the monitors read for input ``topic``: its by-model copy when routing
        repartitions, else the topic itself (whose offsets Redis then keeps)."""
        return {v: k for k, v in self.internal_topics.items()}.get(topic, topic)

    @property
    def topics(self) -> tuple[str, ...]:
        return (self.topic_predictions, self.topic_labels, self.topic_alerts, self.topic_dlq,
                self.topic_labels_dlq, self.topic_retrain)  # fmt: skip


def setting_default(name: str) -> Any:
    """The default of setting ``name``, for an adapter whose keyword argument it configures
    (``RedisLabelJoin(ttl_s=...)``), so that default too is written only once."""
    return _default(Settings, name)


def _read_secret_file(name: str, environ: Mapping[str, str], values: dict[str, Any]) -> None:
    """Put the secret in ``DRIFTLINE_<NAME>_FILE`` (a mounted Kubernetes Secret) into the
    values, read here at the entry point so nothing below it touches files for settings."""
    secret = variable(name)
    path = environ.get(f"{secret}_FILE")
    if not path:
        return
    if values.get(name):
        raise ValueError(f"set {secret} or {secret}_FILE, not both")
    try:
        # A Secret mounted from a file written by hand often ends with a newline.
        values[name] = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ValueError(f"{secret}_FILE={path!r} cannot be read: {exc.strerror}") from exc
