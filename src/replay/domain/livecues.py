"""Live captions as cues and as an HLS subtitle rendition. Pure logic, no I/O.

Words arrive committed, a few at a time, on the take's clock. `LiveCues` groups them
into cues with the offline reading rules (`domain/cues.py`) and freezes each cue once it
can no longer change: a WebVTT segment, once published, is never rewritten, and a cue
that spans two segments must be the same in both. A cue is frozen when a later word
begins another cue, when a silence has ended it, or when a segment that it overlaps has
to be published.

The rendition mirrors the video: one WebVTT segment per video segment (same sequence
number and duration), each with an `X-TIMESTAMP-MAP` tying the take's t = 0 to the
video's MPEG-TS clock, and media playlists (a live window and the day's).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from replay.domain.cues import ReadingRules, format_cues, rules_for
from replay.domain.transcript import Cue, Segment, Word
from replay.domain.webvtt import render_webvtt

NBSP = "\u00a0"
_BREAKABLE_SPACE = re.compile(r"[^\S\u00a0\u2007\u202f]+")
_SPACE_BEFORE = re.compile(r"[ \u00a0]*([;:!?»])")
_SPACE_AFTER = re.compile(r"«[ \u00a0]*")
#: The largest value of a 33-bit MPEG-TS timestamp, plus one.
MPEGTS_WRAP = 2**33


@dataclass(frozen=True, slots=True)
class LiveSegment:
    """A video segment as the live ingest publishes it (`start` on its take's clock)."""

    sequence: int
    take: int
    start: float
    duration: float
    discontinuity: bool = False

    @property
    def end(self) -> float:
        return self.start + self.duration


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _pieces(word: Word) -> list[Word]:
    """`word` as pieces that a cue can never split (one per run of non-space text)."""
    parts = [part for part in _BREAKABLE_SPACE.split(word.text) if part]
    if len(parts) <= 1:
        return [word] if parts else []
    total = sum(len(part) + 1 for part in parts)
    pieces, done = [], 0
    for part in parts:
        begin = word.start + (word.end - word.start) * done / total
        done += len(part) + 1
        end = word.start + (word.end - word.start) * done / total
        pieces.append(Word(begin, end, " " + part, word.probability))
    return pieces


@dataclass
class LiveCues:
    """Committed words in, frozen cues out; see the module's docstring."""

    rules: ReadingRules
    #: Words not yet in a frozen cue, one piece each, starts strictly increasing (ms).
    pending: list[Word] = field(default_factory=list)
    frozen: list[Cue] = field(default_factory=list)
    #: No word committed from now on starts before this take time.
    settled: float = 0.0

    def add(self, words: Iterable[Word]) -> None:
        for word in words:
            for piece in _pieces(word):
                self._append(piece)

    def settle(self, until: float) -> None:
        """Everything before `until` is committed: freeze the cues a silence has ended."""
        self.settled = max(self.settled, until)
        self._freeze(force_before=None)

    def close_before(self, time: float) -> None:
        """Freeze every cue that starts before `time` (a segment ending there is due)."""
        self._freeze(force_before=time)

    def cues_between(self, start: float, end: float) -> list[Cue]:
        """The frozen cues shown at some moment of [start, end)."""
        return [cue for cue in self.frozen if cue.start < end and cue.end > start]

    def forget_before(self, time: float) -> None:
        """Drop the frozen cues that end before `time` (all their segments are out)."""
        self.frozen = [cue for cue in self.frozen if cue.end > time]

    def _append(self, piece: Word) -> None:
        floor = self.frozen[-1].end + self.rules.min_gap if self.frozen else 0.0
        if self.pending:
            floor = max(floor, self.pending[-1].start + 0.001)
        start = max(piece.start, floor)
        end = max(piece.end, start + 0.001)
        self.pending.append(Word(_ms(start) / 1000, _ms(end) / 1000, piece.text,
                                 piece.probability))

    def _freeze(self, force_before: float | None) -> None:
        if not self.pending:
            return
        cues = format_cues([Segment(self.pending[0].start, self.pending[-1].end, "",
                                    tuple(self.pending))], self.rules)
        silence_ended = self.settled - self.pending[-1].end > self.rules.silence_split
        count = 0
        for index, cue in enumerate(cues):
            last = index == len(cues) - 1
            forced = force_before is not None and cue.start < force_before
            if not (forced or not last or silence_ended):
                break
            count = index + 1
        if count == 0:
            return
        boundary = _ms(cues[count].start) if count < len(cues) else math.inf
        taken = [w for w in self.pending if _ms(w.start) < boundary]
        self.pending = self.pending[len(taken):]
        self.frozen.extend(cues[: count - 1])
        self.frozen.append(self._bounded(cues[count - 1], taken[-1].end, count == len(cues)))

    def _bounded(self, cue: Cue, words_end: float, was_last: bool) -> Cue:
        """A cue frozen with no known successor must end before any word still to come."""
        if not was_last:
            return cue
        limit = max(words_end, self.settled - self.rules.min_gap)
        return Cue(cue.start, min(cue.end, max(limit, cue.start + 0.001)), cue.lines)


# --- WebVTT segments and media playlists ---------------------------------------------


def timestamp_map(mpegts_origin: int) -> str:
    """The header line tying LOCAL 0 (the take's t = 0) to the video's MPEG-TS clock."""
    return f"X-TIMESTAMP-MAP=MPEGTS:{mpegts_origin % MPEGTS_WRAP},LOCAL:00:00:00.000"


def segment_webvtt(cues: Sequence[Cue], mpegts_origin: int) -> str:
    """One WebVTT segment: the cues (take-clock times) under an X-TIMESTAMP-MAP header."""
    body = render_webvtt(cues).removeprefix("WEBVTT\n")
    return f"WEBVTT\n{timestamp_map(mpegts_origin)}\n{body}"


@dataclass(frozen=True, slots=True)
class PlaylistEntry:
    uri: str
    duration: float
    discontinuity: bool


def media_playlist(entries: Sequence[PlaylistEntry], *, first_sequence: int,
                   target_duration: int, discontinuity_sequence: int = 0,
                   event: bool = False, ended: bool = False) -> str:
    """An HLS media playlist (RFC 8216) over `entries`, the first numbered
    `first_sequence`; `event` marks the day's playlist (EXT-X-PLAYLIST-TYPE:EVENT)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{target_duration}",
             f"#EXT-X-MEDIA-SEQUENCE:{first_sequence}"]
    if discontinuity_sequence:
        lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}")
    if event:
        lines.append("#EXT-X-PLAYLIST-TYPE:EVENT")
    for entry in entries:
        if entry.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        lines += [f"#EXTINF:{entry.duration:.3f},", entry.uri]
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def parse_media_playlist(text: str) -> tuple[int, list[PlaylistEntry]]:
    """The first sequence number and the entries of a playlist `media_playlist` wrote."""
    first, entries = 0, []
    duration, discontinuity = 0.0, False
    for line in (line.strip() for line in text.splitlines()):
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            first = int(line.partition(":")[2])
        elif line == "#EXT-X-DISCONTINUITY":
            discontinuity = True
        elif line.startswith("#EXTINF:"):
            duration = float(line.partition(":")[2].split(",")[0])
        elif line and not line.startswith("#"):
            entries.append(PlaylistEntry(line, duration, discontinuity))
            discontinuity = False
    return first, entries


def target_duration_for(durations: Iterable[float], at_least: int) -> int:
    """EXT-X-TARGETDURATION: every EXTINF rounded to the nearest integer fits under it."""
    return max([at_least, *(math.floor(d + 0.5) for d in durations)])


# --- the words of a span, and the words as text --------------------------------------------


@dataclass(frozen=True, slots=True)
class DraftSpan:
    """A span of the take's clock: a session's instant replay."""

    start: float
    end: float


def draft_cues(words: Sequence[Word], span: DraftSpan, language: str = "fr") -> list[Cue]:
    """The automatic draft captions of `span`: the words starting in it, timed from the
    span's start, grouped with the offline reading rules."""
    inside = tuple(
        Word(round(w.start - span.start, 3), round(min(w.end, span.end) - span.start, 3),
             w.text, w.probability)
        for w in words if span.start <= w.start < span.end
    )
    if not inside:
        return []
    length = math.floor((span.end - span.start) * 1000) / 1000  # rounding up would overrun it
    cues = format_cues([Segment(inside[0].start, inside[-1].end, "", inside)],
                       rules_for(language))
    return [Cue(cue.start, max(min(cue.end, length), cue.start + 0.001), cue.lines)
            for cue in cues]


def spoken_text(words: Sequence[Word]) -> str:
    """Words as running text, French typography: Whisper's leading spaces kept (« m'ont »,
    « a-t-il »), a no-break space before ; : ! ? » and after «."""
    text = " ".join("".join(word.text for word in words).split())
    text = _SPACE_BEFORE.sub(lambda match: NBSP + match.group(1), text)
    return _SPACE_AFTER.sub("«" + NBSP, text).strip()
