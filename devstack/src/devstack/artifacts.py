"""Installs into the cache: Maven Central jars, Go builds, Debian packages.

Every install is idempotent: a finished one leaves a marker and is skipped next
time; a lock keeps two runs from building the same thing at once. Only package
registries are used (Maven Central through mvn, the Go module proxy through go,
Debian's archive through apt-get).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack.settings import DEBIAN_PACKAGES, PROJECT_DIR, cache_dir

log = logging.getLogger(__name__)

_DONE = ".installed"


class InstallError(RuntimeError):
    """An install step failed; the message says which and how to retry."""


@contextmanager
def _locked(target: Path) -> Iterator[None]:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _run(argv: list[str], *, cwd: Path, what: str, env: dict[str, str] | None = None) -> None:
    started = time.monotonic()
    log.info("%s: %s", what, " ".join(argv))
    result = subprocess.run(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False
    )
    if result.returncode != 0:
        output = result.stdout.decode(errors="replace")[-6000:]
        raise InstallError(
            f"{what} failed (exit {result.returncode}) running {' '.join(argv)} in {cwd}.\n"
            f"{output}\nFix the cause and run the command again; finished steps are cached."
        )
    log.info("%s took %.1fs", what, time.monotonic() - started)


def maven_runtime(component: str, version: str) -> Path:
    """Copy a component's runtime jars (per devstack/maven/<component>/pom.xml)."""
    target = cache_dir() / f"{component}-{version}" / "lib"
    if (target / _DONE).exists():
        return target
    with _locked(target):
        if (target / _DONE).exists():
            return target
        if shutil.which("mvn") is None:
            raise InstallError(
                "mvn (Apache Maven) is not on PATH; install it: apt-get install maven")
        shutil.rmtree(target, ignore_errors=True)
        pom_dir = PROJECT_DIR / "maven" / component
        _run(
            [
                "mvn", "-B", "-q", "dependency:copy-dependencies",
                "-DincludeScope=runtime", f"-DoutputDirectory={target}",
                f"-D{component}.version={version}",
            ],
            cwd=pom_dir,
            what=f"fetching {component} {version} jars from Maven Central",
        )
        (target / _DONE).write_text(version)
    return target


def go_binary(module_dir: str, package: str, name: str, version: str,
              stamps: dict[str, str] | None = None) -> Path:
    """Build one Go command from a wrapper module in devstack/go/<module_dir>.

    ``stamps`` are ``-X`` link-time variables (version strings the upstream release
    scripts set); changing them changes the cache entry.
    """
    x_flags = [f"-X {var}={value}" for var, value in sorted((stamps or {}).items())]
    flavour = hashlib.sha256(" ".join(x_flags).encode()).hexdigest()[:8] if x_flags else ""
    target = cache_dir() / "bin" / (f"{name}-{version}-{flavour}" if flavour
                                    else f"{name}-{version}")
    if target.exists():
        return target
    with _locked(target):
        if target.exists():
            return target
        if shutil.which("go") is None:
            raise InstallError(f"go is not on PATH; it is needed to build {name} {version}")
        partial = target.parent / f"{target.name}.partial"
        # GOTOOLCHAIN=auto: an older local Go fetches the toolchain a wrapper module
        # asks for through the Go module proxy instead of failing.
        env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-buildvcs=false -mod=readonly",
                   GOTOOLCHAIN="auto")
        _run(
            ["go", "build", "-trimpath", f"-ldflags={' '.join(['-s', '-w', *x_flags])}",
             "-o", str(partial), package],
            cwd=PROJECT_DIR / "go" / module_dir,
            env=env,
            what=f"building {name} {version} from the Go module proxy",
        )
        partial.rename(target)
    return target


def debian_packages(commands: dict[str, str] | None = None) -> None:
    """Make sure the Debian tools exist; apt-get install the missing ones."""
    wanted = DEBIAN_PACKAGES if commands is None else commands
    missing = sorted({pkg for cmd, pkg in wanted.items() if shutil.which(cmd) is None})
    if not missing:
        return
    if os.geteuid() != 0:
        raise InstallError(
            f"missing Debian packages {', '.join(missing)}; run: "
            f"sudo apt-get update && sudo apt-get install -y {' '.join(missing)}"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        _run(["apt-get", "install", "-y", "-q", *missing], cwd=Path("/"), env=env,
             what=f"installing {', '.join(missing)}")
    except InstallError:
        # A fresh machine has no package lists yet.
        _run(["apt-get", "update", "-q"], cwd=Path("/"), env=env, what="apt-get update")
        _run(["apt-get", "install", "-y", "-q", *missing], cwd=Path("/"), env=env,
             what=f"installing {', '.join(missing)}")
