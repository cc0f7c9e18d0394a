"""The JVM command line shared by the Java servers."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path


def java_executable() -> str:
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("java is not on PATH; Kafka and Cassandra need Java 17")
    return java


def classpath(lib: Path) -> str:
    return f"{lib}/*"


def java_command(
    *, lib: Path, main: str, heap: str, tmp: Path, props: dict[str, str],
    extra: Sequence[str] = (), args: Sequence[str] = (),
    collector: Sequence[str] = ("-XX:+UseG1GC",),
) -> list[str]:
    """``java`` with a fixed heap and ``collector``'s options, then ``extra``, the
    system properties, the classpath of ``lib``'s jars, ``main`` and its ``args``."""
    tmp.mkdir(parents=True, exist_ok=True)
    return [
        java_executable(),
        f"-Xms{heap}",
        f"-Xmx{heap}",
        *collector,
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        # Native libraries (JNA, netty epoll, snappy) unpack here: keep it executable
        # and per run instead of a possibly noexec /tmp.
        f"-Djava.io.tmpdir={tmp}",
        f"-Djna.tmpdir={tmp}",
        *extra,
        *(f"-D{k}={v}" for k, v in props.items()),
        "-cp",
        classpath(lib),
        main,
        *args,
    ]
