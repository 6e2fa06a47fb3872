"""Tiny generated media for the real-ffmpeg tests, made once per session; a moto S3 server."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio

from replay.media.runner import run_ffmpeg
from replay.storage.s3 import S3Store, client_config

#: The good recording: 12 s of 640x360 at 25 fps with a tone, AAC, in MP4.
DURATION = 12.0
WIDTH, HEIGHT, FPS = 640, 360, 25
CREATION_TIME = "2024-05-21T09:30:00Z"
CREATED = datetime(2024, 5, 21, 9, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Media:
    """The generated files, and what ``good`` should probe as."""

    good: Path  # H.264 + AAC in MP4, with a creation_time
    video_only: Path  # H.264, no audio track
    text: Path  # a text file named .mp4
    truncated: Path  # the first 3 KB of ``good``
    playlist: Path  # an HLS playlist named .mp4 that points at a local file
    empty: Path  # zero bytes
    secret: Path  # the local file ``playlist`` points at
    duration: float = DURATION
    width: int = WIDTH
    height: int = HEIGHT
    fps: int = FPS
    creation_time: datetime = CREATED


def _lavfi(duration: float, *, audio: bool) -> list[str]:
    argv = [
        "-f", "lavfi",
        "-i", f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}:duration={duration:g}",
    ]  # fmt: skip
    if audio:
        argv += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={duration:g}"]
    return argv


async def _encode(dst: Path, duration: float, *, audio: bool) -> None:
    argv = [
        "ffmpeg", "-nostdin", "-hide_banner", "-y", "-loglevel", "error",
        *_lavfi(duration, audio=audio),
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "32", "-g", str(2 * FPS),
        "-pix_fmt", "yuv420p",
    ]  # fmt: skip
    if audio:
        argv += ["-c:a", "aac", "-b:a", "64k", "-shortest"]
    await run_ffmpeg([*argv, "-metadata", f"creation_time={CREATION_TIME}", str(dst)], timeout=60)


@pytest_asyncio.fixture(scope="session")
async def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    root = tmp_path_factory.mktemp("media")
    good, video_only = root / "good.mp4", root / "video-only.mp4"
    await _encode(good, DURATION, audio=True)
    await _encode(video_only, 2.0, audio=False)
    secret = root / "secret.ts"
    secret.write_bytes(b"\x47" + b"\x00" * 187)
    playlist = root / "playlist.mp4"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\n{secret}\n#EXT-X-ENDLIST\n")
    text = root / "notes.mp4"
    text.write_text("Table ronde : villes neutres pour le climat\n")
    truncated = root / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[:3072])
    empty = root / "empty.mp4"
    empty.touch()
    return Media(good, video_only, text, truncated, playlist, empty, secret)


# --- S3: a moto server speaking the S3 HTTP API on loopback ----------------------------


@dataclass(frozen=True)
class MotoS3:
    """A running moto server, a client for it with fake credentials, and a bucket."""

    endpoint: str
    client: Any
    bucket: str = "replay-test"

    def url(self, key: str) -> str:
        """The plain HTTP address of an object (moto lets anyone read)."""
        return f"{self.endpoint}/{self.bucket}/{quote(key)}"


FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    server_module = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")

    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", config=client_config(endpoint),
        **FAKE_CREDENTIALS)
    moto = MotoS3(endpoint, client)
    client.create_bucket(Bucket=moto.bucket)
    # The published site is public, as it would be behind a CDN or a public-read policy.
    client.put_bucket_policy(Bucket=moto.bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": f"arn:aws:s3:::{moto.bucket}/*"}]}))
    yield moto
    client.close()
    server.stop()


@pytest.fixture
def s3_store(moto_s3: MotoS3) -> S3Store:
    """An S3 store under a prefix of its own, so that every test starts empty."""
    return S3Store(moto_s3.bucket, f"t/{uuid.uuid4().hex}", endpoint_url=moto_s3.endpoint,
                   client=moto_s3.client)
