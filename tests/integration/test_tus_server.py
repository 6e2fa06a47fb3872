"""The tus server over a real HTTP port, driven by tuspy and by hostile raw requests."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import random
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError, TusUploadFailed
from yarl import URL

from replay.web.tus import create_tus_app, purge_expired
from replay.web.uploads_store import Upload, UploadStore

PREFIX = "/uploads/tus/"
MAX_SIZE = 4 << 20
CHUNK = 64 << 10
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {**TUS, "Content-Type": "application/offset+octet-stream"}
NBSP = "\u00a0"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def sha1_header(data: bytes) -> str:
    return "sha1 " + base64.b64encode(hashlib.sha1(data).digest()).decode()


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def metadata_for(data: bytes, **extra: str) -> dict[str, str]:
    return {
        "filename": "plénière.mp4",
        "event": "nice-2024",
        "room": "salle-a",
        "started_at": "2024-05-21T09:30:00+02:00",
        "sha256": hashlib.sha256(data).hexdigest(),
        **extra,
    }


def files_in(root: Path) -> dict[str, int]:
    """The folder's files and sizes; one the background purge deletes while it is being
    listed (between the listing and its stat) counts as gone."""
    if not root.exists():
        return {}
    sizes = {}
    for path in sorted(root.iterdir()):
        try:
            sizes[path.name] = path.stat().st_size
        except FileNotFoundError:
            continue
    return sizes


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


async def refuse(request: web.Request) -> None:
    if request.headers.get("Authorization") != "Bearer jeton":
        raise web.HTTPUnauthorized(text="Authentification requise.")


@dataclass
class Tus:
    """A running tus server over `root`, and what it handed over."""

    runner: web.AppRunner
    port: int
    app: web.Application
    root: Path
    clock: Clock
    completed: list[Upload] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return str(self.url(PREFIX))

    def url(self, path: str) -> URL:
        return URL(f"http://127.0.0.1:{self.port}").with_path(path)

    async def close(self) -> None:
        await self.runner.cleanup()


Start = Callable[..., Awaitable[Tus]]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    """Start servers on real ports, as `replay serve` would (no handler cancellation)."""
    runners: list[web.AppRunner] = []

    async def start(
        root: Path = tmp_path / "uploads",
        authorize: Callable[[web.Request], Awaitable[None]] | None = None,
        handler_cancellation: bool = False,
        failures: int = 0,
        purge_interval: float | None = None,
    ) -> Tus:
        clock, completed = Clock(), list[Upload]()

        async def on_complete(upload: Upload) -> None:
            nonlocal failures
            if failures:
                failures -= 1
                raise RuntimeError("the database is down")
            completed.append(upload)

        tus_app = create_tus_app(
            UploadStore(root),
            max_size=MAX_SIZE,
            expiry_seconds=3600,
            authorize=authorize,
            on_complete=on_complete,
            purge_interval=purge_interval,
            clock=clock,
        )
        app = web.Application()
        app.add_subapp(PREFIX, tus_app)
        runner = web.AppRunner(app, handler_cancellation=handler_cancellation)
        await runner.setup()
        runners.append(runner)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock).start()
        return Tus(runner, sock.getsockname()[1], tus_app, root, clock, completed)

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def create(
    http: aiohttp.ClientSession, tus: Tus, length: int, headers: dict[str, str] | None = None
) -> URL:
    metadata = f"event {b64('nice-2024')},room {b64('salle-a')},filename {b64('../../x.mp4')}"
    async with http.post(
        tus.endpoint,
        headers={
            **TUS,
            "Upload-Length": str(length),
            "Upload-Metadata": metadata,
            **(headers or {}),
        },
    ) as response:
        assert response.status == 201, await response.text()
        return tus.url(response.headers["Location"])


async def offset_of(http: aiohttp.ClientSession, url: URL) -> int:
    async with http.head(url, headers=TUS) as response:
        assert response.status == 200
        return int(response.headers["Upload-Offset"])


# --- tuspy ------------------------------------------------------------------------------


async def test_a_tuspy_upload_with_metadata_checksums_and_sha256(start: Start) -> None:
    tus = await start()
    data = payload(300_000)
    with io.BytesIO(data) as stream:
        uploader = TusClient(tus.endpoint).uploader(
            file_stream=stream, chunk_size=CHUNK, metadata=metadata_for(data), upload_checksum=True
        )
        await asyncio.to_thread(uploader.upload)

    [upload] = tus.completed
    assert upload.complete
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert (upload.event, upload.room, upload.filename) == ("nice-2024", "salle-a", "plénière.mp4")
    assert upload.started_at == "2024-05-21T09:30:00+02:00"
    assert upload.path.read_bytes() == data
    assert upload.path.parent == tus.root
    assert set(files_in(tus.root)) == {f"{upload.id}.bin", f"{upload.id}.json"}


async def test_an_upload_interrupted_half_way_resumes_after_a_restart(
    start: Start, http: aiohttp.ClientSession
) -> None:
    first = await start()
    data = payload(1 << 20, seed=1)
    with io.BytesIO(data) as stream:
        uploader = TusClient(first.endpoint).uploader(
            file_stream=stream, chunk_size=CHUNK, metadata=metadata_for(data)
        )
        for _ in range(8):
            await asyncio.to_thread(uploader.upload_chunk)
        assert uploader.offset == 8 * CHUNK
        assert uploader.url is not None
        path = URL(uploader.url).path
    await first.close()

    # A crash mid-write leaves bytes past the committed offset: they must not survive.
    [data_file] = first.root.glob("*.bin")
    with data_file.open("ab") as out:
        out.write(b"garbage from a crash")

    second = await start(first.root)
    assert await offset_of(http, second.url(path)) == 8 * CHUNK
    with io.BytesIO(data) as stream:
        client = TusClient(second.endpoint)
        resumed = await asyncio.to_thread(  # the uploader asks the offset as it is made
            client.uploader, file_stream=stream, chunk_size=CHUNK, url=str(second.url(path))
        )
        assert resumed.offset == 8 * CHUNK
        await asyncio.to_thread(resumed.upload)

    [upload] = second.completed
    assert upload.sha256 == hashlib.sha256(data).hexdigest()  # recomputed from the file
    assert hashlib.sha256(upload.path.read_bytes()).hexdigest() == upload.sha256


async def test_tuspy_sees_a_whole_file_mismatch(start: Start) -> None:
    tus_server = await start()
    data = payload(200_000, seed=2)
    with io.BytesIO(data) as stream:
        uploader = TusClient(tus_server.endpoint).uploader(
            file_stream=stream,
            chunk_size=CHUNK,
            metadata=metadata_for(data, sha256=hashlib.sha256(b"other").hexdigest()),
        )
        with pytest.raises(TusUploadFailed) as failed:
            await asyncio.to_thread(uploader.upload)
    assert failed.value.status_code == 460
    assert "SHA-256" in (failed.value.response_content or b"").decode()
    assert tus_server.completed == []
    assert files_in(tus_server.root) == {}


async def test_a_failed_hand_over_is_retried(start: Start, http: aiohttp.ClientSession) -> None:
    tus_server = await start(failures=1)
    data = payload(100_000, seed=4)
    with io.BytesIO(data) as stream:
        uploader = TusClient(tus_server.endpoint).uploader(
            file_stream=stream, chunk_size=CHUNK, metadata=metadata_for(data)
        )
        with pytest.raises(TusUploadFailed) as failed:
            await asyncio.to_thread(uploader.upload)
        assert failed.value.status_code == 500
        assert "réessayez" in (failed.value.response_content or b"").decode()
        assert uploader.url is not None
        assert await offset_of(http, URL(uploader.url)) == CHUNK
        await asyncio.to_thread(uploader.upload)  # tuspy resumes from its last known offset
    [upload] = tus_server.completed
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    last = {**OCTETS, "Upload-Offset": str(len(data))}
    async with http.patch(URL(uploader.url), data=b"", headers=last) as response:
        assert response.status == 204  # a complete upload is handed over once
    assert len(tus_server.completed) == 1


async def test_expired_uploads_are_purged_in_the_background(
    start: Start, http: aiohttp.ClientSession
) -> None:
    tus = await start(purge_interval=0.01)
    url = await create(http, tus, 10)
    orphan = tus.root / f"{'A' * 32}.bin"  # a crash between the data and the state file
    orphan.write_bytes(b"orphan")
    os.utime(orphan, (tus.clock.now - 1, tus.clock.now - 1))
    tus.clock.now += 3600
    for _ in range(100):
        if not files_in(tus.root):
            break
        await asyncio.sleep(0.01)
    assert files_in(tus.root) == {}
    async with http.head(url, headers=TUS) as response:
        assert response.status == 404


async def test_a_second_writer_is_refused_while_the_first_writes(
    start: Start, http: aiohttp.ClientSession
) -> None:
    tus = await start()
    url = await create(http, tus, 100)
    head = (
        f"PATCH {url.path} HTTP/1.1\r\nHost: localhost\r\nTus-Resumable: 1.0.0\r\n"
        "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
        "Content-Length: 100\r\n\r\n"
    )
    _, first = await asyncio.open_connection("127.0.0.1", tus.port)
    first.write(head.encode() + b"a" * 10)
    await first.drain()
    await asyncio.sleep(0.1)
    for method in ("PATCH", "DELETE"):
        headers = {**OCTETS, "Upload-Offset": "0"}
        async with http.request(method, url, data=b"b" * 10, headers=headers) as response:
            assert response.status == 423
    first.write(b"a" * 90)
    await first.drain()
    first.close()
    await first.wait_closed()
    await asyncio.sleep(0.1)
    assert (tus.root / f"{url.name}.bin").read_bytes() == b"a" * 100


# --- hostile requests -------------------------------------------------------------------


async def test_options_describes_the_server(start: Start, http: aiohttp.ClientSession) -> None:
    tus = await start()
    async with http.options(tus.endpoint) as response:
        assert response.status == 204
        assert response.headers["Tus-Version"] == "1.0.0"
        assert set(response.headers["Tus-Extension"].split(",")) == {
            "creation", "checksum", "termination", "expiration",
        }  # fmt: skip
        assert response.headers["Tus-Max-Size"] == str(MAX_SIZE)
        assert response.headers["Tus-Checksum-Algorithm"] == "sha1"


async def test_a_patch_at_the_wrong_offset_writes_nothing(
    start: Start, http: aiohttp.ClientSession
) -> None:
    tus = await start()
    url = await create(http, tus, 100)
    for offset in ("10", "-1", "abc"):
        headers = {**OCTETS, "Upload-Offset": offset}
        async with http.patch(url, data=b"x" * 10, headers=headers) as response:
            assert response.status == (409 if offset == "10" else 400)
            assert response.headers["Tus-Resumable"] == "1.0.0"
    async with http.patch(url, data=b"x", headers={**OCTETS, "Upload-Offset": "1"}) as response:
        assert await response.text() == f"Position incorrecte{NBSP}: le serveur attend l’octet 0."
    assert await offset_of(http, url) == 0
    assert set(files_in(tus.root).values()) == {0, files_in(tus.root)[f"{url.name}.json"]}


async def test_a_chunk_with_a_wrong_checksum_is_discarded(
    start: Start, http: aiohttp.ClientSession
) -> None:
    tus = await start()
    url = await create(http, tus, 100)
    good = {**OCTETS, "Upload-Offset": "0", "Upload-Checksum": sha1_header(b"a" * 40)}
    async with http.patch(url, data=b"a" * 40, headers=good) as response:
        assert response.status == 204
        assert response.headers["Upload-Offset"] == "40"
    bad = {**OCTETS, "Upload-Offset": "40", "Upload-Checksum": sha1_header(b"c" * 30)}
    async with http.patch(url, data=b"b" * 30, headers=bad) as response:
        assert response.status == 460
        assert "Somme de contrôle incorrecte" in await response.text()
    assert await offset_of(http, url) == 40
    assert (tus.root / f"{url.name}.bin").read_bytes() == b"a" * 40
    md5 = {**OCTETS, "Upload-Offset": "40", "Upload-Checksum": "md5 AAAA"}
    async with http.patch(url, data=b"b" * 30, headers=md5) as response:
        assert response.status == 400
    assert (tus.root / f"{url.name}.bin").read_bytes() == b"a" * 40


async def test_a_body_longer_than_the_upload_is_refused(
    start: Start, http: aiohttp.ClientSession
) -> None:
    tus = await start()
    url = await create(http, tus, 100)
    async with http.patch(url, data=b"x" * 101, headers={**OCTETS, "Upload-Offset": "0"}) as r:
        assert r.status == 413
    assert (tus.root / f"{url.name}.bin").stat().st_size == 0

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: caught while streaming
        for _ in range(4):
            yield b"y" * 30

    async with http.patch(url, data=chunked(), headers={**OCTETS, "Upload-Offset": "0"}) as r:
        assert r.status == 413
        assert await r.text() == "Les données envoyées dépassent la taille annoncée du fichier."
    assert (tus.root / f"{url.name}.bin").stat().st_size == 0
    assert await offset_of(http, url) == 0


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({"Upload-Length": str(MAX_SIZE + 1)}, 413, "Fichier trop volumineux\u00a0:"),
        ({"Upload-Length": "-5"}, 400, "Upload-Length"),
        ({"Upload-Length": "0"}, 400, "Le fichier est vide."),
        ({"Upload-Defer-Length": "1"}, 400, "longueur différée"),
        ({"Upload-Length": "10", "Upload-Metadata": "event !!"}, 400, "Upload-Metadata"),
        ({"Upload-Length": "10", "Upload-Metadata": f"event {b64('e')}"}, 400,
         "«\u00a0room\u00a0»"),
        ({"Upload-Length": "10", "Tus-Resumable": "0.2.2"}, 412, "1.0.0 attendue"),
    ],
)
async def test_creations_refused(
    start: Start,
    http: aiohttp.ClientSession,
    headers: dict[str, str],
    status: int,
    message: str,
) -> None:
    tus = await start()
    metadata = f"event {b64('e')},room {b64('r')}"
    async with http.post(
        tus.endpoint, headers={**TUS, "Upload-Metadata": metadata, **headers}
    ) as response:
        assert response.status == status
        assert message in await response.text()
        assert response.headers["Tus-Resumable"] == "1.0.0"
        if status == 412:
            assert response.headers["Tus-Version"] == "1.0.0"
    assert files_in(tus.root) == {}


@pytest.mark.parametrize(
    "path",
    [
        "../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "%2E%2E/%2E%2E/etc/passwd",
        "..",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%2F",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.json",
    ],
)
@pytest.mark.parametrize("method", ["HEAD", "PATCH", "DELETE"])
async def test_ids_that_are_paths_are_not_found(
    start: Start, http: aiohttp.ClientSession, tmp_path: Path, path: str, method: str
) -> None:
    tus = await start()
    await create(http, tus, 10)
    before = files_in(tus.root)
    victim = tmp_path / "passwd"
    victim.write_text("root")
    url = URL(f"{tus.endpoint}{path}", encoded=True)
    headers = {**OCTETS, "Upload-Offset": "0"}
    async with http.request(method, url, data=b"x", headers=headers) as response:
        assert response.status == 404
    assert files_in(tus.root) == before
    assert victim.read_text() == "root"


async def test_a_wrong_content_type_is_refused(start: Start, http: aiohttp.ClientSession) -> None:
    tus = await start()
    url = await create(http, tus, 10)
    headers = {**TUS, "Upload-Offset": "0", "Content-Type": "application/octet-stream"}
    async with http.patch(url, data=b"x" * 10, headers=headers) as response:
        assert response.status == 415
        assert "«\u00a0application/offset+octet-stream\u00a0»" in await response.text()
    assert (tus.root / f"{url.name}.bin").stat().st_size == 0


async def test_a_missing_tus_version_is_refused(start: Start, http: aiohttp.ClientSession) -> None:
    tus = await start()
    url = await create(http, tus, 10)
    headers = {"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}
    async with http.patch(url, data=b"x" * 10, headers=headers) as response:
        assert response.status == 412
    assert (tus.root / f"{url.name}.bin").stat().st_size == 0


async def test_unauthorized_requests_create_and_write_nothing(
    start: Start, http: aiohttp.ClientSession
) -> None:
    tus = await start(authorize=refuse)
    auth = {"Authorization": "Bearer jeton"}
    url = await create(http, tus, 10, auth)
    before = files_in(tus.root)
    with io.BytesIO(b"0123456789") as stream:
        uploader = TusClient(tus.endpoint).uploader(file_stream=stream, metadata=metadata_for(b""))
        with pytest.raises(TusCommunicationError) as failed:
            await asyncio.to_thread(uploader.upload)
    assert failed.value.status_code == 401
    for method in ("HEAD", "PATCH", "DELETE"):
        headers = {**OCTETS, "Upload-Offset": "0"}
        async with http.request(method, url, data=b"x" * 10, headers=headers) as response:
            assert response.status == 401
    assert files_in(tus.root) == before


async def test_a_terminated_upload_is_gone(start: Start, http: aiohttp.ClientSession) -> None:
    tus = await start()
    url = await create(http, tus, 10)
    async with http.delete(url, headers=TUS) as response:
        assert response.status == 204
    async with http.head(url, headers=TUS) as response:
        assert response.status == 404
    async with http.delete(url, headers=TUS) as response:
        assert response.status == 404
    assert files_in(tus.root) == {}


async def test_an_expired_upload_is_gone_then_purged(
    start: Start, http: aiohttp.ClientSession
) -> None:
    tus = await start()
    url = await create(http, tus, 10)
    async with http.head(url, headers=TUS) as response:
        assert response.headers["Upload-Expires"] == "Tue, 14 Nov 2023 23:13:20 GMT"
    tus.clock.now += 3600
    async with http.head(url, headers=TUS) as response:
        assert response.status == 410
        assert await response.text() == ""  # a HEAD has no body
    async with http.patch(url, data=b"x", headers={**OCTETS, "Upload-Offset": "0"}) as response:
        assert response.status == 410
        assert "a expiré" in await response.text()
    assert await purge_expired(tus.app) == [url.name]
    assert files_in(tus.root) == {}
    async with http.head(url, headers=TUS) as response:
        assert response.status == 404


@pytest.mark.parametrize("handler_cancellation", [False, True])
async def test_a_dropped_connection_keeps_what_was_received(
    start: Start, handler_cancellation: bool
) -> None:
    tus = await start(handler_cancellation=handler_cancellation)
    async with aiohttp.ClientSession() as http:
        url = await create(http, tus, 1000)
    head = (
        f"PATCH {url.path} HTTP/1.1\r\nHost: localhost\r\nTus-Resumable: 1.0.0\r\n"
        "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
        "Content-Length: 1000\r\n"
    )
    await send_and_drop(tus, (head + "\r\n").encode() + b"k" * 300)
    async with aiohttp.ClientSession() as http:
        assert await offset_of(http, url) == 300
        checked = head + f"Upload-Checksum: {sha1_header(b'z' * 700)}\r\n\r\n"
        await send_and_drop(
            tus,
            checked.replace("Upload-Offset: 0", "Upload-Offset: 300")
            .replace("1000", "700")
            .encode()
            + b"z" * 200,
        )
        assert await offset_of(http, url) == 300  # with a checksum, a partial chunk is dropped
    assert (tus.root / f"{url.name}.bin").read_bytes() == b"k" * 300


async def send_and_drop(tus: Tus, raw: bytes) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", tus.port)
    writer.write(raw)
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.1)  # let the server see the end of the connection


# --- memory -----------------------------------------------------------------------------

SERVER = """
import socket, sys
from pathlib import Path
from aiohttp import web
from replay.web.tus import create_tus_app
from replay.web.uploads_store import UploadStore

app = web.Application()
app.add_subapp("/t/", create_tus_app(UploadStore(Path(sys.argv[1])), max_size=1 << 30,
               required_metadata=()))
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(16)
print(sock.getsockname()[1], flush=True)
web.run_app(app, sock=sock, print=None, handle_signals=True)
"""


def peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_memory_stays_flat_whatever_the_file_size(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVER, str(tmp_path / "uploads"), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        port = int(await asyncio.wait_for(process.stdout.readline(), 30))
        endpoint = f"http://127.0.0.1:{port}/t/"
        data = payload(50 << 20, seed=3)
        with io.BytesIO(data) as stream:
            uploader = TusClient(endpoint).uploader(
                file_stream=stream,
                chunk_size=5 << 20,
                upload_checksum=True,
                metadata={"sha256": hashlib.sha256(data).hexdigest()},
            )
            uploader.set_url(await asyncio.to_thread(uploader.create_url))  # warm from here
            baseline = peak_rss_kib(process.pid)
            await asyncio.to_thread(uploader.upload)
        growth = peak_rss_kib(process.pid) - baseline
        print(f"peak RSS {baseline} KiB, grew by {growth} KiB")
        assert growth < 8 << 10, f"the server grew by {growth} KiB for a 50 MiB upload"
        [data_file] = (tmp_path / "uploads").glob("*.bin")
        assert data_file.stat().st_size == len(data)
    finally:
        process.terminate()
        await process.wait()
