"""Publishing: segments named after their content (playlists rewritten to match), what
a new publication no longer reaches pruned, and every file hashed off the event loop."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from replay.site import publish as publishing
from replay.site.publish import content_name, publish_event, rename_segments, segment_uris
from replay.storage import port
from replay.storage.memory import MemoryStore
from tests.unit.test_site_pages import T0, fake_outputs, make_event, make_session

TS = """#EXTM3U
#EXT-X-TARGETDURATION:6
#EXTINF:6.000,
seg_00000.ts
#EXTINF:6.000,
seg_00001.ts
#EXTINF:2.000,
seg_00001.ts
#EXT-X-ENDLIST
"""
FMP4 = """#EXTM3U\r
#EXT-X-MAP:URI="init.mp4"\r
#EXTINF:6.000,\r
seg_00000.m4s\r
#EXT-X-ENDLIST\r
"""


@pytest.mark.parametrize(("playlist", "uris"), [
    (TS, ["seg_00000.ts", "seg_00001.ts"]),
    (FMP4, ["init.mp4", "seg_00000.m4s"]),
    ("#EXTM3U\nhttps://cdn.example/a.ts\n/abs.ts\n../up.ts\nok.ts\n", ["ok.ts"]),
])
def test_segment_uris(playlist: str, uris: list[str]) -> None:
    assert segment_uris(playlist) == uris


def test_renaming_keeps_everything_else() -> None:
    renamed = rename_segments(FMP4, {"init.mp4": "aa.mp4", "seg_00000.m4s": "bb.m4s"})
    assert renamed == FMP4.replace("init.mp4", "aa.mp4").replace("seg_00000.m4s", "bb.m4s")
    assert rename_segments(TS, {}) == TS


def test_a_content_name_keeps_the_extension() -> None:
    digest = hashlib.sha256(b"x").hexdigest()
    assert content_name("seg_00003.ts", digest) == f"{digest[:32]}.ts"


async def test_files_are_hashed_off_the_event_loop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []
    real = port.sha256_of_file

    def hashing(path: Path) -> str:
        threads.append(threading.get_ident())
        return real(path)

    monkeypatch.setattr(publishing, "sha256_of_file", hashing)
    first = make_session("g1", "ouverture", T0, evil=False)
    second = make_session("g2", "table-ronde", T0 + timedelta(hours=2), evil=False)
    outputs = [fake_outputs(tmp_path, item) for item in (first, second)]
    await publish_event(MemoryStore(), make_event(first, second), outputs, drafts=True)
    assert len(threads) >= 10  # segments, media and speech files of both sessions
    assert threading.get_ident() not in threads


async def test_what_the_new_publication_does_not_reach_is_pruned(tmp_path: Path) -> None:
    first = make_session("g1", "ouverture", T0, evil=False)
    second = make_session("g2", "table-ronde", T0 + timedelta(hours=2), evil=False)
    event = make_event(first, second)
    store = MemoryStore()
    await store.put_bytes("villes-2026/ouverture/hls/480p/seg_00000.ts", b"old")
    await store.put_bytes("villes-2026/assets/ancien.js", b"old")
    await store.put_bytes("villes-2026/retiree/index.html", b"not published now: kept")
    await store.put_bytes("autre/ouverture/hls/480p/seg_00000.ts", b"another event")
    outputs = [fake_outputs(tmp_path, item) for item in (first, second)]
    uploader = await publish_event(store, event, outputs, drafts=True)
    assert uploader.pruned == 2
    assert set(store.objects) == uploader.keys | {"villes-2026/retiree/index.html",
                                                  "autre/ouverture/hls/480p/seg_00000.ts"}
