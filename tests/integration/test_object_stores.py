"""Object store acceptance tests, run on every adapter: the local directory, the in-memory
fake, and S3 on a moto server (the real S3 HTTP API on loopback); then what only S3 does:
headers read back over plain HTTP, multipart uploads and their integrity check, errors."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from replay.domain.errors import ReplayError
from replay.site.publish import Uploader
from replay.storage.local import LocalDirectoryStore
from replay.storage.memory import MemoryStore
from replay.storage.port import ObjectStore
from replay.storage.s3 import MiB, S3IntegrityError, S3Store
from tests.integration.conftest import MotoS3

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


@pytest.fixture(params=["local", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalDirectoryStore(tmp_path / "site")
    if request.param == "memory":
        return MemoryStore()
    s3: S3Store = request.getfixturevalue("s3_store")
    return s3


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


async def test_get_file(store: ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(188 * 1000)
    await store.put_bytes("_private/originals/abc.ts", data)
    fetched = tmp_path / "fetched.ts"
    assert await store.get_file("_private/originals/abc.ts", fetched) is True
    assert fetched.read_bytes() == data
    assert await store.get_file("_private/originals/absent.ts", tmp_path / "absent") is False
    assert not (tmp_path / "absent").exists()
    await store.put_bytes("_private/empty.json", b"")
    assert await store.get_file("_private/empty.json", tmp_path / "empty.json") is True
    assert (tmp_path / "empty.json").read_bytes() == b""


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
    with pytest.raises(ValueError, match="invalid object key"):
        await store.get_file(key, tmp_path / "fetched.txt")
    assert await store.list_keys("") == []
    assert not (tmp_path / "fetched.txt").exists()


@pytest.mark.parametrize("prefix", ["../", "/", "/etc/", "a/../../", "a//"])
async def test_bad_prefixes_are_refused(store: ObjectStore, prefix: str) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        await store.list_keys(prefix)


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


# --- S3 only: what a browser gets, multipart, integrity, errors --------------------------

HEADERS = [
    ("hls/master.m3u8", "application/vnd.apple.mpegurl", "public, max-age=60"),
    ("hls/480p/index.m3u8", "application/vnd.apple.mpegurl", "public, max-age=60"),
    ("hls/480p/seg_00000.ts", "video/mp2t", "public, max-age=31536000, immutable"),
    ("hls/480p/seg_00000.m4s", "video/iso.segment", "public, max-age=31536000, immutable"),
    ("replay.mp4", "video/mp4", "public, max-age=60"),
    ("subtitles.fr.vtt", "text/vtt; charset=utf-8", "public, max-age=60"),
    ("transcript.fr.json", "application/json", "public, max-age=60"),
    ("index.html", "text/html; charset=utf-8", "public, max-age=60"),
    ("poster.jpg", "image/jpeg", "public, max-age=60"),
]


def http_get(url: str) -> tuple[int, dict[str, str], bytes]:
    """A plain HTTP GET, as a browser or a CDN would make it; header names in lower case."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            return response.status, headers, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, b""


@pytest.mark.parametrize(("name", "content_type", "cache_control"), HEADERS)
@pytest.mark.parametrize("how", ["file", "bytes"])
async def test_s3_headers_over_http(s3_store: S3Store, moto_s3: MotoS3, tmp_path: Path,
                                    name: str, content_type: str, cache_control: str,
                                    how: str) -> None:
    key = f"villes-2026/ouverture/{name}"
    data = f"contenu de {name} é".encode()
    if how == "file":
        source = tmp_path / Path(name).name
        source.write_bytes(data)
        await s3_store.put_file(key, source)
    else:
        await s3_store.put_bytes(key, data)
    status, headers, body = http_get(moto_s3.url(s3_store.prefix + key))
    assert status == 200
    assert body == data
    assert headers["content-type"] == content_type
    assert headers["cache-control"] == cache_control


async def test_s3_prefix_places_and_strips(s3_store: S3Store, moto_s3: MotoS3) -> None:
    await s3_store.put_bytes("e/index.html", b"x")
    raw = moto_s3.client.list_objects_v2(Bucket=moto_s3.bucket, Prefix=s3_store.prefix)
    assert [item["Key"] for item in raw["Contents"]] == [f"{s3_store.prefix}e/index.html"]
    assert await s3_store.list_keys("") == ["e/index.html"]


async def test_s3_listing_is_paginated(moto_s3: MotoS3) -> None:
    store = S3Store(moto_s3.bucket, f"t/{uuid.uuid4().hex}", endpoint_url=moto_s3.endpoint,
                    client=moto_s3.client, list_page_size=2)
    keys = [f"e/s/hls/480p/seg_{i:05d}.ts" for i in range(5)]
    await asyncio.gather(*(store.put_bytes(key, b"\x47") for key in keys))
    await store.put_bytes("f/index.html", b"x")
    assert await store.list_keys("e/") == keys
    assert await store.list_keys("") == [*keys, "f/index.html"]


def multipart_store(moto_s3: MotoS3, client: Any = None) -> S3Store:
    return S3Store(moto_s3.bucket, f"t/{uuid.uuid4().hex}", endpoint_url=moto_s3.endpoint,
                   client=client or moto_s3.client, multipart_threshold=5 * MiB,
                   multipart_chunksize=5 * MiB)


async def test_s3_multipart_upload(moto_s3: MotoS3, tmp_path: Path) -> None:
    store = multipart_store(moto_s3)
    source = tmp_path / "replay.mp4"
    data = os.urandom(20 * MiB + 123)
    source.write_bytes(data)
    await store.put_file("e/s/replay.mp4", source)
    head = moto_s3.client.head_object(Bucket=moto_s3.bucket, Key=f"{store.prefix}e/s/replay.mp4")
    assert head["ETag"].strip('"').endswith("-5"), "uploaded in 5 parts"
    assert await store.get_bytes("e/s/replay.mp4") == data
    assert await store.digest("e/s/replay.mp4") == sha256(data)
    status, headers, body = http_get(moto_s3.url(f"{store.prefix}e/s/replay.mp4"))
    assert (status, headers["content-type"], body) == (200, "video/mp4", data)
    uploader = Uploader(store)
    await uploader.file("e/s/replay.mp4", source)
    assert (uploader.uploaded, uploader.unchanged) == (0, 1)
    fetched = tmp_path / "fetched.mp4"
    assert await store.get_file("e/s/replay.mp4", fetched)  # in ranged parts
    assert fetched.read_bytes() == data


class CorruptingClient:
    """A boto3 client whose multipart uploads send other bytes than the file's, of the same
    size (a fault in transit that no part checksum caught)."""

    def __init__(self, client: Any, tmp_path: Path) -> None:
        self._client = client
        self._tmp_path = tmp_path

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def upload_file(self, filename: str, *args: Any, **kwargs: Any) -> None:
        data = bytearray(Path(filename).read_bytes())
        data[7 * MiB] ^= 0xFF
        corrupt = self._tmp_path / "corrupt.bin"
        corrupt.write_bytes(bytes(data))
        self._client.upload_file(str(corrupt), *args, **kwargs)


async def test_s3_multipart_corruption_is_caught(moto_s3: MotoS3, tmp_path: Path) -> None:
    store = multipart_store(moto_s3, CorruptingClient(moto_s3.client, tmp_path))
    source = tmp_path / "replay.mp4"
    source.write_bytes(os.urandom(12 * MiB))
    with pytest.raises(S3IntegrityError, match="ETag"):
        await store.put_file("e/s/replay.mp4", source)
    assert await store.digest("e/s/replay.mp4") is None, "the corrupt object is deleted"
    assert await store.list_keys("") == []


async def test_s3_single_part_puts_send_content_md5(s3_store: S3Store,
                                                     tmp_path: Path) -> None:
    """AWS and MinIO refuse a body that does not match its Content-MD5 (BadDigest); moto
    does not check it, so the test checks what is sent."""
    sent: list[tuple[str, str | None]] = []

    def capture(request: Any, **_: Any) -> None:
        md5 = request.headers.get("Content-MD5")
        sent.append((request.url, md5.decode() if isinstance(md5, bytes) else md5))

    s3_store.client.meta.events.register("before-send.s3.PutObject", capture)
    try:
        source = tmp_path / "seg.ts"
        source.write_bytes(b"\x47" * 188)
        await s3_store.put_file("e/x.ts", source)
        await s3_store.put_bytes("e/index.html", b"<p>x</p>")
    finally:
        s3_store.client.meta.events.unregister("before-send.s3.PutObject", capture)
    assert [md5 for _, md5 in sent] == [
        base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        for data in (b"\x47" * 188, b"<p>x</p>")]


async def test_s3_objects_not_written_by_replay_have_no_digest(s3_store: S3Store,
                                                               moto_s3: MotoS3) -> None:
    moto_s3.client.put_object(Bucket=moto_s3.bucket, Key=f"{s3_store.prefix}e/index.html",
                              Body=b"by hand")
    assert await s3_store.digest("e/index.html") is None
    uploader = Uploader(s3_store)
    await uploader.data("e/index.html", b"by hand")
    assert uploader.uploaded == 1, "uploaded again, now with its digest"
    assert await s3_store.digest("e/index.html") == sha256(b"by hand")


async def test_s3_missing_bucket(moto_s3: MotoS3) -> None:
    store = S3Store("no-such-bucket", endpoint_url=moto_s3.endpoint, client=moto_s3.client)
    with pytest.raises(ReplayError, match="bucket 'no-such-bucket' does not exist"):
        await store.put_bytes("e/index.html", b"x")


async def test_s3_unreachable_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = S3Store("bucket", endpoint_url=f"http://127.0.0.1:{port}", region="us-east-1")
    with pytest.raises(ReplayError, match=r"cannot reach the S3 endpoint .* REPLAY_S3"):
        await store.digest("e/index.html")


async def test_s3_missing_credentials(moto_s3: MotoS3, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = S3Store(moto_s3.bucket, endpoint_url=moto_s3.endpoint, region="us-east-1")
    with pytest.raises(ReplayError, match=r"no S3 credentials.*AWS_ACCESS_KEY_ID"):
        await store.put_bytes("e/index.html", b"x")
