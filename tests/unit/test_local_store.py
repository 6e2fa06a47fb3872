"""The local directory adapter's own guarantees. The acceptance tests every object store
passes (local, in-memory, S3) are in tests/integration/test_object_stores.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from replay.storage.local import LocalDirectoryStore


async def test_nothing_is_written_outside_the_root(tmp_path: Path) -> None:
    store = LocalDirectoryStore(tmp_path / "site")
    with pytest.raises(ValueError, match="invalid object key"):
        await store.put_bytes("../escaped.txt", b"x")
    assert not (tmp_path / "escaped.txt").exists()


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


async def test_local_layout(tmp_path: Path) -> None:
    store = LocalDirectoryStore(tmp_path / "site")
    await store.put_bytes("e/s/hls/master.m3u8", b"#EXTM3U\n")
    assert store.path_of("e/s/hls/master.m3u8") == tmp_path / "site" / "e/s/hls/master.m3u8"
    assert files_under(tmp_path / "site") == ["e/s/hls/master.m3u8"]


async def test_local_write_interrupted_midway_leaves_nothing_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalDirectoryStore(tmp_path / "site")
    await store.put_bytes("e/replay.mp4", b"old")
    source = tmp_path / "replay.mp4"
    source.write_bytes(b"new" * 1000)

    def half_copy(src: Path, dst: Path) -> None:
        Path(dst).write_bytes(Path(src).read_bytes()[:1000])
        raise OSError("disk full")

    monkeypatch.setattr("replay.storage.local.shutil.copyfile", half_copy)
    with pytest.raises(OSError, match="disk full"):
        await store.put_file("e/replay.mp4", source)
    assert await store.get_bytes("e/replay.mp4") == b"old"
    assert await store.list_keys("") == ["e/replay.mp4"]
    assert files_under(tmp_path / "site") == ["e/replay.mp4"], "no partial file is left"


async def test_local_partial_files_are_not_listed(tmp_path: Path) -> None:
    """A write in progress (by another process) is invisible to listing."""
    store = LocalDirectoryStore(tmp_path / "site")
    await store.put_bytes("e/index.html", b"x")
    (tmp_path / "site" / "e" / ".index.html.123.partial").write_bytes(b"half")
    assert await store.list_keys("") == ["e/index.html"]
    assert await store.list_keys("e/") == ["e/index.html"]
