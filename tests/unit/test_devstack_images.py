"""devstack.images' pure parts: content tags, source digests, the containerd index."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from devstack import images
from devstack.artifacts import InstallError


def test_tag_is_stable_and_order_independent() -> None:
    a = images.content_tag({"Containerfile": b"FROM x\n", "parent": "abc", "sources": "123"})
    b = images.content_tag({"sources": "123", "parent": "abc", "Containerfile": b"FROM x\n"})
    assert a == b
    assert len(a) == images.TAG_LENGTH
    assert all(c in "0123456789abcdef" for c in a)


@pytest.mark.parametrize("changed", [
    {"Containerfile": b"FROM y\n"},
    {"parent": "abd"},
    {"sources": "124"},
    {"requirements": "faust-streaming==0.15.3"},
])
def test_any_changed_or_added_input_changes_the_tag(changed: dict[str, bytes | str]) -> None:
    inputs: dict[str, bytes | str] = {"Containerfile": b"FROM x\n", "parent": "abc",
                                      "sources": "123"}
    assert images.content_tag(inputs) != images.content_tag({**inputs, **changed})


def test_tag_keeps_input_boundaries_apart() -> None:
    assert images.content_tag({"a": "bc"}) != images.content_tag({"ab": "c"})
    assert images.content_tag({"a": "b", "c": ""}) != images.content_tag({"a": "bc"})


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo,
                   check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "events" / "src").mkdir(parents=True)
    (tmp_path / "events" / "src" / "a.py").write_text("A = 1\n")
    (tmp_path / "streams").mkdir()
    (tmp_path / "streams" / "b.py").write_text("B = 1\n")
    (tmp_path / ".gitignore").write_text("__pycache__/\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "init")
    return tmp_path


def test_unchanged_tree_same_digest_and_caches_do_not_count(repo: Path) -> None:
    before = images.tree_digest(repo, ["events"])
    (repo / "events" / "src" / "__pycache__").mkdir()
    (repo / "events" / "src" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    assert images.tree_digest(repo, ["events"]) == before


def test_source_changes_change_the_digest(repo: Path) -> None:
    before = images.tree_digest(repo, ["events"])
    (repo / "events" / "src" / "a.py").write_text("A = 2\n")  # uncommitted edit
    edited = images.tree_digest(repo, ["events"])
    assert edited != before
    (repo / "events" / "src" / "new.py").write_text("")  # untracked, not ignored
    assert images.tree_digest(repo, ["events"]) != edited


def test_other_members_do_not_change_the_digest(repo: Path) -> None:
    before = images.tree_digest(repo, ["events"])
    (repo / "streams" / "b.py").write_text("B = 2\n")
    assert images.tree_digest(repo, ["events"]) == before
    assert images.tree_files(repo, ["events", "streams"]) == ["events/src/a.py",
                                                              "streams/b.py"]


def test_deleted_tracked_file_is_left_out(repo: Path) -> None:
    (repo / "events" / "src" / "a.py").unlink()
    assert images.tree_files(repo, ["events"]) == []


def test_tree_without_git_hashes_every_file_but_caches(tmp_path: Path) -> None:
    (tmp_path / "events" / "__pycache__").mkdir(parents=True)
    (tmp_path / "events" / "a.py").write_text("")
    (tmp_path / "events" / "__pycache__" / "a.pyc").write_bytes(b"")
    assert images.tree_files(tmp_path, ["events"]) == ["events/a.py"]


def test_workspace_members_from_an_export() -> None:
    export = "-e ./events\n-e ./media-nodes\n-e ./operators\naiohttp==3.14.5\n"
    assert images.workspace_members(export) == ["events", "media-nodes", "operators"]
    assert images.workspace_members("aiohttp==3.14.5\n") == []


def test_containerd_index_names_the_image() -> None:
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:x",
         "size": 1, "annotations": {"org.opencontainers.image.ref.name": "old"}}]}
    named = images.containerd_index(index, "localhost/hotline/pause:abc")
    annotations = named["manifests"][0]["annotations"]  # type: ignore[index]
    assert annotations == {"org.opencontainers.image.ref.name": "localhost/hotline/pause:abc",
                           "io.containerd.image.name": "localhost/hotline/pause:abc"}
    assert index["manifests"][0]["annotations"] == {  # type: ignore[index]
        "org.opencontainers.image.ref.name": "old"}
    with pytest.raises(InstallError):
        images.containerd_index({"manifests": []}, "x")


def test_recipes_come_parent_first_and_exist() -> None:
    seen: set[str] = set()
    for recipe in images.RECIPES:
        assert recipe.parent is None or recipe.parent in seen, recipe
        assert (images.IMAGES_DIR / recipe.name / "Containerfile").is_file()
        seen.add(recipe.name)


def test_image_ref() -> None:
    image = images.Image("operator", "localhost/hotline/operator", "0123456789ab",
                         Path("/x.tar"), cached=True)
    assert image.ref == "localhost/hotline/operator:0123456789ab"


def test_stale_archives_keep_the_current_and_the_newest_other(tmp_path: Path) -> None:
    def archive(name: str, tag: str, mtime: int) -> Path:
        path = tmp_path / f"{name}-{tag}.oci.tar"
        path.write_bytes(b"")
        os.utime(path, (mtime, mtime))
        return path

    oldest, older, current = (archive("edge", t * 12, m) for t, m in
                              (("a", 100), ("b", 200), ("c", 50)))
    archive("media-node", "d" * 12, 10)  # another image's: never touched
    (tmp_path / f"edge-{'e' * 12}.oci.tar.partial").write_bytes(b"")
    assert images.stale_archives(tmp_path, "edge", current) == [oldest]
    assert images.stale_archives(tmp_path, "edge", current, keep=1) == [older, oldest]
