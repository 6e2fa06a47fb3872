"""The live captions wired into a take (`LiveCaptions`), over a scripted recogniser (the
fake of the Whisper pass) and the in-memory object store: the room's rendition, feed,
journal and drafts, English beside French, and what is never kept."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from replay.domain.livecues import parse_media_playlist
from replay.domain.model import Session
from replay.domain.transcript import Word
from replay.domain.webvtt import parse_webvtt
from replay.live.replay import TakeSpan
from replay.live.room_captions import (
    LiveCaptions,
    journal_path,
    live_window_segments,
    player_delay,
    shifted,
    subtitle_renditions,
)
from replay.live.store import LiveSegment, Take
from replay.live.transcript_feed import TranscriptFeeds
from replay.settings import Settings
from replay.speech.streaming import ScriptedRecognizer, StreamingRecognizer
from replay.storage.memory import MemoryStore

RATE = 16000
WALL = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
DAY = "ev/direct/pleniere/2026-03-03"
ORIGIN = 900_000


def script(count: int, start: float = 0.5, tag: str = "mot") -> list[Word]:
    """`count` words of 0.35 s, a sentence every six."""
    words, at = [], start
    for index in range(count):
        ending = "." if index % 6 == 5 else ""
        words.append(Word(round(at, 3), round(at + 0.35, 3), f" {tag}{index}{ending}", 0.9))
        at += 0.4
    return words


async def silence(seconds: float) -> AsyncIterator[bytes]:
    remaining = round(seconds * RATE) * 2
    while remaining > 0:
        size = min(3200, remaining)
        remaining -= size
        yield bytes(size)
        await asyncio.sleep(0.001)


def take(folder: Path, take_id: int = 3) -> Take:
    return Take(take_id, "ev", "Plénière", "2026-03-03", "rtmp", "127.0.0.1", WALL, None,
                "live", str(folder))


def settings(tmp_path: Path, **changes: object) -> Settings:
    base = Settings(data_dir=tmp_path / "data", live_caption_step=1.0,
                    live_caption_trim_after=6.0, live_caption_max_buffer=12.0,
                    live_caption_commit_after=4.0)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@dataclasses.dataclass
class Run:
    captions: LiveCaptions
    store: MemoryStore
    feeds: TranscriptFeeds
    take: Take
    spoken: list[Word]


async def caption_a_take(tmp_path: Path, spoken: list[Word], *,
                         recognizers: dict[str, StreamingRecognizer] | None = None,
                         sessions: Sequence[Session] = (), **changes: object) -> Run:
    """One take through LiveCaptions as the supervisor drives it: started with its PCM,
    a segment per 2 s of each rung, ended."""
    store, feeds = MemoryStore(), TranscriptFeeds()
    captions = LiveCaptions(settings(tmp_path, **changes), store, feeds,
                            top_rung=lambda _: "720p", sessions=lambda _: sessions,
                            recognizers=recognizers or {"fr": ScriptedRecognizer(spoken)})
    the_take = take(tmp_path)
    duration = spoken[-1].end + 1.0
    await captions.take_started(the_take, silence(duration))
    task = captions.takes[the_take.id].task
    assert task is not None
    for sequence in range(int(duration // 2)):
        for rung in ("720p", "480p"):
            await captions.segment_published(dataclasses.replace(the_take, mpegts_origin=ORIGIN),
                                             rung, LiveSegment(sequence, the_take.id,
                                                               2.0 * sequence, 2.0, False),
                                             ORIGIN)
    await asyncio.wait_for(asyncio.shield(task), 30)
    await captions.take_ended(the_take)
    return Run(captions, store, feeds, the_take, spoken)


async def test_a_take_is_captioned_into_the_rooms_rendition_feed_and_journal(
        tmp_path: Path) -> None:
    run = await caption_a_take(tmp_path, script(30))
    expected = [w.text.strip() for w in run.spoken]
    first, entries = parse_media_playlist(
        (await run.store.get_bytes(f"{DAY}/subtitles/fr/day.m3u8") or b"").decode())
    assert first == 0
    assert len(entries) == int((run.spoken[-1].end + 1.0) // 2), "the top rung's only"
    cues = set()  # a cue over two segments is in both
    for entry in entries:
        text = (await run.store.get_bytes(f"{DAY}/subtitles/fr/{entry.uri}") or b"").decode()
        assert f"X-TIMESTAMP-MAP=MPEGTS:{ORIGIN},LOCAL:00:00:00.000" in text
        cues |= set(parse_webvtt(text))
    shown = [t for cue in sorted(cues, key=lambda c: c.start) for t in cue.text.split()]
    assert shown == expected
    feed = run.feeds.get("ev.pleniere")
    assert feed is not None
    assert " ".join(e.text for e in feed.after(0)).split() == expected
    assert journal_path(tmp_path, "fr").read_text(encoding="utf-8").count("\n") == 30
    assert run.captions.takes == {}, "forgotten once the take ended"


async def test_drafts_are_the_spans_words_on_the_replays_clock(tmp_path: Path) -> None:
    run = await caption_a_take(tmp_path, script(30))
    drafts = await run.captions.drafts([TakeSpan(run.take.id, 4.0, 8.0, 60.0),
                                        TakeSpan(99, 0.0, 10.0, 64.0)])  # an unknown take
    assert set(drafts) == {"fr"}
    cues = drafts["fr"]
    words = [t for cue in cues for t in cue.text.split()]
    assert words == [w.text.strip() for w in run.spoken if 4.0 <= w.start < 8.0]
    assert all(60.0 <= cue.start < cue.end <= 64.0 for cue in cues)
    # After a restart (nothing in memory), the journal gives the same drafts.
    again = LiveCaptions(settings(tmp_path), MemoryStore(), TranscriptFeeds(),
                         top_rung=lambda _: "720p")
    again._folders[run.take.id] = tmp_path
    assert await again.drafts([TakeSpan(run.take.id, 4.0, 8.0, 60.0)]) == drafts


async def test_words_of_a_session_not_to_be_recorded_are_shown_live_never_kept(
        tmp_path: Path) -> None:
    private = Session("g", "Huis clos", "Plénière", WALL + timedelta(seconds=4),
                      timedelta(seconds=4), do_not_record=True)
    run = await caption_a_take(tmp_path, script(30), sessions=[private])
    inside = [w.text.strip() for w in run.spoken if 4.0 <= w.start < 8.0]
    assert inside
    kept = journal_path(tmp_path, "fr").read_text(encoding="utf-8")
    assert not [word for word in inside if f'"{word}' in kept or f'" {word}' in kept]
    drafts = await run.captions.drafts([TakeSpan(run.take.id, 0.0, 20.0, 0.0)])
    drafted = [t for cue in drafts["fr"] for t in cue.text.split()]
    assert drafted == [w.text.strip() for w in run.spoken
                       if not 4.0 <= w.start < 8.0]
    feed = run.feeds.get("ev.pleniere")
    assert feed is not None
    assert set(inside) <= set(" ".join(e.text for e in feed.after(0)).split()), "live"


async def test_english_beside_french_has_its_own_rendition_and_drafts(tmp_path: Path) -> None:
    french, english = script(18), script(18, tag="word")
    run = await caption_a_take(tmp_path, french, live_captions_english="on", recognizers={
        "fr": ScriptedRecognizer(french), "en": ScriptedRecognizer(english)})
    assert [r[0] for r in run.captions.subtitles()] == ["fr", "en"]
    _, entries = parse_media_playlist(
        (await run.store.get_bytes(f"{DAY}/subtitles/en/day.m3u8") or b"").decode())
    assert entries
    drafts = await run.captions.drafts([TakeSpan(run.take.id, 0.0, 20.0, 0.0)])
    assert [t for cue in drafts["en"] for t in cue.text.split()] == \
        [w.text.strip() for w in english]
    feed = run.feeds.get("ev.pleniere")
    assert feed is not None
    assert "word0" not in " ".join(e.text for e in feed.after(0)), "the panel is French"


@pytest.mark.parametrize(("english", "device", "expected"), [
    ("auto", "cpu", [("fr", "sous-titres automatiques", "subtitles/fr/live.m3u8")]),
    ("auto", "cuda", [("fr", "sous-titres automatiques", "subtitles/fr/live.m3u8"),
                      ("en", "anglais (sous-titres automatiques)", "subtitles/en/live.m3u8")]),
    ("off", "cuda", [("fr", "sous-titres automatiques", "subtitles/fr/live.m3u8")]),
])
def test_the_masters_renditions_follow_the_settings(tmp_path: Path, english: str, device: str,
                                                     expected: list[tuple[str, ...]]) -> None:
    chosen = settings(tmp_path, live_captions_english=english, live_caption_device=device)
    assert list(subtitle_renditions(chosen)) == expected


@pytest.mark.parametrize(("enabled", "delay", "expected"), [
    (False, 6.0, 6.0),
    (True, 6.0, 4.0 + 1.0 + 2 * 2.0),
    (True, 12.0, 12.0),
])
def test_the_players_delay_leaves_room_for_the_captions(tmp_path: Path, enabled: bool,
                                                         delay: float, expected: float) -> None:
    chosen = settings(tmp_path, live_captions_enabled=enabled, live_player_delay=delay)
    assert player_delay(chosen) == expected


@pytest.mark.parametrize(("enabled", "delay", "max_lag", "window", "expected"), [
    (False, 6.0, 12.0, 6, 6),       # the setting: 12 s reach a 6 s delay
    (False, 20.0, 12.0, 6, 12),     # a long delay: 20 s and two segments
    (True, 6.0, 12.0, 6, 11),       # captions may ask for 12 + 2 x 2 + 2 = 18 s
    (True, 6.0, 4.0, 6, 7),         # ... or 4 + 4 + 2 = 10 s
    (True, 6.0, 4.0, 20, 20),       # a longer setting is kept
])
def test_the_live_playlist_reaches_back_as_far_as_the_players_delay(
        tmp_path: Path, enabled: bool, delay: float, max_lag: float, window: int,
        expected: int) -> None:
    chosen = settings(tmp_path, live_captions_enabled=enabled, live_player_delay=delay,
                      live_caption_max_lag=max_lag, live_window_segments=window)
    assert live_window_segments(chosen) == expected


def test_shifted_cues_keep_their_length() -> None:
    from replay.domain.transcript import Cue

    assert shifted([Cue(1.0, 2.5, ("a",))], 10.0) == [Cue(11.0, 12.5, ("a",))]


async def test_a_take_without_captions_gets_empty_subtitle_segments_at_once(
        tmp_path: Path) -> None:
    """Segments collected after a restart belong to a take no captioner follows."""
    store = MemoryStore()
    captions = LiveCaptions(settings(tmp_path), store, TranscriptFeeds(),
                            top_rung=lambda _: "720p")
    collected = dataclasses.replace(take(tmp_path, 7), mpegts_origin=ORIGIN)
    for sequence in range(3):
        for rung in ("720p", "480p"):
            await captions.segment_published(collected, rung, LiveSegment(
                sequence, 7, 2.0 * sequence, 2.0, sequence == 0), ORIGIN)
    _, entries = parse_media_playlist(
        (await store.get_bytes(f"{DAY}/subtitles/fr/day.m3u8") or b"").decode())
    assert [e.uri for e in entries] == ["0.vtt", "1.vtt", "2.vtt"]
    for entry in entries:
        text = (await store.get_bytes(f"{DAY}/subtitles/fr/{entry.uri}") or b"").decode()
        assert text.startswith("WEBVTT")
        assert parse_webvtt(text) == []
