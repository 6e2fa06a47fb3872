"""Object store acceptance tests, run on the local directory adapter and the in-memory fake."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from replay.storage.local import LocalDirectoryStore
from replay.storage.memory import MemoryStore
from replay.storage.port import ObjectStore

BAD_KEYS = [
    pytest.param("", id="empty"),
    pytest.param("/etc/passwd", id="absolute"),
    pytest.param("a//b", id="empty-part"),
    pytest.param("a/", id="trailing-slash"),
    pytest.param("..", id="dotdot"),
    pytest.param("../outside", id="dotdot-first"),
    pytest.param("a/../../outside", id="dotdot-inside"),
    pytest.param("a/./b", id="dot"),
]


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalDirectoryStore(tmp_path / "site")
    return MemoryStore()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_put_and_get_bytes(store: ObjectStore) -> None:
    await store.put_bytes("event/session/index.html", b"<p>Bonjour</p>")
    assert await store.get_bytes("event/session/index.html") == b"<p>Bonjour</p>"
    assert await store.get_bytes("event/session/absent.html") is None
    assert await store.get_bytes("event/session") is None


async def test_put_file(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "seg_00000.ts"
    source.write_bytes(b"\x47" * 188 * 10)
    await store.put_file("event/session/hls/480p/seg_00000.ts", source)
    assert await store.get_bytes("event/session/hls/480p/seg_00000.ts") == source.read_bytes()
    assert source.read_bytes() == b"\x47" * 188 * 10, "the source is left alone"


async def test_empty_object(store: ObjectStore) -> None:
    await store.put_bytes("event/empty.txt", b"")
    assert await store.get_bytes("event/empty.txt") == b""
    assert await store.digest("event/empty.txt") == sha256(b"")


async def test_overwrite(store: ObjectStore) -> None:
    await store.put_bytes("event/replays.json", b"first, and longer")
    await store.put_bytes("event/replays.json", b"second")
    assert await store.get_bytes("event/replays.json") == b"second"
    assert await store.list_keys("") == ["event/replays.json"]


async def test_digest(store: ObjectStore, tmp_path: Path) -> None:
    assert await store.digest("event/index.html") is None
    await store.put_bytes("event/index.html", "Évènement".encode())
    assert await store.digest("event/index.html") == sha256("Évènement".encode())
    source = tmp_path / "big.bin"
    data = os.urandom(3 * (1 << 20) + 17)
    source.write_bytes(data)
    await store.put_file("event/big.bin", source)
    assert await store.digest("event/big.bin") == sha256(data)


async def test_delete(store: ObjectStore) -> None:
    await store.put_bytes("event/a.txt", b"a")
    await store.put_bytes("event/b.txt", b"b")
    await store.delete("event/a.txt")
    assert await store.get_bytes("event/a.txt") is None
    assert await store.digest("event/a.txt") is None
    assert await store.list_keys("") == ["event/b.txt"]
    await store.delete("event/a.txt")  # deleting what is absent is no error
    await store.delete("nowhere/at/all.txt")


async def test_list_keys(store: ObjectStore) -> None:
    keys = ["e/s1/index.html", "e/s1/hls/master.m3u8", "e/s1/hls/480p/seg_00000.ts",
            "e/s10/index.html", "e/index.html", "other/index.html"]
    for key in keys:
        await store.put_bytes(key, key.encode())
    assert await store.list_keys("") == sorted(keys)
    assert await store.list_keys("e/") == sorted(k for k in keys if k.startswith("e/"))
    assert await store.list_keys("e/s1/") == [
        "e/s1/hls/480p/seg_00000.ts", "e/s1/hls/master.m3u8", "e/s1/index.html"]
    assert await store.list_keys("e/s1/hls/480p/") == ["e/s1/hls/480p/seg_00000.ts"]
    assert await store.list_keys("absent/") == []


async def test_list_keys_prefix_is_a_string_prefix(store: ObjectStore) -> None:
    """As in S3: a prefix need not end at a '/'."""
    for key in ("e/s1/index.html", "e/s10/index.html", "e/t/index.html"):
        await store.put_bytes(key, b"x")
    assert await store.list_keys("e/s1") == ["e/s1/index.html", "e/s10/index.html"]
    assert await store.list_keys("e/s1/ind") == ["e/s1/index.html"]
    assert await store.list_keys("e/s1/index.html") == ["e/s1/index.html"]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_bad_keys_are_refused(store: ObjectStore, key: str, tmp_path: Path) -> None:
    source = tmp_path / "source.txt"
    source.write_bytes(b"x")
    with pytest.raises(ValueError, match="invalid object key"):
        await store.put_bytes(key, b"x")
    with pytest.raises(ValueError, match="invalid object key"):
        await store.put_file(key, source)
    with pytest.raises(ValueError, match="invalid object key"):
        await store.get_bytes(key)
    with pytest.raises(ValueError, match="invalid object key"):
        await store.digest(key)
    with pytest.raises(ValueError, match="invalid object key"):
        await store.delete(key)
    assert await store.list_keys("") == []


@pytest.mark.parametrize("prefix", ["../", "/", "/etc/", "a/../../", "a//"])
async def test_bad_prefixes_are_refused(store: ObjectStore, prefix: str) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        await store.list_keys(prefix)


async def test_nothing_is_written_outside_the_root(tmp_path: Path) -> None:
    store = LocalDirectoryStore(tmp_path / "site")
    with pytest.raises(ValueError, match="invalid object key"):
        await store.put_bytes("../escaped.txt", b"x")
    assert not (tmp_path / "escaped.txt").exists()


async def test_a_failed_write_leaves_the_old_object(store: ObjectStore,
                                                    tmp_path: Path) -> None:
    await store.put_bytes("e/index.html", b"old")
    with pytest.raises(OSError, match="absent"):
        await store.put_file("e/index.html", tmp_path / "absent.html")
    assert await store.get_bytes("e/index.html") == b"old"
    assert await store.list_keys("") == ["e/index.html"]


async def test_concurrent_writes_of_one_key_are_whole(store: ObjectStore) -> None:
    """Each write replaces the object whole: a reader sees one version, never a mix."""
    versions = [bytes([i]) * (1 << 20) for i in range(8)]
    await asyncio.gather(*(store.put_bytes("e/hls/master.m3u8", v) for v in versions))
    assert await store.get_bytes("e/hls/master.m3u8") in versions
    assert await store.list_keys("") == ["e/hls/master.m3u8"]


# --- the local directory's own guarantees ---------------------------------------------


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
