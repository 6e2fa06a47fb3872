"""The live's HLS playlists, written by us (pure functions).

Per room and day, each rung has two media playlists over the same segments: the live
window (the last few segments, for the audience at the live edge) and the day's event
playlist (every kept segment since the day's first take, so a viewer can go back to the
start of the session). A take that follows another starts with
``#EXT-X-DISCONTINUITY``; media sequence and discontinuity sequence count from the day's
first segment, so a restart of the service continues them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from replay.domain.ladder import Rung, bandwidth
from replay.live.store import LiveSegment

LIVE_PLAYLIST = "live.m3u8"
DAY_PLAYLIST = "day.m3u8"
MASTER_LIVE = "live.m3u8"
MASTER_DAY = "day.m3u8"


def segment_name(sequence: int) -> str:
    return f"{sequence:06d}.ts"


def _target(segments: Sequence[LiveSegment], fallback: float) -> int:
    return max(1, math.ceil(max((s.duration for s in segments), default=fallback)))


def _entries(segments: Sequence[LiveSegment], uri_prefix: str) -> list[str]:
    lines: list[str] = []
    previous: LiveSegment | None = None
    for segment in segments:
        gap = previous is not None and (segment.take != previous.take
                                        or segment.sequence != previous.sequence + 1)
        if segment.discontinuity or gap:
            lines.append("#EXT-X-DISCONTINUITY")
        lines += [f"#EXTINF:{segment.duration:.3f},",
                  f"{uri_prefix}{segment_name(segment.sequence)}"]
        previous = segment
    return lines


def _discontinuities_before(day: Sequence[LiveSegment], first: LiveSegment) -> int:
    return sum(1 for s in day if s.sequence <= first.sequence and s.discontinuity)


def live_window(day: Sequence[LiveSegment], window: int, *, target: float) -> str:
    """The sliding live playlist: the last `window` segments of the day, kept or not."""
    shown = list(day[-window:])
    head = ["#EXTM3U", "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{_target(shown, target)}",
            f"#EXT-X-MEDIA-SEQUENCE:{shown[0].sequence if shown else 0}"]
    if shown:
        # The first shown segment's own discontinuity is in the count, not in the list.
        count = _discontinuities_before(day, shown[0])
        head.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{count}")
        shown = [_without_discontinuity(shown[0]), *shown[1:]]
    return "\n".join([*head, *_entries(shown, "")]) + "\n"


def _without_discontinuity(segment: LiveSegment) -> LiveSegment:
    return LiveSegment(segment.sequence, segment.take, segment.start, segment.duration,
                       False, segment.keep)


def day_playlist(day: Sequence[LiveSegment], *, target: float, ended: bool = False) -> str:
    """The day's event playlist: every kept segment (a session that must not be recorded
    is shown live but left out here), ``#EXT-X-ENDLIST`` once the day is over."""
    kept = [s for s in day if s.keep]
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-PLAYLIST-TYPE:EVENT",
             f"#EXT-X-TARGETDURATION:{_target(kept, target)}",
             f"#EXT-X-MEDIA-SEQUENCE:{kept[0].sequence if kept else 0}"]
    if kept:
        kept = [_without_discontinuity(kept[0]), *kept[1:]]
    lines += _entries(kept, "")
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def replay_playlist(segments: Sequence[LiveSegment], uri_prefix: str) -> str:
    """A finished (VOD) playlist over a session's live segments, where they already are."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-PLAYLIST-TYPE:VOD",
             f"#EXT-X-TARGETDURATION:{_target(segments, 2.0)}", "#EXT-X-MEDIA-SEQUENCE:0"]
    first = [_without_discontinuity(segments[0]), *segments[1:]] if segments else []
    lines += _entries(first, uri_prefix)
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def master_playlist(rungs: Sequence[Rung], media_playlist: str,
                    subtitles: Sequence[tuple[str, str, str]] = ()) -> str:
    """Variants in `rungs` order (largest first, audio-only last), each `<rung>/<name>`.
    `subtitles` are (language, name, uri) renditions, the first one the default."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for index, (language, name, uri) in enumerate(subtitles):
        default = "YES" if index == 0 else "NO"
        lines.append(f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="{name}",'
                     f'LANGUAGE="{language}",DEFAULT={default},AUTOSELECT=YES,FORCED=NO,'
                     f'URI="{uri}"')
    group = ',SUBTITLES="subs"' if subtitles else ""
    for rung in rungs:
        if rung.is_audio_only:
            info = f'BANDWIDTH={bandwidth(rung)},CODECS="mp4a.40.2"'
        else:
            info = (f"BANDWIDTH={bandwidth(rung)},RESOLUTION={rung.width}x{rung.height},"
                    'CODECS="avc1.640028,mp4a.40.2"')
        lines += [f"#EXT-X-STREAM-INF:{info}{group}", f"{rung.name}/{media_playlist}"]
    return "\n".join(lines) + "\n"
