"""Hotline's container images, built from ``images/<name>/Containerfile`` with buildah.

No registry can be pulled from, so everything starts from Debian's archive: the base
image is a ``debootstrap --variant=minbase`` root filesystem, the pause image Debian's
static busybox, and the Python images install the locked requirements (``uv export``
of uv.lock, hash-checked, from PyPI) plus wheels of the workspace members built from
this tree. Each image ends as an OCI archive in the cache that ``ctr images import``
takes as it is (the image's name is in the archive).

Images are content-addressed: an image's tag hashes its recipe, its parent's tag and
every input (workspace sources, locked requirements, Debian package list, busybox
binary). When the archive for that tag exists nothing is built, so an unchanged tree
rebuilds in seconds. buildah's storage and its cache mounts (uv's downloads) live
under ``<cache>/images`` too; nothing keeps running after a build.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devstack import artifacts
from devstack.artifacts import InstallError
from devstack.settings import PROJECT_DIR, cache_dir

log = logging.getLogger(__name__)

REPO_DIR = PROJECT_DIR.parent
IMAGES_DIR = REPO_DIR / "images"
REGISTRY = "localhost/hotline"

# The base image's Debian: suite, mirror and the packages debootstrap adds to minbase.
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("ca-certificates", "python3", "tini")

# Host tools the build needs, by command (artifacts.debian_packages installs them).
BUILD_TOOLS = {"buildah": "buildah", "debootstrap": "debootstrap", "busybox": "busybox-static"}
BUSYBOX = Path("/bin/busybox")

TAG_LENGTH = 12
# Archives kept per image: the current one and the one before (switching back and
# forth between two branches rebuilds nothing); older ones are deleted.
KEEP_ARCHIVES = 2
# containerd names an imported image after this index annotation; buildah writes only
# the OCI ref.name, which `ctr images import` ignores unless given --base-name.
_CONTAINERD_NAME = "io.containerd.image.name"


@dataclass(frozen=True)
class Recipe:
    """One image: its parent and, for a Python image, the workspace package it serves."""

    name: str
    parent: str | None = None
    package: str | None = None  # installs this member's locked closure into /opt/hotline


# In build order: a parent before its children.
RECIPES: tuple[Recipe, ...] = (
    Recipe("pause"),
    Recipe("base"),
    Recipe("operator", parent="base", package="hotline-operators"),
    Recipe("streams", parent="base", package="hotline-streams"),
    Recipe("media-node", parent="base", package="hotline-media-nodes"),
    Recipe("edge", parent="base", package="hotline-operators"),
)


@dataclass(frozen=True)
class Image:
    """A built image: ``ref`` is what a pod spec names, ``archive`` what ctr imports."""

    name: str
    repository: str
    tag: str
    archive: Path
    cached: bool  # the archive was already there: nothing was built

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def size(self) -> int:
        """Bytes of the OCI archive (compressed layers)."""
        return self.archive.stat().st_size


# --- pure logic: the content tag ----------------------------------------------------


def content_tag(inputs: Mapping[str, bytes | str]) -> str:
    """Hash of named inputs, independent of their order; any change gives a new tag."""
    digest = hashlib.sha256()
    for key in sorted(inputs):
        value = inputs[key]
        data = value.encode() if isinstance(value, str) else value
        # Lengths keep ("ab", "c") and ("a", "bc") apart.
        digest.update(f"{len(key)}:{key}{len(data)}:".encode())
        digest.update(data)
    return digest.hexdigest()[:TAG_LENGTH]


def tree_files(repo: Path, folders: Iterable[str]) -> list[str]:
    """The files under ``folders`` that would go into a build: tracked or untracked but
    not ignored (git), so __pycache__ and the like never change a tag."""
    folders = list(folders)
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
             *folders],
            cwd=repo, capture_output=True, check=True).stdout.decode()
        names = [n for n in listed.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        # Not a git checkout (an unpacked tarball): every file but caches.
        names = [str(p.relative_to(repo)) for folder in folders
                 for p in (repo / folder).rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    # A deleted but still tracked file is gone from the build too.
    return sorted(n for n in set(names) if (repo / n).is_file())


def tree_digest(repo: Path, folders: Iterable[str]) -> str:
    """Hash of the paths and contents of :func:`tree_files`."""
    return content_tag({name: (repo / name).read_bytes() for name in tree_files(repo, folders)})


def workspace_members(export: str) -> list[str]:
    """The member folders in a ``uv export`` (lines ``-e ./events``), in order."""
    members = []
    for line in export.splitlines():
        line = line.strip()
        if line.startswith("-e ./"):
            members.append(line.removeprefix("-e ./").strip())
    return members


def stale_archives(archives: Path, name: str, current: Path,
                   keep: int = KEEP_ARCHIVES) -> list[Path]:
    """``name``'s archives beyond the ``keep`` newest, never ``current``."""
    pattern = re.compile(rf"{re.escape(name)}-[0-9a-f]{{{TAG_LENGTH}}}\.oci\.tar")
    others = sorted((p for p in archives.glob(f"{name}-*.oci.tar")
                     if pattern.fullmatch(p.name) and p != current),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    return others[max(keep - 1, 0):]


def containerd_index(index: dict[str, object], ref: str) -> dict[str, object]:
    """An OCI index.json with ``ref`` set as containerd's image-name annotation."""
    manifests = index.get("manifests")
    if not isinstance(manifests, list) or len(manifests) != 1:
        raise InstallError(f"expected one manifest in the OCI archive's index.json, got {index}")
    manifest = dict(manifests[0])
    manifest["annotations"] = {**manifest.get("annotations", {}), _CONTAINERD_NAME: ref,
                               "org.opencontainers.image.ref.name": ref}
    return {**index, "manifests": [manifest]}


# --- running things -----------------------------------------------------------------


def _run(argv: list[str], *, what: str, cwd: Path | None = None,
         env: Mapping[str, str] | None = None) -> str:
    """Run a command; its stdout, or an InstallError with the tail of its output."""
    started = time.monotonic()
    log.debug("%s: %s", what, " ".join(argv))
    try:
        done = subprocess.run(argv, cwd=cwd, env=None if env is None else dict(env),
                              capture_output=True, check=False)
    except OSError as exc:
        raise InstallError(f"{what}: cannot run {argv[0]} ({exc})") from exc
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode(errors="replace")[-6000:]
        raise InstallError(
            f"{what} failed (exit {done.returncode}) running {' '.join(argv)}.\n{output}\n"
            "Fix the cause and run `uv run devstack images build` again; "
            "finished images are cached.")
    if time.monotonic() - started > 5:
        log.info("%s took %.1fs", what, time.monotonic() - started)
    return done.stdout.decode()


def _uv() -> str:
    # `uv run` names itself in $UV; otherwise uv's installer puts it in ~/.local/bin.
    for candidate in (os.environ.get("UV"), shutil.which("uv"),
                      str(Path.home() / ".local" / "bin" / "uv")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise InstallError("uv is not on PATH; install it (pip install uv) and run again")


def _ca_bundle() -> Path:
    """The CA bundle this host reaches PyPI with (the build's uv uses the same)."""
    for candidate in (os.environ.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise InstallError("no CA bundle found (SSL_CERT_FILE, /etc/ssl/certs/ca-certificates.crt);"
                       " install ca-certificates or set SSL_CERT_FILE and run again")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _is_static(binary: Path) -> bool:
    """Whether an ELF executable has no program interpreter (PT_INTERP), i.e. is static."""
    data = binary.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit ELF only (x86-64 here)
        return False
    phoff = int.from_bytes(data[32:40], "little")
    phentsize = int.from_bytes(data[54:56], "little")
    phnum = int.from_bytes(data[56:58], "little")
    return all(int.from_bytes(data[phoff + i * phentsize:phoff + i * phentsize + 4],
                              "little") != 3 for i in range(phnum))


class Buildah:
    """buildah with its storage in the cache (one root per storage driver, since a root
    cannot change driver), building with chroot isolation: no OCI runtime or cgroups
    needed, which crun refuses on hybrid cgroups here."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.driver = self._driver()
        self.root = home / "buildah" / self.driver
        self.tmp = home / "tmp"  # buildah's cache mounts land in $TMPDIR/buildah-cache
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "TMPDIR": str(self.tmp)}

    def _driver(self) -> str:
        """overlay where the kernel mounts it on the cache's file system, else vfs
        (e.g. a CI container whose / is itself an overlay)."""
        choice = self.home / "buildah" / "driver"
        if choice.exists():
            return choice.read_text().strip()
        probe = Path(tempfile.mkdtemp(dir=self.home, prefix=".overlay-probe-"))
        try:
            for d in ("lower", "upper", "work", "merged"):
                (probe / d).mkdir()
            opts = f"lowerdir={probe}/lower,upperdir={probe}/upper,workdir={probe}/work"
            mounted = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts,
                                      str(probe / "merged")], capture_output=True).returncode
            if mounted == 0:
                subprocess.run(["umount", str(probe / "merged")], check=True)
            driver = "overlay" if mounted == 0 else "vfs"
        finally:
            shutil.rmtree(probe, ignore_errors=True)
        choice.parent.mkdir(parents=True, exist_ok=True)
        choice.write_text(driver)
        log.info("buildah storage driver: %s", driver)
        return driver

    def argv(self, *args: str) -> list[str]:
        return ["buildah", "--root", str(self.root / "root"), "--runroot",
                str(self.root / "run"), "--storage-driver", self.driver, *args]

    def __call__(self, *args: str, what: str) -> str:
        return _run(self.argv(*args), what=what, env=self.env)

    def has(self, ref: str) -> bool:
        return subprocess.run(self.argv("inspect", "--type", "image", ref),
                              capture_output=True, env=self.env).returncode == 0

    def ensure(self, ref: str, archive: Path) -> None:
        """Put an image back into storage from its archive (a child builds on it)."""
        if not self.has(ref):
            image_id = self("pull", "--quiet", f"oci-archive:{archive}",
                            what=f"loading {ref} from {archive}").split()[-1]
            self("tag", image_id, ref, what=f"tagging {ref}")


# --- the builder --------------------------------------------------------------------


class Builder:
    """Computes each recipe's tag and builds what is missing, parents first."""

    def __init__(self, repo: Path = REPO_DIR, home: Path | None = None) -> None:
        self.repo = repo
        self.recipes_dir = repo / "images"
        self.home = home or cache_dir() / "images"
        self.archives = self.home / "archives"
        self._exports: dict[tuple[str, bool], str] = {}

    # inputs

    def _export(self, package: str, *, hashes: bool) -> str:
        key = (package, hashes)
        if key not in self._exports:
            argv = [_uv(), "export", "--frozen", "--no-dev", "--no-header", "--no-annotate",
                    "--package", package]
            # With hashes: the third-party closure for the image; without: which
            # workspace members it needs.
            argv += ["--no-emit-workspace"] if hashes else ["--no-hashes"]
            self._exports[key] = _run(argv, cwd=self.repo,
                                      what=f"exporting {package}'s locked requirements")
        return self._exports[key]

    def members(self, recipe: Recipe) -> list[str]:
        if recipe.package is None:
            return []
        members = workspace_members(self._export(recipe.package, hashes=False))
        # hotline-events in every Python image: the chart's hook Job runs its CLI.
        return members if "events" in members else ["events", *members]

    def inputs(self, recipe: Recipe, parent_tag: str | None) -> dict[str, bytes | str]:
        """Everything that goes into an image, by name (hashed into its tag)."""
        folder = self.recipes_dir / recipe.name
        found: dict[str, bytes | str] = {"Containerfile": (folder / "Containerfile").read_bytes()}
        if parent_tag is not None:
            found["parent"] = parent_tag
        if recipe.name == "pause":
            found["busybox"] = BUSYBOX.read_bytes()
        if recipe.name == "base":
            found["debian"] = f"{DEBIAN_SUITE} {DEBIAN_MIRROR} {' '.join(BASE_PACKAGES)}"
        if recipe.package is not None:
            members = self.members(recipe)
            found["venv.sh"] = (self.recipes_dir / "venv.sh").read_bytes()
            found["requirements"] = self._export(recipe.package, hashes=True)
            found["members"] = " ".join(members)
            found["sources"] = tree_digest(self.repo, members)
        return found

    def tags(self) -> dict[str, str]:
        tags: dict[str, str] = {}
        for recipe in RECIPES:
            parent = tags[recipe.parent] if recipe.parent else None
            tags[recipe.name] = content_tag(self.inputs(recipe, parent))
        return tags

    def archive(self, name: str, tag: str) -> Path:
        return self.archives / f"{name}-{tag}.oci.tar"

    # building

    def build_all(self) -> dict[str, Image]:
        # Cheap when they are there; the pause tag hashes the busybox binary.
        artifacts.debian_packages(BUILD_TOOLS)
        tags = self.tags()
        images = {r.name: Image(r.name, f"{REGISTRY}/{r.name}", tags[r.name],
                                self.archive(r.name, tags[r.name]), cached=True)
                  for r in RECIPES}
        if all(image.archive.exists() for image in images.values()):
            return images
        if os.geteuid() != 0:
            raise InstallError("building images needs root (buildah with chroot isolation "
                               "and debootstrap); run `sudo uv run devstack images build`")
        with _locked(self.home / ".build.lock"):
            buildah = Buildah(self.home)
            for recipe in RECIPES:
                image = images[recipe.name]
                if image.archive.exists():
                    continue
                parent = images[recipe.parent] if recipe.parent else None
                if parent is not None:
                    buildah.ensure(parent.ref, parent.archive)
                started = time.monotonic()
                self._build(buildah, recipe, image, parent)
                log.info("built %s in %.1fs", image.ref, time.monotonic() - started)
                images[recipe.name] = Image(image.name, image.repository, image.tag,
                                            image.archive, cached=False)
        return images

    def _build(self, buildah: Buildah, recipe: Recipe, image: Image,
               parent: Image | None) -> None:
        context = self.home / "context" / recipe.name
        shutil.rmtree(context, ignore_errors=True)
        context.mkdir(parents=True)
        args: list[str] = []
        version = "0.1.0"
        if recipe.name == "pause":
            if not _is_static(BUSYBOX):
                raise InstallError(f"{BUSYBOX} is not a static binary; the pause image needs "
                                   "Debian's busybox-static: apt-get install busybox-static")
            shutil.copy2(BUSYBOX, context / "busybox")
            version = _run([str(BUSYBOX)], what="busybox version").split()[1].lstrip("v")
        elif recipe.name == "base":
            rootfs = self.rootfs()
            os.link(rootfs, context / rootfs.name)
            args += ["--build-arg", f"ROOTFS={rootfs.name}"]
            version = DEBIAN_SUITE
        else:
            assert recipe.package is not None and parent is not None
            args += ["--build-arg", f"BASE={parent.ref}"]
            self._python_context(recipe, context)
            version = self._version(recipe.package)
        buildah("bud", "--isolation", "chroot", "--pull=never", "--network=host",
                "--layers=false", "-f", str(self.recipes_dir / recipe.name / "Containerfile"),
                "--label", f"org.opencontainers.image.version={version}",
                "--label", f"org.opencontainers.image.revision={image.tag}",
                *args, "-t", image.ref, str(context),
                what=f"building {image.ref} (images/{recipe.name}/Containerfile)")
        image.archive.parent.mkdir(parents=True, exist_ok=True)
        partial = image.archive.with_name(image.archive.name + ".partial")
        partial.unlink(missing_ok=True)
        buildah("push", "--quiet", image.ref, f"oci-archive:{partial}:{image.ref}",
                what=f"writing {image.ref} to an OCI archive")
        _name_for_containerd(partial, image.ref)
        partial.rename(image.archive)
        shutil.rmtree(context, ignore_errors=True)
        self._prune(buildah, image)
        for stale in stale_archives(self.archives, recipe.name, image.archive):
            stale.unlink(missing_ok=True)

    def _python_context(self, recipe: Recipe, context: Path) -> None:
        assert recipe.package is not None
        (context / "requirements.txt").write_text(self._export(recipe.package, hashes=True))
        shutil.copy2(self.recipes_dir / "venv.sh", context / "venv.sh")
        shutil.copy2(_uv(), context / "uv")
        shutil.copy2(_ca_bundle(), context / "ca-bundle.crt")
        for member in self.members(recipe):
            _run([_uv(), "build", "--wheel", "--quiet", "--out-dir", str(context / "wheels"),
                  str(self.repo / member)],
                 cwd=self.repo, what=f"building the {member} wheel")

    def _version(self, package: str) -> str:
        for member in self.members(Recipe("", package=package)):
            project = tomllib.loads((self.repo / member / "pyproject.toml").read_text())
            if project["project"]["name"] == package:
                return str(project["project"]["version"])
        return "0.1.0"

    def rootfs(self) -> Path:
        """The debootstrapped root file system as a tarball, cached by suite and packages."""
        key = content_tag({"debian": f"{DEBIAN_SUITE} {DEBIAN_MIRROR} {' '.join(BASE_PACKAGES)}"})
        tarball = self.home / "rootfs" / f"{DEBIAN_SUITE}-{key}.tar"
        if tarball.exists():
            return tarball
        tarball.parent.mkdir(parents=True, exist_ok=True)
        target = Path(tempfile.mkdtemp(dir=tarball.parent, prefix=".debootstrap-"))
        target.chmod(0o755)  # it becomes the image's /; mkdtemp makes it 0700
        try:
            _run(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
                  DEBIAN_SUITE, str(target), DEBIAN_MIRROR],
                 what=f"debootstrap {DEBIAN_SUITE} from {DEBIAN_MIRROR}")
            # The downloaded .debs and package lists would only bloat every image.
            for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*"):
                for path in target.glob(pattern):
                    if path.is_file():
                        path.unlink()
            partial = tarball.with_name(tarball.name + ".partial")
            _run(["tar", "--numeric-owner", "--xattrs", "-C", str(target), "-cf", str(partial),
                  "."], what="packing the root file system")
            partial.rename(tarball)
        finally:
            shutil.rmtree(target, ignore_errors=True)
        return tarball

    @staticmethod
    def _prune(buildah: Buildah, image: Image) -> None:
        """Drop this image's older tags from storage (the archives stay: the cache)."""
        listed = buildah("images", "--noheading", "--format", "{{.Name}}:{{.Tag}}",
                         what="listing the images in buildah's storage")
        stale = [ref for ref in listed.split()
                 if ref.startswith(f"{image.repository}:") and ref != image.ref]
        for ref in stale:
            # A parent still used by a child's storage is kept; that is fine.
            subprocess.run(buildah.argv("rmi", ref), capture_output=True, env=buildah.env)


def _name_for_containerd(archive: Path, ref: str) -> None:
    """Rewrite the archive's index.json so that `ctr images import` names the image."""
    rewritten = archive.with_name(archive.name + ".named")
    with tarfile.open(archive) as src, tarfile.open(rewritten, "w") as dst:
        for member in src:
            if member.name.lstrip("./") == "index.json":
                index = json.load(src.extractfile(member))  # type: ignore[arg-type]
                data = json.dumps(containerd_index(index, ref)).encode()
                member.size = len(data)
                dst.addfile(member, io.BytesIO(data))
            else:
                dst.addfile(member, src.extractfile(member) if member.isfile() else None)
    rewritten.replace(archive)


def build_all() -> dict[str, Image]:
    """Build every image that is not in the cache yet; all of them, by name."""
    return Builder().build_all()
