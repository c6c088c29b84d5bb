"""The one reader of DRIFTLINE_* variables: real types, and errors that name the variable."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

import pytest

from streams.env_reader import read_env, variable
from streams.stack.config import StackConfig

Mode = Literal["fast", "safe"]


@dataclass(frozen=True)
class Knobs:
    count: int = 1
    ratio: float = 0.5
    verbose: bool = False
    name: str = "x"
    folder: Path | None = None
    mode: Mode = "safe"
    secret: str | None = None


def test_values_are_converted_by_their_real_types():
    environ = {"DRIFTLINE_COUNT": "12", "DRIFTLINE_RATIO": "0.25", "DRIFTLINE_VERBOSE": "YES",
               "DRIFTLINE_NAME": " padded ", "DRIFTLINE_FOLDER": "/data",
               "DRIFTLINE_MODE": "fast", "DRIFTLINE_SECRET": "p w"}  # fmt: skip
    values = read_env(Knobs, environ)
    assert values == {"count": 12, "ratio": 0.25, "verbose": True, "name": " padded ",
                      "folder": Path("/data"), "mode": "fast", "secret": "p w"}  # fmt: skip
    assert type(values["count"]) is int and type(values["ratio"]) is float


def test_unset_empty_and_blank_variables_keep_the_default():
    environ = {"DRIFTLINE_COUNT": "", "DRIFTLINE_NAME": "   ", "OTHER_COUNT": "3"}
    assert read_env(Knobs, environ) == {}
    assert read_env(Knobs, {"DRIFTLINE_COUNT": "3"}, skip=("count",)) == {}


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DRIFTLINE_COUNT": "four"}, "DRIFTLINE_COUNT='four': expected an integer"),
        ({"DRIFTLINE_COUNT": "1.5"}, "DRIFTLINE_COUNT='1.5': expected an integer"),
        ({"DRIFTLINE_RATIO": "half"}, "DRIFTLINE_RATIO='half': expected a number"),
        ({"DRIFTLINE_VERBOSE": "maybe"}, "DRIFTLINE_VERBOSE='maybe': expected true or false"),
        ({"DRIFTLINE_MODE": "slow"}, "DRIFTLINE_MODE='slow' must be one of fast, safe"),
    ],
)
def test_a_bad_value_names_its_variable_and_what_was_expected(environ, message):
    with pytest.raises(ValueError, match=message):
        read_env(Knobs, environ)


def test_a_type_it_cannot_read_is_refused_only_when_set():
    @dataclass(frozen=True)
    class Nested:
        inner: Knobs | None = None

    assert read_env(Nested, {}) == {}
    with pytest.raises(TypeError, match="DRIFTLINE_INNER"):
        read_env(Nested, {"DRIFTLINE_INNER": "{}"})


def test_the_stack_reads_its_variables_through_it(tmp_path):
    config = StackConfig.from_env(
        {"DRIFTLINE_REDIS_PORT": "16000", "DRIFTLINE_STATE_DIR": str(tmp_path),
         "DRIFTLINE_SECURE": "true"}  # not a variable: --secure is a flag
    )  # fmt: skip
    assert (config.redis_port, config.state_dir, config.secure) == (16000, tmp_path, False)
    assert StackConfig.from_env({}, secure=True).secure
    with pytest.raises(ValueError, match="DRIFTLINE_KAFKA_PORT='x': expected an integer"):
        StackConfig.from_env({"DRIFTLINE_KAFKA_PORT": "x"})
    with pytest.raises(ValueError, match=r"kafka_port \(DRIFTLINE_KAFKA_PORT\)=0"):
        StackConfig.from_env({"DRIFTLINE_KAFKA_PORT": "0"})


def test_every_stack_variable_keeps_its_name():
    named = {variable(f.name) for f in fields(StackConfig) if f.name != "secure"}
    names = ("HOST", "KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "KAFKA_SECURE_PORT", "REDIS_PORT",
             "CACHE_DIR", "STATE_DIR", "KAFKA_VERSION", "KAFKA_HEAP", "KAFKA_BROKERS",
             "KAFKA_NODE_PORTS")  # fmt: skip
    assert named == {f"DRIFTLINE_{name}" for name in names}
