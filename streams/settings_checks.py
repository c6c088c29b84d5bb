"""The checks of ``Settings``: each value in its range, and the settings that go together
(Kafka's security, the webhook, rollouts), each error naming the variable to change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from streams.core.contract.spec import MAX_LATENCY_OBJECTIVE_MS
from streams.core.detectors import configs_from_json
from streams.env_reader import variable

if TYPE_CHECKING:
    from streams.settings import Settings

__all__ = ["MAX_ROUTING_BUNDLE_BYTES", "SASL_MECHANISMS", "SECURITY_PROTOCOLS", "check_settings"]

SECURITY_PROTOCOLS: tuple[str, ...] = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS: tuple[str, ...] = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
#: A bundle and its headers stay under Kafka's default record limit (1,048,588 bytes).
MAX_ROUTING_BUNDLE_BYTES = 1_000_000


def check_settings(settings: Settings) -> None:
    """Raise ``ValueError`` naming the variable of the first setting out of its range, or
    of settings that do not go together."""
    positive = ("partitions", "batch_size", "batch_max_records", "max_message_bytes",
                "session_timeout_s",
                "commit_interval_s", "producer_timeout_s",
                "state_ttl_s", "label_retry_s", "retrain_after", "performance_max_error_rise",
                "performance_min_labels", "performance_reference_labels",
                "stall_s")  # fmt: skip
    caps = ("max_features", "warmup_events", "max_models", "warmup_timeout_s",
            "max_versions_per_model")  # fmt: skip
    for name in (*positive, *caps, "spec_refresh_s", "lost_state_check_s"):
        if getattr(settings, name) <= 0:
            raise ValueError(f"{variable(name)} must be positive")
    if settings.dedup_ttl_s < 0:
        raise ValueError("DRIFTLINE_DEDUP_TTL_S must not be negative")
    if settings.abuse_window_events < 100:
        raise ValueError("DRIFTLINE_ABUSE_WINDOW_EVENTS must be at least 100")
    if min(settings.label_ttl_s, settings.label_wait_s, settings.max_early_labels,
           settings.retrain_cooldown, settings.version_idle_s) < 0:  # fmt: skip
        raise ValueError("DRIFTLINE_LABEL_TTL_S, _LABEL_WAIT_S, _MAX_EARLY_LABELS, "
                         "_RETRAIN_COOLDOWN and _VERSION_IDLE_S must not be "
                         "negative")  # fmt: skip
    if not 0 < settings.latency_objective_ms <= MAX_LATENCY_OBJECTIVE_MS:
        raise ValueError(
            f"DRIFTLINE_LATENCY_OBJECTIVE_MS must be in (0, {MAX_LATENCY_OBJECTIVE_MS}]"
        )
    if not 0 < settings.performance_max_drop < 1:
        raise ValueError("DRIFTLINE_PERFORMANCE_MAX_DROP must be in (0, 1)")
    if not 0 < settings.performance_alpha < 1:
        raise ValueError("DRIFTLINE_PERFORMANCE_ALPHA must be in (0, 1)")
    if min(settings.replication_factor, settings.min_insync_replicas) < 0:
        raise ValueError("DRIFTLINE_REPLICATION_FACTOR and _MIN_INSYNC_REPLICAS must not be "
                         "negative (0: derived from the brokers)")  # fmt: skip
    if 0 < settings.replication_factor < settings.min_insync_replicas:
        raise ValueError("DRIFTLINE_MIN_INSYNC_REPLICAS must not exceed "
                         "DRIFTLINE_REPLICATION_FACTOR: no write could succeed")  # fmt: skip
    if not 0 < settings.web_port < 65536:
        raise ValueError(f"DRIFTLINE_WEB_PORT must be a port number, got {settings.web_port}")
    if settings.pii not in ("hash", "drop"):
        raise ValueError(f"DRIFTLINE_PII must be 'hash' or 'drop', not {settings.pii!r}")
    if not 0 <= settings.routing_bundle_bytes <= MAX_ROUTING_BUNDLE_BYTES:
        raise ValueError(
            f"DRIFTLINE_ROUTING_BUNDLE_BYTES must be in [0, {MAX_ROUTING_BUNDLE_BYTES}]"
        )
    if settings.routing not in ("repartition", "direct", "keyed"):
        raise ValueError("DRIFTLINE_ROUTING must be 'repartition', 'direct' or 'keyed', "
                         f"not {settings.routing!r}")  # fmt: skip
    if settings.unknown_models not in ("auto", "reject"):
        raise ValueError("DRIFTLINE_UNKNOWN_MODELS must be 'auto' or 'reject'")
    try:
        configs_from_json(settings.detectors)
    except ValueError as exc:
        raise ValueError(f"DRIFTLINE_DETECTORS: {exc}") from exc
    _check_kafka_security(settings)
    _check_redis_replicas(settings)
    _check_webhook(settings)
    _check_rollouts(settings)


def _check_rollouts(settings: Settings) -> None:
    if settings.new_version_reference not in ("inherit", "own"):
        raise ValueError("DRIFTLINE_NEW_VERSION_REFERENCE must be 'inherit' or 'own'")
    if settings.canary_window_s <= 0 or settings.canary_min_events < 10:
        raise ValueError("DRIFTLINE_CANARY_WINDOW_S must be positive and "
                         "DRIFTLINE_CANARY_MIN_EVENTS at least 10")  # fmt: skip


def _check_redis_replicas(settings: Settings) -> None:
    if settings.redis_replicas < 0 or settings.redis_replicas_timeout_ms < 1:
        raise ValueError("DRIFTLINE_REDIS_REPLICAS must not be negative and "
                         "DRIFTLINE_REDIS_REPLICAS_TIMEOUT_MS must be positive")  # fmt: skip


def _check_webhook(settings: Settings) -> None:
    if settings.webhook_url and not settings.webhook_url.startswith(("http://", "https://")):
        raise ValueError("DRIFTLINE_WEBHOOK_URL must start with http:// or https://")
    if settings.webhook_timeout_s <= 0 or settings.webhook_retries < 0:
        raise ValueError("DRIFTLINE_WEBHOOK_TIMEOUT_S must be positive and "
                         "DRIFTLINE_WEBHOOK_RETRIES not negative")  # fmt: skip


def _check_kafka_security(settings: Settings) -> None:
    protocol = settings.kafka_security_protocol
    if protocol not in SECURITY_PROTOCOLS:
        raise ValueError(
            f"DRIFTLINE_KAFKA_SECURITY_PROTOCOL must be one of "
            f"{', '.join(SECURITY_PROTOCOLS)}, got {protocol!r}"
        )
    sasl_fields = ("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password")
    given = [name for name in sasl_fields if getattr(settings, name)]
    if protocol.startswith("SASL_"):
        missing = ", ".join(variable(n) for n in sasl_fields if n not in given)
        if missing:
            raise ValueError(
                f"DRIFTLINE_KAFKA_SECURITY_PROTOCOL={protocol} needs {missing} "
                "(the password may come from DRIFTLINE_KAFKA_SASL_PASSWORD_FILE)"
            )
        if settings.kafka_sasl_mechanism not in SASL_MECHANISMS:
            raise ValueError(
                f"DRIFTLINE_KAFKA_SASL_MECHANISM must be one of "
                f"{', '.join(SASL_MECHANISMS)}, got {settings.kafka_sasl_mechanism!r}"
            )
    elif given:
        raise ValueError(
            f"DRIFTLINE_KAFKA_SASL_* is set but DRIFTLINE_KAFKA_SECURITY_PROTOCOL={protocol} "
            "does not use SASL: use SASL_PLAINTEXT or SASL_SSL"
        )
    tls_files = (
        settings.kafka_ssl_ca_file,
        settings.kafka_ssl_cert_file,
        settings.kafka_ssl_key_file,
    )
    if not protocol.endswith("SSL") and any(tls_files):
        raise ValueError(
            f"DRIFTLINE_KAFKA_SSL_* is set but DRIFTLINE_KAFKA_SECURITY_PROTOCOL={protocol} "
            "does not use TLS: use SSL or SASL_SSL"
        )
    if (settings.kafka_ssl_cert_file is None) != (settings.kafka_ssl_key_file is None):
        raise ValueError(
            "DRIFTLINE_KAFKA_SSL_CERT_FILE and DRIFTLINE_KAFKA_SSL_KEY_FILE go together "
            "(a client certificate and its key, for mutual TLS)"
        )
