"""Replay reads a file in chunks: the same records, line numbers included, as line by line."""

from __future__ import annotations

import io
import random

import pytest

from streams.adapters.files import replay as replay_module
from streams.core.contract.event import RawRecord


def _line_by_line(data: bytes) -> list[RawRecord]:
    return [
        RawRecord(line.rstrip(b"\r\n"), 0, "f", 0, number)
        for number, line in enumerate(io.BytesIO(data))
    ]


@pytest.mark.parametrize("chunk", [1, 2, 7, 64])
def test_chunked_reading_gives_the_records_of_line_by_line(monkeypatch, chunk):
    monkeypatch.setattr(replay_module, "_CHUNK_BYTES", chunk)
    rng = random.Random(chunk)
    for _ in range(500):
        data = bytes(rng.choice(b"ab\r\n") for _ in range(rng.randrange(0, 40)))
        got = list(replay_module.records_of(io.BytesIO(data), "f"))
        assert got == _line_by_line(data), data


def test_lines_given_as_a_list_are_read_as_given():
    lines = [b'{"a": 1}\n', b"\r\n", b"last"]
    got = [r.value for r in replay_module.records_of(lines, "f")]
    assert got == [b'{"a": 1}', b"", b"last"]
