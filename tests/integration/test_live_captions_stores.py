"""The live subtitle rendition through every object store: local directory, in-memory fake,
and S3 on a moto server (read back over plain HTTP, as a player or a CDN would)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import ClientSession

from replay.domain.livecues import LiveSegment, parse_media_playlist
from replay.domain.transcript import Word
from replay.domain.webvtt import parse_webvtt
from replay.live.subtitles import RenditionConfig, SubtitleRendition
from replay.storage.local import LocalDirectoryStore
from replay.storage.memory import MemoryStore
from replay.storage.port import ObjectStore
from replay.storage.s3 import S3Store
from tests.integration.conftest import MotoS3

PREFIX = "live/salle-a/sous-titres/fr"


@pytest.fixture(params=["local", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalDirectoryStore(tmp_path / "site")
    if request.param == "memory":
        return MemoryStore()
    s3: S3Store = request.getfixturevalue("s3_store")
    return s3


async def live_day(store: ObjectStore) -> None:
    rendition = SubtitleRendition(store, RenditionConfig(prefix=PREFIX, window=2))
    take = rendition.begin_take(0, mpegts_origin=126_000)
    await take.add_words([Word(0.5, 0.9, " Bonjour"), Word(1.0, 1.4, " à"),
                          Word(1.5, 2.4, " tous.")])
    for sequence in range(3):
        await rendition.add_segment(LiveSegment(sequence, 0, 2.0 * sequence, 2.0))
    await take.settle(4.5)
    await rendition.end()


async def test_the_rendition_reads_back_from_every_store(store: ObjectStore) -> None:
    await live_day(store)
    keys = await store.list_keys(PREFIX + "/")
    assert keys == sorted(f"{PREFIX}/{name}" for name in
                          ("0.vtt", "1.vtt", "2.vtt", "day.m3u8", "live.m3u8"))
    day = await store.get_bytes(f"{PREFIX}/day.m3u8")
    assert day is not None
    first, entries = parse_media_playlist(day.decode())
    assert (first, [e.uri for e in entries]) == (0, ["0.vtt", "1.vtt", "2.vtt"])
    segment = await store.get_bytes(f"{PREFIX}/0.vtt")
    assert segment is not None
    assert [c.text for c in parse_webvtt(segment.decode())] == ["Bonjour à tous."]
    live = await store.get_bytes(f"{PREFIX}/live.m3u8")
    assert live is not None
    assert "#EXT-X-MEDIA-SEQUENCE:1\n" in live.decode()


async def test_s3_serves_the_rendition_with_its_content_types(moto_s3: MotoS3,
                                                              s3_store: S3Store) -> None:
    await live_day(s3_store)
    async with ClientSession() as http:
        for name, kind in (("day.m3u8", "application/vnd.apple.mpegurl"),
                           ("1.vtt", "text/vtt; charset=utf-8")):
            url = moto_s3.url(f"{s3_store.prefix}{PREFIX}/{name}")
            async with http.get(url) as response:
                assert response.headers["Content-Type"] == kind
                body = await response.text()
            assert body.startswith("#EXTM3U" if name.endswith(".m3u8") else "WEBVTT")
