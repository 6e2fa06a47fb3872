"""Unpublishing a session deletes its objects, page first, and nothing else."""

from __future__ import annotations

from datetime import date

from replay.domain.model import Event
from replay.site.publish import unpublish_session
from replay.storage.memory import MemoryStore

EVENT = Event(slug="villes-2026", title="Mission villes", start=date(2026, 3, 3),
              end=date(2026, 3, 4), timezone="Europe/Paris", rooms=(), sessions=())


class RecordingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.deleted: list[str] = []

    async def delete(self, key: str) -> None:
        self.deleted.append(key)
        await super().delete(key)


async def test_unpublish_deletes_the_session_in_reverse_publication_order() -> None:
    store = RecordingStore()
    session = ["hls/480p/seg_00000.ts", "hls/480p/index.m3u8", "hls/master.m3u8",
               "replay.mp4", "subtitles.fr.vtt", "index.html"]
    for name in session:
        await store.put_bytes(f"villes-2026/s1/{name}", b"x")
    others = ["villes-2026/index.html", "villes-2026/s10/index.html", "villes-2026/s2/index.html"]
    for key in others:
        await store.put_bytes(key, b"x")
    assert await unpublish_session(store, EVENT, "s1") == len(session)
    assert store.deleted[:3] == ["villes-2026/s1/index.html", "villes-2026/s1/hls/master.m3u8",
                                 "villes-2026/s1/hls/480p/index.m3u8"]
    assert sorted(store.objects) == others
    assert await unpublish_session(store, EVENT, "s1") == 0, "running it again is harmless"
