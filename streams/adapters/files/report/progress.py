"""A progress bar on a terminal while a file's lines are read (nothing when it is not one)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from typing import BinaryIO, TextIO

__all__ = ["progress_lines"]

_WIDTH = 30
_EVERY_S = 0.2


def progress_lines(file: BinaryIO, out: TextIO | None) -> Iterator[bytes]:
    """The lines of ``file``; while they are read, a bar of the bytes read so far is drawn
    on ``out`` if it is a terminal (a log or a pipe gets no carriage returns)."""
    if out is None or not out.isatty():
        yield from file
        return
    yield from _drawn(file, out, max(os.fstat(file.fileno()).st_size, 1))


def _drawn(lines: Iterable[bytes], out: TextIO, total: int) -> Iterator[bytes]:
    done, shown = 0, time.monotonic()
    _draw(out, 0, total)
    for line in lines:
        done += len(line)
        if time.monotonic() - shown >= _EVERY_S:
            shown = time.monotonic()
            _draw(out, done, total)
        yield line
    _draw(out, total, total)
    out.write("\n")
    out.flush()


def _draw(out: TextIO, done: int, total: int) -> None:
    filled = _WIDTH * done // total
    bar = "#" * filled + "-" * (_WIDTH - filled)
    out.write(f"\rreading events [{bar}] {100 * done // total:3d}% ({done >> 20} MiB)")
    out.flush()
