from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streams.core.contract.decoder import EventDecoder
from streams.core.contract.registry import SpecRegistry
from streams.core.drift.model_monitor import MonitorConfig
from streams.core.labels.performance_monitor import PerformanceConfig
from streams.settings import SECRETS, Settings


def test_defaults_need_no_environment():
    settings = Settings.from_env({})
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.topics == (
        "predictions", "labels", "alerts", "predictions-dlq", "labels-dlq", "retrain-requests",
    )  # fmt: skip


def test_environment_and_overrides():
    settings = Settings.from_env(
        {
            "DRIFTLINE_PARTITIONS": "8",
            "DRIFTLINE_SPECS_DIR": "/specs",
            "DRIFTLINE_WEB_PORT": "7000",
        },
        web_port=7100,
        batch_size=None,
    )
    assert settings.partitions == 8
    assert settings.specs_dir == Path("/specs")
    assert settings.web_port == 7100
    assert settings.batch_size == 1000
    assert settings.latency_objective_ms == 250.0
    assert Settings.from_env({"DRIFTLINE_LATENCY_OBJECTIVE_MS": "80"}).latency_objective_ms == 80


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DRIFTLINE_PARTITIONS": "four"}, "DRIFTLINE_PARTITIONS='four'"),
        ({"DRIFTLINE_BATCH_SIZE": "0"}, "DRIFTLINE_BATCH_SIZE must be positive"),
        ({"DRIFTLINE_PERFORMANCE_MAX_DROP": "1.5"}, "MAX_DROP must be in"),
        ({"DRIFTLINE_LABEL_WAIT_S": "-1"}, "must not be negative"),
        ({"DRIFTLINE_WEB_PORT": "70000"}, "DRIFTLINE_WEB_PORT"),
        ({"DRIFTLINE_UNKNOWN_MODELS": "sometimes"}, "DRIFTLINE_UNKNOWN_MODELS"),
        ({"DRIFTLINE_WARMUP_TIMEOUT_S": "0"}, "DRIFTLINE_WARMUP_TIMEOUT_S must be positive"),
        ({"DRIFTLINE_MAX_VERSIONS_PER_MODEL": "0"}, "DRIFTLINE_MAX_VERSIONS_PER_MODEL must be"),
        ({"DRIFTLINE_VERSION_IDLE_S": "-5"}, "_VERSION_IDLE_S must not be negative"),
        ({"DRIFTLINE_LATENCY_OBJECTIVE_MS": "0"}, "DRIFTLINE_LATENCY_OBJECTIVE_MS must be in"),
        ({"DRIFTLINE_LATENCY_OBJECTIVE_MS": "nan"}, "DRIFTLINE_LATENCY_OBJECTIVE_MS must be in"),
        ({"DRIFTLINE_LATENCY_OBJECTIVE_MS": "1e9"}, "DRIFTLINE_LATENCY_OBJECTIVE_MS must be in"),
        ({"DRIFTLINE_REDIS_REPLICAS": "-1"}, "DRIFTLINE_REDIS_REPLICAS must not be negative"),
        ({"DRIFTLINE_REDIS_REPLICAS_TIMEOUT_MS": "0"}, "_REPLICAS_TIMEOUT_MS must be positive"),
    ],
)
def test_bad_values_name_their_variable(environ, message):
    with pytest.raises(ValueError, match=message):
        Settings.from_env(environ)


@pytest.mark.parametrize("name", SECRETS)
def test_every_secret_comes_from_its_file_too_and_is_never_printed(tmp_path, name):
    secret = "s3cr3t-" + name
    path = tmp_path / name
    path.write_text(secret + "\n")  # as a Secret written by hand may end
    # A SASL password is accepted only with the rest of a SASL set-up.
    sasl = {
        "DRIFTLINE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "DRIFTLINE_KAFKA_SASL_MECHANISM": "PLAIN",
        "DRIFTLINE_KAFKA_SASL_USERNAME": "u",
    }
    sasl = sasl if name.startswith("kafka") else {}
    settings = Settings.from_env({**sasl, f"DRIFTLINE_{name.upper()}_FILE": str(path)})
    assert getattr(settings, name) == secret
    assert secret not in repr(settings) and secret not in str(settings)


@pytest.mark.parametrize("name", SECRETS)
def test_a_secret_and_its_file_together_are_refused(tmp_path, name):
    variable = f"DRIFTLINE_{name.upper()}"
    with pytest.raises(ValueError, match=f"set {variable} or {variable}_FILE, not both"):
        Settings.from_env({variable: "a", f"{variable}_FILE": str(tmp_path / "x")})


# Each knob's default is written once, in the core class it configures.
CORE_DEFAULTS = {
    "window_events": (MonitorConfig, "window_events"),
    "reference_events": (MonitorConfig, "reference_events"),
    "performance_max_drop": (PerformanceConfig, "max_drop"),
    "performance_max_error_rise": (PerformanceConfig, "max_error_rise"),
    "performance_min_labels": (PerformanceConfig, "min_labels"),
    "retrain_after": (PerformanceConfig, "retrain_after"),
    "retrain_cooldown": (PerformanceConfig, "retrain_cooldown"),
}


def test_defaults_are_the_core_classes_own():
    settings = Settings()
    for name, (owner, knob) in CORE_DEFAULTS.items():
        assert getattr(settings, name) == getattr(owner(), knob), name
    registry, decoder = SpecRegistry(), EventDecoder()
    for name in ("unknown_models", "warmup_events", "max_models", "warmup_timeout_s"):
        assert getattr(settings, name) == getattr(registry, name), name
    assert settings.max_versions_per_model == registry.versions.per_model
    assert settings.version_idle_s == registry.versions.idle_s
    assert settings.max_message_bytes == decoder.max_message_bytes
    assert settings.max_features == decoder.max_features


def test_the_core_objects_are_built_from_the_settings():
    settings = Settings.from_env(
        {"DRIFTLINE_WINDOW_EVENTS": "300", "DRIFTLINE_PERFORMANCE_MAX_DROP": "0.1",
         "DRIFTLINE_RETRAIN_COOLDOWN": "0", "DRIFTLINE_UNKNOWN_MODELS": "reject",
         "DRIFTLINE_WARMUP_EVENTS": "7", "DRIFTLINE_MAX_FEATURES": "9"}
    )  # fmt: skip
    monitor, performance = settings.monitor_config(), settings.performance_config()
    assert (monitor.window_events, monitor.reference_events) == (300, 5000)
    assert (performance.max_drop, performance.retrain_cooldown) == (0.1, 0)
    assert performance.window_labels == PerformanceConfig().window_labels
    registry = settings.spec_registry()
    assert (registry.unknown_models, registry.warmup_events) == ("reject", 7)
    assert settings.event_decoder().max_features == 9


def test_kafka_config_does_not_import_settings():
    # The circle kafka_config <-> settings is gone: Settings builds the KafkaConfig.
    code = "import sys, streams.kafka_config; print('streams.settings' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert done.stdout.strip() == b"False"
    kafka = Settings.from_env({"DRIFTLINE_KAFKA_BOOTSTRAP": "k:1"}).kafka
    assert (kafka.bootstrap, kafka.security_protocol) == ("k:1", "PLAINTEXT")


def test_a_literal_setting_lists_its_choices():
    with pytest.raises(ValueError, match="DRIFTLINE_UNKNOWN_MODELS='sometimes' must be one of"):
        Settings.from_env({"DRIFTLINE_UNKNOWN_MODELS": "sometimes"})


def test_adapter_defaults_are_the_settings_own():
    import inspect

    from streams.adapters.redis.label_join import RedisLabelJoin
    from streams.adapters.redis.state_store import RedisMonitorStore

    join = inspect.signature(RedisLabelJoin).parameters
    store = inspect.signature(RedisMonitorStore).parameters
    settings = Settings()
    assert join["ttl_s"].default == settings.label_ttl_s
    assert join["wait_s"].default == settings.label_wait_s
    assert join["max_early"].default == settings.max_early_labels
    assert store["ttl_s"].default == settings.state_ttl_s


def test_detector_settings_are_read_as_json_and_checked():
    text = '{"psi": {"threshold": 0.2}, "cusum": {"enabled": true}}'
    assert Settings.from_env({"DRIFTLINE_DETECTORS": text}).detectors == text
    for bad in ('{"psi": {"threshold": -1}}', "psi=0.2", '{"kswin": {}}'):
        with pytest.raises(ValueError, match="DRIFTLINE_DETECTORS"):
            Settings.from_env({"DRIFTLINE_DETECTORS": bad})
