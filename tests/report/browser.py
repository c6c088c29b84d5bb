"""Headless Chromium for the report's tests: a page's screenshot, its DOM after scripts ran,
and every console message it wrote (a report page writes none)."""

from __future__ import annotations

import re
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

# Chromium logs each console message (any level, uncaught errors too) on stderr as
# ``...:INFO:CONSOLE:<line>] "<message>", source: <url> (<line>)``.
_CONSOLE = re.compile(r":CONSOLE[^\]]*\] (.*)")


@dataclass(frozen=True, slots=True)
class Rendered:
    screenshot: Path
    dom: str
    console: list[str]


def render(chromium: str, page: Path, folder: Path, *, height: int = 2400) -> Rendered:
    shot = folder / f"{page.stem}.png"
    done = subprocess.run(
        [chromium, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
         f"--user-data-dir={folder / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
         f"--window-size=1400,{height}", "--virtual-time-budget=10000",
         f"--screenshot={shot}", "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return Rendered(shot, done.stdout, _CONSOLE.findall(done.stderr))


def distinct_bytes(png: Path) -> int:
    """Distinct byte values of the PNG's pixel stream (filtered rows, not unfiltered): a
    blank page gives a handful, a page with text and charts nearly all 256."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG"
    pos, pixels = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            pixels += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return len(set(zlib.decompress(pixels)))
