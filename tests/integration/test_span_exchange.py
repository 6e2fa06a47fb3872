"""A session's media job on a worker without the original (issue 14): it reads only its
span, through a presigned URL of the S3 bucket (moto over HTTP), instead of downloading
the whole recording. A counting relay between the worker and moto sees every byte."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from replay.domain.cutplan import Cut
from replay.domain.programme import parse_programme
from replay.jobs.context import Lanes
from replay.jobs.memory_queue import MemoryQueue
from replay.jobs.tasks import TaskDeps, media_session
from replay.jobs.worker import JobContext
from replay.media.probe import StoreUrl, probe
from replay.media.runner import run_ffmpeg
from replay.services.workdirs import session_work_dir
from replay.settings import Settings
from replay.speech.transcriber import FakeTranscriber
from replay.storage.exchange import exchange_for
from replay.storage.s3 import S3Store, client_config
from replay.store.db import Store
from replay.store.factory import open_store
from replay.store.ports import InPlace
from tests.integration.conftest import FAKE_CREDENTIALS, MotoS3

pytestmark = pytest.mark.slow

PROGRAMME = (Path(__file__).parent.parent / "fixtures" / "programmes"
             / "mission-villes-2026.schedule.json")
SLUG = "mission-villes-2026"
#: A recording long beside its session: 90 s, of which the session is 6 s.
LONG = 90.0
SPAN = (40.0, 46.0)
FPS = 25
#: Headers that belong to one connection, not to what it carries.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "expect", "content-length"}


@pytest_asyncio.fixture(scope="module")
async def long_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """H.264 with noise (so that bytes follow time, as in a camera's file) and AAC, its
    index at the end as cameras write it (no faststart), a keyframe every 2 s."""
    path = tmp_path_factory.mktemp("span") / "long.mp4"
    await run_ffmpeg([
        "ffmpeg", "-nostdin", "-hide_banner", "-y", "-loglevel", "error",
        "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate={FPS}:duration={LONG:g},"
                             "noise=alls=30:allf=t",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={LONG:g}",
        "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "3000k", "-g", str(2 * FPS),
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-shortest", str(path),
    ], timeout=120)  # fmt: skip
    return path


@dataclass
class Relay:
    """An HTTP relay in front of moto that counts the bytes of the original it serves."""

    upstream: str
    url: str = ""
    original_bytes: int = 0
    ranges: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if sock is not None:  # what the relay counts is what left it, give or take 64 KiB
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 16)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        counted = request.method == "GET" and "/_private/originals/" in request.path
        if counted:
            self.ranges.append(request.headers.get("Range", "(whole)"))
        body = await request.read()
        async with aiohttp.ClientSession(auto_decompress=False) as session, session.request(
                request.method, self.upstream + request.path_qs, headers=headers,
                data=body or None, allow_redirects=False) as upstream:
            response = web.StreamResponse(status=upstream.status, headers={
                k: v for k, v in upstream.headers.items()
                if k.lower() not in HOP_BY_HOP - {"content-length"}})
            await response.prepare(request)
            try:
                async for chunk in upstream.content.iter_chunked(1 << 14):
                    await response.write(chunk)
                    if counted:
                        self.original_bytes += len(chunk)
                await response.write_eof()
            except (ConnectionError, aiohttp.ClientConnectionResetError):
                pass  # ffmpeg stopped reading: it has what it needs
            return response


@pytest_asyncio.fixture
async def relay(moto_s3: MotoS3) -> AsyncIterator[Relay]:
    relay = Relay(moto_s3.endpoint)
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", relay.handle)
    async with TestServer(app, host="127.0.0.1") as server:
        relay.url = str(server.make_url("")).rstrip("/")
        yield relay


def machine(data: Path, moto_s3: MotoS3, prefix: str) -> Settings:
    return Settings(data_dir=data, cpu_threads=1, object_store_url=f"s3://{moto_s3.bucket}/"
                    f"{prefix}/site", s3_endpoint_url=moto_s3.endpoint, s3_region="us-east-1")


def site_store(moto_s3: MotoS3, prefix: str, endpoint: str) -> S3Store:
    import boto3

    client = boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", config=client_config(endpoint),
        **FAKE_CREDENTIALS)
    return S3Store(moto_s3.bucket, f"{prefix}/site", endpoint_url=endpoint, client=client)


async def _always() -> bool:
    return True


async def test_a_media_job_elsewhere_reads_only_its_span(
        tmp_path: Path, moto_s3: MotoS3, relay: Relay, long_recording: Path) -> None:
    prefix = f"span/{uuid.uuid4().hex}"
    api, worker = machine(tmp_path / "api", moto_s3, prefix), machine(
        tmp_path / "worker", moto_s3, prefix)
    data = await asyncio.to_thread(long_recording.read_bytes)
    sha256 = hashlib.sha256(data).hexdigest()
    original = api.originals_dir / f"{sha256}.mp4"
    original.parent.mkdir(parents=True)
    original.write_bytes(data)
    # What admission and the analysis did on the API machine: the original shared, the
    # probe and the cut plan stored.
    await exchange_for(site_store(moto_s3, prefix, moto_s3.endpoint), api.data_dir).share(
        original, sha256)
    info = await probe(original)
    worker.data_dir.mkdir(parents=True)
    store: Store = open_store(worker)
    try:
        store.save_event(parse_programme(PROGRAMME.read_bytes(), filename="p.json"))
        recording = store.add_recording(
            event_slug=SLUG, room="Plénière", sha256=sha256, original=original,
            source_name="long.mp4",
            started_at=datetime.fromisoformat("2026-03-03T09:00:00+01:00"))
        store.set_probe(recording.id, info.duration, asdict(info))
        cut = Cut("first", "Séance", *SPAN, *SPAN, False, False)
        store.save_cuts(recording.id, [cut])

        objects = site_store(moto_s3, prefix, relay.url)  # the worker reaches S3 by the relay
        given = await exchange_for(objects, worker.data_dir).readable_original(
            original, worker.originals_dir / original.name, sha256, expires=600)
        assert isinstance(given, StoreUrl), "the worker reads the original from the store"
        assert given.address.startswith(relay.url), "through the relay"
        assert "Signature" in given.address
        relay.ranges.clear()

        deps = TaskDeps(settings=worker, db=InPlace(store), queue=MemoryQueue(),
                        objects=objects, transcriber=FakeTranscriber(),
                        lanes=Lanes.for_threads(1))
        job = JobContext(job_id=1, task="media_session", attempt=1,
                         args={"recording": recording.id, "guid": cut.guid},
                         report_progress=lambda fraction, eta: None, still_current=_always)
        async with asyncio.timeout(300):
            await media_session(deps, job)
    finally:
        store.close()

    assert not (worker.originals_dir / original.name).exists(), "nothing downloaded whole"
    assert relay.ranges, "the original was read from the store"
    assert all(r.startswith("bytes=") for r in relay.ranges), relay.ranges
    share = relay.original_bytes / len(data)
    assert 0 < share < 0.6, (f"{relay.original_bytes} bytes of the original read for a "
                             f"{SPAN[1] - SPAN[0]:g} s span of {LONG:g} s ({len(data)} bytes), "
                             f"ranges {relay.ranges}")

    media = session_work_dir(worker, recording, cut.guid) / "media"
    for made in ("replay.mp4", "audio.m4a"):
        assert (await probe(media / made)).duration == pytest.approx(SPAN[1] - SPAN[0],
                                                                     abs=0.2), made
    assert (media / "hls" / "master.m3u8").is_file()
    assert (media / "poster.jpg").stat().st_size > 0
