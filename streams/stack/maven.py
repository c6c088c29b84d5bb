"""The Kafka jars, fetched from Maven Central once per machine and version."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from streams.stack import templates
from streams.stack.config import StackConfig
from streams.stack.errors import StackError
from streams.stack.service import Log

# Written last into a fetch directory: a cache without it was never finished.
_MARKER = "complete"
_FETCH_TIMEOUT = 900.0


def kafka_libs(config: StackConfig, log: Log) -> Path:
    """Return the directory of the Kafka jars, fetching them first if not cached.

    Raises
    ------
    StackError
        If Maven is missing or the fetch fails.
    """
    home = config.cache_dir / f"kafka-{config.kafka_version}"
    if not (home / _MARKER).is_file():
        _fetch(config, home, log)
    return home / "libs"


def _fetch(config: StackConfig, home: Path, log: Log) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError("kafka: Maven (mvn) is not on PATH; it fetches the Kafka jars. Install it")
    config.cache_dir.mkdir(parents=True, exist_ok=True)
    log(f"kafka: fetching Kafka {config.kafka_version} jars into {home} (once per machine)")
    # Fetch next to the final place and rename at the end, so an interrupted fetch never
    # leaves a directory that looks complete.
    work = Path(tempfile.mkdtemp(prefix=f".{home.name}-", dir=config.cache_dir))
    try:
        pom = templates.render("kafka-pom.xml", kafka_version=config.kafka_version)
        (work / "pom.xml").write_text(pom)
        _copy_dependencies(mvn, work, config)
        (work / _MARKER).write_text(f"{config.kafka_version}\n")
        _replace_dir(work, home)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"kafka: jars cached in {home / 'libs'}")


def _copy_dependencies(mvn: str, work: Path, config: StackConfig) -> None:
    argv = [
        mvn,
        "-q",
        "-B",
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={work / 'libs'}",
    ]
    try:
        done = subprocess.run(
            argv, cwd=work, capture_output=True, text=True, timeout=_FETCH_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise StackError(
            f"kafka: fetching the jars with Maven took over {_FETCH_TIMEOUT:.0f} s; gave up"
        ) from None
    if done.returncode != 0 or not any((work / "libs").glob("kafka_*.jar")):
        output = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise StackError(
            f"kafka: Maven could not fetch org.apache.kafka:kafka_2.13:{config.kafka_version}"
            f" (exit {done.returncode}); is the version right and Maven Central reachable?\n"
            f"{output}"
        )


def _replace_dir(work: Path, home: Path) -> None:
    if home.exists() and not (home / _MARKER).is_file():
        shutil.rmtree(home)  # not left by a finished fetch, so not to be trusted
    try:
        work.rename(home)
    except OSError:
        # A concurrent `up` finished the same fetch first; its copy is as good as ours.
        if not (home / _MARKER).is_file():
            raise
