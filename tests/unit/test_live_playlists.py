"""The live's playlists: window, day, discontinuities across takes, replay and master."""

from __future__ import annotations

import pytest

from replay.domain.ladder import Rung
from replay.live.playlists import day_playlist, live_window, master_playlist, replay_playlist
from replay.live.store import LiveSegment
from replay.storage.port import cache_control_for


def seg(sequence: int, take: int, *, first_of_take: bool = False,
        keep: bool = True) -> LiveSegment:
    return LiveSegment(sequence, take, 2.0 * sequence, 2.0, first_of_take, keep)


#: Take 1 (0-3), take 2 after a reconnect (4-7).
DAY = [seg(0, 1), seg(1, 1), seg(2, 1), seg(3, 1), seg(4, 2, first_of_take=True),
       seg(5, 2), seg(6, 2), seg(7, 2)]


def lines(text: str) -> list[str]:
    assert text.startswith("#EXTM3U\n")
    assert text.endswith("\n")
    return text.splitlines()


def uris(text: str) -> list[str]:
    return [line for line in lines(text) if not line.startswith("#")]


@pytest.mark.parametrize(("window", "sequence", "discontinuity_sequence", "first_uri"), [
    (3, 5, 1, "000005.ts"),   # after the reconnect: its tag counted, not shown
    (5, 3, 0, "000003.ts"),   # the reconnect inside the window: tag shown
    (8, 0, 0, "000000.ts"),
])
def test_live_window_slides_and_counts_discontinuities(
        window: int, sequence: int, discontinuity_sequence: int, first_uri: str) -> None:
    text = live_window(DAY, window, target=2.0)
    assert f"#EXT-X-MEDIA-SEQUENCE:{sequence}" in lines(text)
    assert f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}" in lines(text)
    assert uris(text)[0] == first_uri
    assert len(uris(text)) == min(window, len(DAY))
    assert "#EXT-X-ENDLIST" not in text
    shown_tags = lines(text).count("#EXT-X-DISCONTINUITY")
    assert shown_tags == (1 if len(DAY) - window < 4 else 0)


def test_the_discontinuity_precedes_the_first_segment_of_a_reconnection() -> None:
    text = day_playlist(DAY, target=2.0)
    body = lines(text)
    assert body[body.index("000004.ts") - 2] == "#EXT-X-DISCONTINUITY"
    assert body.count("#EXT-X-DISCONTINUITY") == 1
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in body
    assert uris(text) == [f"{n:06d}.ts" for n in range(8)]


def test_day_playlist_leaves_out_unrecorded_segments_with_a_discontinuity() -> None:
    day = [seg(0, 1), seg(1, 1, keep=False), seg(2, 1, keep=False), seg(3, 1)]
    body = lines(day_playlist(day, target=2.0, ended=True))
    assert [u for u in body if not u.startswith("#")] == ["000000.ts", "000003.ts"]
    assert body[body.index("000003.ts") - 2] == "#EXT-X-DISCONTINUITY"
    assert body[-1] == "#EXT-X-ENDLIST"
    # ...but the live window shows them: a do_not_record session may be shown live.
    assert uris(live_window(day, 6, target=2.0)) == [f"{n:06d}.ts" for n in range(4)]


def test_target_duration_is_the_longest_segment_rounded_up() -> None:
    day = [LiveSegment(0, 1, 0.0, 2.04, False), LiveSegment(1, 1, 2.04, 2.96, False)]
    assert "#EXT-X-TARGETDURATION:3" in lines(live_window(day, 6, target=2.0))
    assert "#EXT-X-TARGETDURATION:2" in lines(live_window([], 6, target=2.0))


def test_replay_playlist_points_at_the_live_segments_and_ends() -> None:
    text = replay_playlist(DAY[2:6], "../../../direct/salle/2026-03-03/720p/")
    assert uris(text)[0] == "../../../direct/salle/2026-03-03/720p/000002.ts"
    assert lines(text)[-1] == "#EXT-X-ENDLIST"
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in lines(text)
    assert lines(text).count("#EXT-X-DISCONTINUITY") == 1


def test_master_lists_video_then_audio_with_subtitles() -> None:
    rungs = [Rung("720p", 1280, 720, 2800, 128), Rung("audio", 0, 0, 0, 64)]
    text = master_playlist(rungs, "live.m3u8", (("fr", "Français", "subs/fr.m3u8"),))
    body = lines(text)
    assert body.index("720p/live.m3u8") < body.index("audio/live.m3u8")
    assert 'RESOLUTION=1280x720' in body[body.index("720p/live.m3u8") - 1]
    assert all('SUBTITLES="subs"' in line for line in body if line.startswith("#EXT-X-STREAM"))
    assert any(line.startswith("#EXT-X-MEDIA:TYPE=SUBTITLES") and "DEFAULT=YES" in line
               for line in body)
    assert "SUBTITLES" not in master_playlist(rungs, "live.m3u8")


@pytest.mark.parametrize(("key", "expected"), [
    ("ev/direct/salle/2026-03-03/720p/live.m3u8", "public, max-age=1"),
    ("ev/direct/salle/status.json", "public, max-age=1"),
    ("ev/direct/rooms.json", "public, max-age=1"),
    ("ev/direct/salle/2026-03-03/720p/000001.ts", "public, max-age=31536000, immutable"),
    ("ev/session/hls/720p/index.m3u8", "public, max-age=60"),
    ("ev/direct/salle/index.html", "public, max-age=60"),
])
def test_a_cdn_keeps_the_live_playlists_a_second_only(key: str, expected: str) -> None:
    assert cache_control_for(key) == expected
