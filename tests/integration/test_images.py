"""Hotline's container images, built by devstack.images and run with buildah.

The first run builds them all (minutes); later runs reuse the cached archives. Each
image runs here as the pod would: its own user, its entry points importable.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devstack import images

pytestmark = pytest.mark.integration

CHART_KAMAILIO_CFG = images.REPO_DIR / "charts" / "hotline" / "files" / "kamailio.cfg"


@pytest.fixture(scope="module")
def built() -> dict[str, images.Image]:
    return images.build_all()


@pytest.fixture(scope="module")
def buildah(built: dict[str, images.Image]) -> images.Buildah:
    return images.Buildah(images.Builder().home)


class Container:
    """A working container from an image; ``run`` runs a command in it as its user."""

    def __init__(self, buildah: images.Buildah, image: images.Image) -> None:
        self.buildah = buildah
        self.name = f"hotline-test-{image.name}-{uuid.uuid4().hex[:8]}"
        # Storage may have lost the image (e.g. pruned); the archive is the cache.
        buildah.ensure(image.ref, image.archive)
        buildah("from", "--pull=never", "--name", self.name, image.ref, what="buildah from")

    def run(self, *argv: str, volumes: tuple[str, ...] = ()) -> str:
        mounts = [arg for volume in volumes for arg in ("-v", volume)]
        done = subprocess.run(
            self.buildah.argv("run", "--isolation", "chroot", *mounts, self.name, "--",
                              *argv),
            env=self.buildah.env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, (
            f"{' '.join(argv)} failed in {self.name} (exit {done.returncode}):\n"
            f"{done.stdout}\n{done.stderr}")
        return done.stdout + done.stderr

    def remove(self) -> None:
        subprocess.run(self.buildah.argv("rm", self.name), env=self.buildah.env,
                       capture_output=True, check=False)


@pytest.fixture
def container(built: dict[str, images.Image],
              buildah: images.Buildah) -> Iterator[Callable[[str], Container]]:
    made: list[Container] = []

    def make(name: str) -> Container:
        made.append(Container(buildah, built[name]))
        return made[-1]

    yield make
    for c in made:
        c.remove()


def _config(buildah: images.Buildah, image: images.Image) -> dict[str, object]:
    buildah.ensure(image.ref, image.archive)
    out = buildah("inspect", "--type", "image", image.ref, what=f"inspecting {image.ref}")
    config: dict[str, object] = json.loads(out)["OCIv1"]["config"]
    return config


@pytest.mark.parametrize("name", [r.name for r in images.RECIPES])
def test_image_is_labelled_runs_as_10001_and_is_archived(
        name: str, built: dict[str, images.Image], buildah: images.Buildah) -> None:
    image = built[name]
    assert re.fullmatch(rf"localhost/hotline/{name}:[0-9a-f]{{12}}", image.ref)
    assert image.archive.is_file() and image.size > 0
    config = _config(buildah, image)
    assert config["User"] == "10001"
    labels = config["Labels"]
    assert isinstance(labels, dict)
    assert labels["org.opencontainers.image.title"] == f"hotline-{name}"
    assert labels["org.opencontainers.image.source"] == f"hotline/images/{name}"
    assert labels["org.opencontainers.image.revision"] == image.tag
    assert labels["org.opencontainers.image.description"]
    assert labels["org.opencontainers.image.version"]


def test_a_second_build_is_all_cached(built: dict[str, images.Image]) -> None:
    again = images.build_all()
    assert {n: i.ref for n, i in again.items()} == {n: i.ref for n, i in built.items()}
    assert all(i.cached for i in again.values())


def test_pause_sleeps_with_busybox(container: Callable[[str], Container],
                                   built: dict[str, images.Image],
                                   buildah: images.Buildah) -> None:
    assert _config(buildah, built["pause"])["Entrypoint"] == [
        "/bin/busybox", "sleep", "infinity"]
    pause = container("pause")
    pause.run("/bin/busybox", "sleep", "0")
    assert pause.run("/bin/busybox", "id", "-u").strip() == "10001"


def _python_image(c: Container, modules: str) -> None:
    assert c.run("id", "-u").strip() == "10001"
    assert c.run("sh", "-c", "echo $HOME; command -v python").split() == [
        "/tmp", "/opt/hotline/bin/python"]
    assert "3.11" in c.run("python", "--version")
    c.run("python", "-c", f"import {modules}")
    # The topic catalog travels outside the wheel (images/venv.sh).
    c.run("python", "-c", "from hotline_events.catalog import default_catalog; "
                          "assert default_catalog().topics")
    c.run("hotline-events", "topics", "create", "--help")


def test_operator_image_entry_points(container: Callable[[str], Container]) -> None:
    op = container("operator")
    _python_image(op, "hotline_operators.operator, hotline_operators.edge, "
                      "hotline_operators.witness, hotline_events")
    assert "kopf" in op.run("kopf", "--version").lower()
    op.run("python", "-m", "hotline_operators.edge", "--help")
    op.run("python", "-m", "hotline_operators.witness", "--help")


def test_streams_image_entry_points(container: Callable[[str], Container]) -> None:
    streams = container("streams")
    _python_image(streams, "hotline_streams.wiring, hotline_streams.callbacks, "
                           "hotline_streams.interval_adoption")
    streams.run("python", "-m", "hotline_streams.callbacks", "--help")
    streams.run("python", "-m", "hotline_streams.interval_adoption", "--help")


def test_media_node_image_has_pjsua2_and_prompt_tools(
        container: Callable[[str], Container]) -> None:
    media = container("media-node")
    _python_image(media, "pjsua2, hotline_media_nodes.pool.wiring, hotline_media_nodes.worker")
    media.run("python", "-c", "import pjsua2; ep = pjsua2.Endpoint(); ep.libCreate(); "
                              "print(ep.libVersion().full); ep.libDestroy()")
    media.run("python", "-m", "hotline_media_nodes.pool", "--help")
    media.run("python", "-m", "hotline_media_nodes.cli", "prompts", "--help")
    media.run("espeak-ng", "--version")
    media.run("sox", "--version")
    # The prompt pipeline, as prompts.adapters runs it, writing only under /tmp.
    media.run("sh", "-c", "espeak-ng -w /tmp/raw.wav -- 'Thank you for calling' && "
                          "sox /tmp/raw.wav -r 8000 -c 1 -b 16 /tmp/8k.wav && "
                          "test -s /tmp/8k.wav")


def test_edge_image_loads_the_charts_kamailio_modules(
        container: Callable[[str], Container], tmp_path: Path,
        built: dict[str, images.Image], buildah: images.Buildah) -> None:
    edge = container("edge")
    # The chart's kamailio container passes only arguments.
    assert _config(buildah, built["edge"])["Entrypoint"] == ["/usr/bin/tini", "--", "kamailio"]
    assert "kamailio 5." in edge.run("kamailio", "-v")
    edge.run("python", "-c", "import hotline_operators.edge")
    edge.run("python", "-m", "hotline_operators.edge", "--help")
    # The chart's module path and loadmodule lines (its template values aside), checked
    # by kamailio itself: every module must exist in the image and load.
    wanted = [line for line in CHART_KAMAILIO_CFG.read_text().splitlines()
              if line.startswith(("mpath=", "loadmodule "))]
    assert sum(line.startswith("loadmodule") for line in wanted) >= 10
    (tmp_path / "kamailio.cfg").write_text(
        "#!KAMAILIO\n" + "\n".join(wanted) + "\nrequest_route {\n  exit;\n}\n")
    tmp_path.chmod(0o755)
    (tmp_path / "kamailio.cfg").chmod(0o644)
    edge.run("kamailio", "-c", "-f", "/cfg/kamailio.cfg", volumes=(f"{tmp_path}:/cfg:ro",))
