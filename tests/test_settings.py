from __future__ import annotations

from pathlib import Path

import pytest

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


def test_detector_settings_are_read_as_json_and_checked():
    text = '{"psi": {"threshold": 0.2}, "cusum": {"enabled": true}}'
    assert Settings.from_env({"DRIFTLINE_DETECTORS": text}).detectors == text
    for bad in ('{"psi": {"threshold": -1}}', "psi=0.2", '{"kswin": {}}'):
        with pytest.raises(ValueError, match="DRIFTLINE_DETECTORS"):
            Settings.from_env({"DRIFTLINE_DETECTORS": bad})
