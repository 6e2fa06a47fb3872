"""The live captions wired into every take of the live.

`LiveCaptions` is a listener of the supervisor's takes (`TakeListener`) and the source of
the instant replays' draft captions (`DraftCaptions`). For each take it starts, beside
the live ladder and fed by the take's own 16 kHz PCM (the stream the speech map reads,
not a second decode), one `LiveCaptioner` per language: French, and English from
Whisper's translate task where `english_enabled`. Each captioner's words go to:

- the room's WebVTT subtitle rendition of the day (`subtitles/<language>/live.m3u8` and
  `day.m3u8` beside the video's, listed in both master playlists), one subtitle segment
  per segment of the take's top rung;
- the room's « transcription en direct » feed (French);
- the take's transcript, journalled in the take's folder, from which each session's
  instant replay takes its automatic drafts.

Whisper runs in a worker thread; the ladder never waits for it: the take hands PCM over
through a bounded queue that drops for a listener behind, the captioner skips ahead (and
logs it) when its buffer is full, and a subtitle segment goes out after
`live_caption_max_lag` seconds whatever the captions' state. Words said while a
`do_not_record` session is on are shown live, never kept: they are left out of the
journal and of the drafts.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from replay.domain.livecues import LiveSegment as SubtitleSegment
from replay.domain.model import Session
from replay.domain.transcript import Cue, Word
from replay.live.captions import (
    LiveCaptioner,
    TakeTranscript,
    caption_take,
    english_enabled,
    fan_out,
    recognizer_for,
    streaming_params,
)
from replay.live.playlists import LIVE_PLAYLIST
from replay.live.publisher import RoomDay, feed_key
from replay.live.replay import Drafts, TakeSpan
from replay.live.store import LiveSegment, Take
from replay.live.subtitles import RenditionConfig, SubtitleRendition, TakeSubtitles
from replay.live.transcript_feed import TranscriptFeeds
from replay.settings import Settings
from replay.speech.streaming import StreamingRecognizer, WhisperStreamingRecognizer
from replay.speech.transcriber import Task
from replay.storage.port import ObjectStore

log = logging.getLogger(__name__)

SUBTITLES_FOLDER = "subtitles"
#: The renditions' names in the players' captions menus.
NAMES = {"fr": "sous-titres automatiques", "en": "anglais (sous-titres automatiques)"}
#: Top-rung segments between two refreshes of the hotwords (the session may change).
HOTWORDS_EVERY = 30


def journal_path(take_folder: Path, language: str) -> Path:
    return take_folder / f"captions.{language}.jsonl"


def subtitle_uri(language: str) -> str:
    """From the day's folder to the rendition's live playlist."""
    return f"{SUBTITLES_FOLDER}/{language}/{LIVE_PLAYLIST}"


def caption_languages(settings: Settings) -> tuple[str, ...]:
    return ("fr", "en") if english_enabled(settings) else ("fr",)


def subtitle_renditions(settings: Settings) -> tuple[tuple[str, str, str], ...]:
    """The master playlists' subtitle renditions, French first (the default)."""
    return tuple((language, NAMES[language], subtitle_uri(language))
                 for language in caption_languages(settings))


def player_delay(settings: Settings) -> float:
    """The player's live delay before anything is measured: the video's own, or, with
    captions, enough for a word confirmed `commit_after` seconds after it was said (plus
    a pass, and the reloads of both playlists) to be in its segment when played."""
    if not settings.live_captions_enabled:
        return settings.live_player_delay
    wanted = settings.live_caption_commit_after + settings.live_caption_step + \
        2 * settings.live_segment_seconds
    return max(settings.live_player_delay, wanted)


def live_window_segments(settings: Settings) -> int:
    """How many segments the live playlists list: the setting, or more when a player's
    delay can be longer (with captions, up to their longest wait, see
    `LiveSupervisor.player_delay`). hls.js cannot play further behind the edge than its
    playlist reaches: it would start at the first segment, closer to the edge than the
    captions allow."""
    segment = settings.live_segment_seconds
    longest = player_delay(settings)
    if settings.live_captions_enabled:
        longest = max(longest, settings.live_caption_max_lag + 2 * segment + 2)
    return max(settings.live_window_segments, math.ceil(longest / segment) + 2)


def shifted(cues: Sequence[Cue], offset: float) -> list[Cue]:
    return [replace(cue, start=round(cue.start + offset, 3), end=round(cue.end + offset, 3))
            for cue in cues]


@dataclass
class _TakeCaptions:
    take: Take
    top: str
    subtitles: dict[str, TakeSubtitles]
    transcripts: dict[str, TakeTranscript]
    captioners: list[LiveCaptioner] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    segments: int = 0


HotwordsFor = Callable[[Take, datetime], str]
SessionsFor = Callable[[Take], Sequence[Session]]


class LiveCaptions:
    """See the module's docstring. `top_rung(take)` names the rung whose segments the
    subtitle segments follow; `hotwords(take, now)` gives Whisper's hotwords (glossary
    and the room's current and next sessions); `sessions(take)` the room's sessions
    (those that must not be recorded are left out of what is kept)."""

    def __init__(self, settings: Settings, objects: ObjectStore, feeds: TranscriptFeeds, *,
                 top_rung: Callable[[Take], str],
                 hotwords: HotwordsFor = lambda take, now: "",
                 sessions: SessionsFor = lambda take: (),
                 recognizers: dict[str, StreamingRecognizer] | None = None) -> None:
        self.settings = settings
        self.objects = objects
        self.feeds = feeds
        self.languages = caption_languages(settings)
        self._top_rung = top_rung
        self._hotwords = hotwords
        self._sessions = sessions
        self._recognizers: dict[str, StreamingRecognizer] = dict(recognizers or {})
        self._recognizers_lock = threading.Lock()
        self._made: list[WhisperStreamingRecognizer] = []  # closed at `stop`
        self.renditions: dict[tuple[RoomDay, str], SubtitleRendition] = {}
        self.takes: dict[int, _TakeCaptions] = {}
        self._transcripts: dict[tuple[int, str], TakeTranscript] = {}
        self._folders: dict[int, Path] = {}
        self._tops: dict[int, str] = {}

    # -- what the supervisor needs --------------------------------------------------------

    def subtitles(self) -> tuple[tuple[str, str, str], ...]:
        return subtitle_renditions(self.settings)

    def caption_wait(self, event_slug: str, room: str) -> float | None:
        """Seconds the room's French subtitle segments last waited for their captions
        after their video segment was out (None before any)."""
        waits = [r.recent_wait for (day, language), r in self.renditions.items()
                 if (day.event_slug, day.room) == (event_slug, room) and language == "fr"
                 and r.recent_wait is not None]
        return waits[-1] if waits else None

    async def stop(self) -> None:
        tasks = [c.task for c in self.takes.values() if c.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for recognizer in self._made:
            recognizer.close()

    # -- TakeListener ----------------------------------------------------------------------

    async def take_started(self, take: Take, pcm: AsyncIterator[bytes]) -> None:
        day = RoomDay(take.event_slug, take.room, take.day)
        folder = Path(take.folder)
        self._folders[take.id] = folder
        subtitles, transcripts = {}, {}
        for language in self.languages:
            rendition = await self._rendition(day, language)
            subtitles[language] = rendition.begin_take(take.id, take.mpegts_origin or 0)
            transcripts[language] = self._transcripts[(take.id, language)] = TakeTranscript(
                take.id, journal_path(folder, language))
        captions = self.takes[take.id] = _TakeCaptions(take, self._top_rung(take), subtitles,
                                                       transcripts)
        captions.task = asyncio.create_task(self._caption(captions, pcm),
                                            name=f"live-captions-{take.id}")

    async def segment_published(self, take: Take, rung: str, segment: LiveSegment,
                                mpegts_origin: int) -> None:
        captions = self.takes.get(take.id)
        if captions is None:
            await self._uncaptioned(take, rung, segment, mpegts_origin)
            return
        if rung != captions.top:
            return
        captions.take = take
        captions.segments += 1
        if captions.segments % HOTWORDS_EVERY == 0:
            hotwords = self._hotwords(take, datetime.now(UTC))
            for captioner in captions.captioners:
                captioner.hotwords = hotwords
        day = RoomDay(take.event_slug, take.room, take.day)
        for language, subtitles in captions.subtitles.items():
            subtitles.mpegts_origin = mpegts_origin
            await self.renditions[(day, language)].add_segment(SubtitleSegment(
                segment.sequence, segment.take, segment.start, segment.duration,
                segment.discontinuity), keep=segment.keep)

    async def _uncaptioned(self, take: Take, rung: str, segment: LiveSegment,
                           mpegts_origin: int) -> None:
        """A segment of a take without captions (collected after a restart): an empty
        subtitle segment, so that the room's subtitle playlists stay parallel."""
        if take.id not in self._tops:
            self._tops[take.id] = self._top_rung(take)
        if rung != self._tops[take.id]:
            return
        day = RoomDay(take.event_slug, take.room, take.day)
        for language in self.languages:
            rendition = await self._rendition(day, language)
            rendition.uncaptioned_take(take.id, mpegts_origin)
            await rendition.add_segment(SubtitleSegment(
                segment.sequence, segment.take, segment.start, segment.duration,
                segment.discontinuity), keep=segment.keep)

    async def take_ended(self, take: Take) -> None:
        """The take's last segments are out: its captioners finish on their own (their
        last words, then the take's last subtitle segments) without holding the live."""
        captions = self.takes.get(take.id)
        if captions is None:
            return
        captions.take = take
        if captions.task is None or captions.task.done():
            self.takes.pop(take.id, None)
        else:
            captions.task.add_done_callback(lambda _: self.takes.pop(take.id, None))

    # -- DraftCaptions ---------------------------------------------------------------------

    async def drafts(self, spans: Sequence[TakeSpan]) -> Drafts:
        """The words confirmed live in `spans`, as cues on the replay's clock."""
        drafts: dict[str, list[Cue]] = {}
        for language in self.languages:
            cues: list[Cue] = []
            for span in spans:
                transcript = await self._transcript(span.take_id, language)
                if transcript is not None:
                    cues += shifted(transcript.draft_cues(span.start, span.end, language),
                                    span.offset)
            if cues or language == "fr":
                drafts[language] = cues
        return drafts

    # -- inside -----------------------------------------------------------------------------

    def _recognizer(self, language: str) -> StreamingRecognizer:
        """One recogniser per language for every room (in a worker thread)."""
        with self._recognizers_lock:
            if language not in self._recognizers:
                task: Task = "transcribe" if language == "fr" else "translate"
                made = recognizer_for(self.settings, task)
                self._made.append(made)
                self._recognizers[language] = made
            return self._recognizers[language]

    async def _rendition(self, day: RoomDay, language: str) -> SubtitleRendition:
        key = (day, language)
        if key not in self.renditions:
            rendition = SubtitleRendition(self.objects, RenditionConfig(
                prefix=f"{day.prefix}/{SUBTITLES_FOLDER}/{language}", language=language,
                window=live_window_segments(self.settings),
                target_duration=max(1, round(self.settings.live_segment_seconds)),
                max_lag=self.settings.live_caption_max_lag))
            await rendition.resume()  # the day's playlist goes on after a restart
            self.renditions[key] = rendition
        return self.renditions[key]

    async def _transcript(self, take_id: int, language: str) -> TakeTranscript | None:
        found = self._transcripts.get((take_id, language))
        if found is None and take_id in self._folders:
            journal = journal_path(self._folders[take_id], language)
            found = await asyncio.to_thread(TakeTranscript.load, take_id, journal)
        return found

    def _recorded(self, take: Take) -> Callable[[Sequence[Word]], list[Word]]:
        """Words outside the sessions that must not be recorded."""
        private = [s for s in self._sessions(take) if s.do_not_record]

        def kept(words: Sequence[Word]) -> list[Word]:
            if not private:
                return list(words)
            wall = take.wall_start
            return [w for w in words if not any(
                s.start <= wall + timedelta(seconds=w.start) < s.end for s in private)]

        return kept

    async def _caption(self, captions: _TakeCaptions, pcm: AsyncIterator[bytes]) -> None:
        take = captions.take
        # Resolving the model may assemble the bundled one on disk (once): in a thread,
        # while the take's PCM waits in its bounded queue, never holding the take.
        recognizers = [await asyncio.to_thread(self._recognizer, language)
                       for language in self.languages]
        hotwords = self._hotwords(take, datetime.now(UTC))
        captions.captioners = [
            LiveCaptioner(recognizer, hotwords=hotwords, params=streaming_params(self.settings))
            for recognizer in recognizers]
        streams = [pcm] if len(self.languages) == 1 else await fan_out(pcm, len(self.languages))
        runs = [
            caption_take(captioner, stream, take.id, subtitles=captions.subtitles[language],
                         feed=self.feeds.feed(feed_key(take.event_slug, take.room))
                         if language == "fr" else None,
                         transcript=_KeptTranscript(captions.transcripts[language],
                                                    lambda: self._recorded(captions.take)))
            for language, captioner, stream in zip(self.languages, captions.captioners,
                                                   streams, strict=True)]
        try:
            for outcome in await asyncio.gather(*runs, return_exceptions=True):
                if isinstance(outcome, Exception):
                    log.error("live captions of take %d failed", take.id, exc_info=outcome)
        finally:
            log.info("live captions of take %d: %d passes, %.0f s of Whisper, %.1f s "
                     "skipped", take.id, sum(c.passes for c in captions.captioners),
                     sum(c.pass_seconds for c in captions.captioners),
                     sum(c.dropped_seconds for c in captions.captioners))


class _KeptTranscript(TakeTranscript):
    """The take's transcript, less the words of sessions that must not be recorded."""

    def __init__(self, inner: TakeTranscript,
                 kept: Callable[[], Callable[[Sequence[Word]], list[Word]]]) -> None:
        super().__init__(inner.take)
        self.inner = inner
        self._kept = kept

    async def add(self, words: Sequence[Word]) -> None:
        await self.inner.add(self._kept()(words))
