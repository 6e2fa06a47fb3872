"""The live subtitle rendition over the in-memory object store, with a fake clock."""

from __future__ import annotations

from replay.domain.livecues import LiveSegment, parse_media_playlist
from replay.domain.transcript import Word
from replay.domain.webvtt import parse_webvtt
from replay.live.subtitles import RenditionConfig, SubtitleRendition
from replay.storage.memory import MemoryStore

PREFIX = "live/salle-a/sous-titres/fr"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def words(text: str, start: float, per_word: float = 0.4) -> list[Word]:
    return [Word(round(start + i * per_word, 3), round(start + (i + 0.85) * per_word, 3),
                 " " + token) for i, token in enumerate(text.split())]


def segments(take: int, count: int, first: int = 0, *, duration: float = 2.0,
             discontinuity: bool = False) -> list[LiveSegment]:
    return [LiveSegment(first + i, take, i * duration, duration, discontinuity and i == 0)
            for i in range(count)]


async def text_of(store: MemoryStore, name: str) -> str:
    data = await store.get_bytes(f"{PREFIX}/{name}")
    assert data is not None, name
    return data.decode("utf-8")


def rendition(store: MemoryStore, clock: Clock) -> SubtitleRendition:
    config = RenditionConfig(prefix=PREFIX, window=3, max_lag=10.0)
    return SubtitleRendition(store, config, clock=clock)


async def test_a_segment_waits_until_its_captions_are_settled() -> None:
    store, clock = MemoryStore(), Clock()
    subs = rendition(store, clock)
    take = subs.begin_take(0, mpegts_origin=126_000)
    await take.add_words(words("Bonjour à toutes", start=0.5))
    for segment in segments(0, 2):
        await subs.add_segment(segment)
    assert await store.get_bytes(f"{PREFIX}/0.vtt") is None
    await take.settle(2.5)
    first = await text_of(store, "0.vtt")
    assert "X-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000" in first
    assert [cue.text for cue in parse_webvtt(first)] == ["Bonjour à toutes"]
    assert await store.get_bytes(f"{PREFIX}/1.vtt") is None
    assert parse_media_playlist(await text_of(store, "live.m3u8"))[1][0].uri == "0.vtt"


async def test_a_cue_over_two_segments_is_in_both_and_the_same() -> None:
    store, clock = MemoryStore(), Clock()
    subs = rendition(store, clock)
    take = subs.begin_take(0, mpegts_origin=0)
    await take.add_words(words("Neuf collectivités françaises ont été sélectionnées", 1.2))
    for segment in segments(0, 3):
        await subs.add_segment(segment)
    await take.settle(6.0)
    first = parse_webvtt(await text_of(store, "0.vtt"))
    second = parse_webvtt(await text_of(store, "1.vtt"))
    assert first
    assert first[-1] == second[0]
    assert first[-1].start < 2.0 < first[-1].end


async def test_a_late_captioner_never_holds_the_rendition_back() -> None:
    store, clock = MemoryStore(), Clock()
    subs = rendition(store, clock)
    subs.begin_take(0, mpegts_origin=0)
    await subs.add_segment(segments(0, 1)[0])
    assert await store.get_bytes(f"{PREFIX}/0.vtt") is None
    clock.now += 10.0
    await subs.add_segment(segments(0, 2)[1])
    assert parse_webvtt(await text_of(store, "0.vtt")) == []
    assert subs.late_segments == 1


async def test_a_segment_of_a_take_without_captions_goes_out_after_the_lag() -> None:
    store, clock = MemoryStore(), Clock()
    subs = rendition(store, clock)
    await subs.add_segment(segments(4, 1)[0])
    clock.now += 10.0
    await subs.publish_ready()
    assert "MPEGTS:0," in await text_of(store, "0.vtt")


async def test_takes_follow_each_other_with_a_discontinuity_and_their_own_origin() -> None:
    store, clock = MemoryStore(), Clock()
    subs = rendition(store, clock)
    first = subs.begin_take(0, mpegts_origin=126_000)
    for segment in segments(0, 2):
        await subs.add_segment(segment)
    await first.finish()
    second = subs.begin_take(1, mpegts_origin=900_000)
    await second.add_words(words("Nous reprenons.", start=0.4))
    for segment in segments(1, 3, first=2, discontinuity=True):
        await subs.add_segment(segment)
    await second.settle(6.0)
    assert "MPEGTS:900000," in await text_of(store, "2.vtt")
    assert [c.text for c in parse_webvtt(await text_of(store, "2.vtt"))] == ["Nous reprenons."]
    day = await text_of(store, "day.m3u8")
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in day
    first_sequence, entries = parse_media_playlist(day)
    assert first_sequence == 0
    assert [e.uri for e in entries] == [f"{n}.vtt" for n in range(5)]
    assert [e.discontinuity for e in entries] == [False, False, True, False, False]
    live = await text_of(store, "live.m3u8")
    assert "#EXT-X-MEDIA-SEQUENCE:2\n" in live
    assert "#EXT-X-DISCONTINUITY-SEQUENCE" not in live
    assert "#EXT-X-ENDLIST" not in live


async def test_the_live_window_counts_the_discontinuities_it_dropped() -> None:
    store, clock = MemoryStore(), Clock()
    subs = rendition(store, clock)
    await subs.begin_take(0, 0).finish()
    for segment in segments(0, 1):
        await subs.add_segment(segment)
    await subs.begin_take(1, 0).finish()
    for segment in segments(1, 4, first=1, discontinuity=True):
        await subs.add_segment(segment)
    live = await text_of(store, "live.m3u8")
    assert "#EXT-X-MEDIA-SEQUENCE:2\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n" in live


async def test_the_end_of_the_day_publishes_everything_and_ends_the_playlists() -> None:
    store, clock = MemoryStore(), Clock()
    subs = rendition(store, clock)
    take = subs.begin_take(0, 0)
    await take.add_words(words("Merci à tous.", start=0.2))
    for segment in segments(0, 2):
        await subs.add_segment(segment)
    await subs.end()
    for name in ("live.m3u8", "day.m3u8"):
        assert (await text_of(store, name)).endswith("#EXT-X-ENDLIST\n")
    assert parse_webvtt(await text_of(store, "0.vtt"))


async def test_a_restarted_rendition_carries_on_the_days_playlist() -> None:
    store, clock = MemoryStore(), Clock()
    before = rendition(store, clock)
    await before.begin_take(0, 0).finish()
    for segment in segments(0, 2, first=40):
        await before.add_segment(segment)
    after = rendition(store, clock)
    await after.resume()
    await after.begin_take(1, 0).finish()
    for segment in segments(1, 1, first=42, discontinuity=True):
        await after.add_segment(segment)
    first, entries = parse_media_playlist(await text_of(store, "day.m3u8"))
    assert first == 40
    assert [e.uri for e in entries] == ["40.vtt", "41.vtt", "42.vtt"]


class FailingOnce(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def put_bytes(self, key: str, data: bytes) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("store unavailable")
        await super().put_bytes(key, data)


async def test_a_store_failure_is_retried_at_the_next_call() -> None:
    store, clock = FailingOnce(), Clock()
    subs = rendition(store, clock)
    take = subs.begin_take(0, 0)
    await subs.add_segment(segments(0, 1)[0])
    await take.settle(3.0)  # the write fails, and is logged
    assert await store.get_bytes(f"{PREFIX}/0.vtt") is None
    await take.settle(3.5)
    assert await store.get_bytes(f"{PREFIX}/0.vtt") is not None


async def test_segments_not_to_be_kept_are_shown_live_then_deleted_and_never_in_the_day(
) -> None:
    store, clock = MemoryStore(), Clock()
    subs = rendition(store, clock)  # a live window of 3
    take = subs.begin_take(0, mpegts_origin=0)
    for segment in segments(0, 8):
        await subs.add_segment(segment, keep=not 2 <= segment.sequence <= 3)
    await take.finish()
    day = await text_of(store, "day.m3u8")
    assert [e.uri for e in parse_media_playlist(day)[1]] == ["0.vtt", "1.vtt", "4.vtt",
                                                             "5.vtt", "6.vtt", "7.vtt"]
    assert [e.discontinuity for e in parse_media_playlist(day)[1]] == [
        False, False, True, False, False, False], "a gap is a discontinuity, as the video's"
    live = await text_of(store, "live.m3u8")
    assert "#EXT-X-MEDIA-SEQUENCE:5" in live
    for sequence in (2, 3):  # out of the live window: gone from the store
        assert await store.get_bytes(f"{PREFIX}/{sequence}.vtt") is None
    assert await store.get_bytes(f"{PREFIX}/4.vtt") is not None


async def test_a_segment_not_to_be_kept_stays_while_in_the_live_window() -> None:
    store, clock = MemoryStore(), Clock()
    subs = rendition(store, clock)
    take = subs.begin_take(0, mpegts_origin=0)
    for segment in segments(0, 3):
        await subs.add_segment(segment, keep=segment.sequence != 1)
    await take.finish()
    assert [e.uri for e in parse_media_playlist(await text_of(store, "live.m3u8"))[1]] == [
        "0.vtt", "1.vtt", "2.vtt"]
    assert await store.get_bytes(f"{PREFIX}/1.vtt") is not None
    assert "1.vtt" not in await text_of(store, "day.m3u8")
