"""Live captions: the room's audio, as it arrives, into committed words.

`LiveCaptioner.run` reads a take's PCM (16 kHz mono s16le, from the take's t = 0), runs
Whisper over a growing window in a worker thread (never on the event loop) and commits
words with the local-agreement policy (`domain/streaming.py`). Each batch of committed
words goes to a sink; after each pass the time before which everything is committed
goes to `on_settled`, so that the subtitle rendition can close its segments in silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from replay.domain.captions import with_glossary
from replay.domain.livecues import DraftSpan, draft_cues
from replay.domain.model import Event, Session
from replay.domain.programme import HOTWORDS_LIMIT, programme_hotwords
from replay.domain.streaming import LocalAgreement, StreamingParams
from replay.domain.transcript import Cue, Word
from replay.domain.webvtt import render_webvtt
from replay.live.subtitles import TakeSubtitles
from replay.live.transcript_feed import TranscriptFeed
from replay.settings import Settings
from replay.speech.models import resolve_model
from replay.speech.streaming import (
    LiveWhisperConfig,
    StreamingRecognizer,
    WhisperStreamingRecognizer,
)
from replay.speech.transcriber import SAMPLE_RATE, Task

log = logging.getLogger(__name__)

#: A committed word on the take's clock: start, end, text (with Whisper's leading
#: space), probability. The same shape as the offline transcript's words.
LiveWord = Word
WordSink = Callable[[Sequence[LiveWord]], Awaitable[None]]
SettledSink = Callable[[float], Awaitable[None]]

_BYTES_PER_SAMPLE = 2


def live_hotwords(event: Event, sessions: Sequence[Session], glossary: Sequence[str]) -> str:
    """Whisper's hotwords for the live: the event glossary, then the names, organisations
    and titles of `sessions` (the room's current and next ones), as in the offline pass."""
    return with_glossary(glossary, programme_hotwords(event, sessions), HOTWORDS_LIMIT)


def english_enabled(settings: Settings) -> bool:
    """English live subtitles: as set, or on a GPU only when left to "auto"."""
    choice = settings.live_captions_english
    return settings.live_caption_device != "cpu" if choice == "auto" else choice == "on"


def streaming_params(settings: Settings) -> StreamingParams:
    return StreamingParams(step=settings.live_caption_step,
                           trim_after=settings.live_caption_trim_after,
                           max_buffer=settings.live_caption_max_buffer,
                           commit_after=settings.live_caption_commit_after)


def recognizer_for(settings: Settings, task: Task = "transcribe") -> WhisperStreamingRecognizer:
    """faster-whisper as the live settings say (the bundled `base` on the CPU by default)."""
    model = resolve_model(settings.live_caption_model, settings.model_cache_dir)
    return WhisperStreamingRecognizer(LiveWhisperConfig(
        model=model, task=task, language="fr", device=settings.live_caption_device,
        compute_type=settings.live_caption_compute_type,
        cpu_threads=settings.live_caption_threads, beam_size=settings.live_caption_beam_size,
        encoder_padding=settings.live_caption_encoder_padding,
        niceness=settings.live_caption_niceness))


class _Audio:
    """The audio buffer: float32 samples from `start` (take seconds) to `end`."""

    def __init__(self) -> None:
        self.samples = np.zeros(0, dtype=np.float32)
        self.start = 0.0
        self._odd = b""
        self.arrived = asyncio.Event()

    @property
    def end(self) -> float:
        return self.start + len(self.samples) / SAMPLE_RATE

    def append(self, chunk: bytes) -> None:
        data = self._odd + chunk
        usable = len(data) - len(data) % _BYTES_PER_SAMPLE
        self._odd = data[usable:]
        pcm = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0
        self.samples = np.concatenate((self.samples, pcm))
        self.arrived.set()

    def until(self, end: float) -> np.ndarray:
        """A copy of the samples from the buffer's start to `end` (for a worker thread)."""
        return self.samples[: round((end - self.start) * SAMPLE_RATE)].copy()

    def cut(self, at: float) -> None:
        drop = min(len(self.samples), max(0, round((at - self.start) * SAMPLE_RATE)))
        self.samples = self.samples[drop:]
        self.start += drop / SAMPLE_RATE


class LiveCaptioner:
    """Streams one take's audio through Whisper; see the module's docstring.

    `hotwords` may be changed while it runs (at a session boundary): the next pass
    uses them. `pass_seconds` and `passes` say how hard it works.
    """

    def __init__(self, recognizer: StreamingRecognizer, *, hotwords: str = "",
                 params: StreamingParams | None = None) -> None:
        self.recognizer = recognizer
        self.hotwords = hotwords
        self.params = params or StreamingParams()
        self.passes = 0
        self.pass_seconds = 0.0
        self.dropped_seconds = 0.0

    @classmethod
    def from_settings(cls, settings: Settings, *, hotwords: str = "",
                      task: Task = "transcribe") -> LiveCaptioner:
        return cls(recognizer_for(settings, task), hotwords=hotwords,
                   params=streaming_params(settings))

    async def run(self, pcm: AsyncIterator[bytes], sink: WordSink,
                  on_settled: SettledSink | None = None) -> None:
        """Caption `pcm` until it ends; then commit what is left and return."""
        audio = _Audio()
        policy = LocalAgreement(self.params)
        reader = asyncio.create_task(self._read(pcm, audio))
        try:
            await self._passes(audio, policy, reader, sink, on_settled)
            await reader  # raises what the PCM source raised
            rest = policy.flush()
            if rest:
                await sink(rest)
            if on_settled is not None:
                await on_settled(audio.end)
        finally:
            if not reader.done():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader

    @staticmethod
    async def _read(pcm: AsyncIterator[bytes], audio: _Audio) -> None:
        try:
            async for chunk in pcm:
                audio.append(chunk)
        finally:
            audio.arrived.set()

    async def _passes(self, audio: _Audio, policy: LocalAgreement, reader: asyncio.Task[None],
                      sink: WordSink, on_settled: SettledSink | None) -> None:
        seen = 0.0  # the end of the audio the last pass heard
        while True:
            ended = reader.done()
            if not ended and audio.end - seen < self.params.step:
                audio.arrived.clear()
                await audio.arrived.wait()
                continue
            if ended and audio.end - seen <= 0:
                return
            seen = audio.end
            committed = await self._pass(audio, policy, seen)
            if committed:
                await sink(committed)
            if on_settled is not None:
                await on_settled(policy.settled(seen))
            cut = policy.trim_point(audio.start, seen)
            if cut is not None:
                audio.cut(cut)
                policy.forget_before(audio.start)

    async def _pass(self, audio: _Audio, policy: LocalAgreement, end: float) -> list[LiveWord]:
        start = policy.window_start(audio.start, end)
        if start > audio.start:
            self.dropped_seconds += start - audio.start
            log.warning("live captions behind the audio: %.1f s left uncaptioned",
                        start - audio.start)
            audio.cut(start)
            policy.forget_before(audio.start)
        window = audio.until(end)
        began = time.monotonic()
        hypothesis = await asyncio.to_thread(self.recognizer.recognise, window,
                                             offset=audio.start, prompt=policy.prompt(),
                                             hotwords=self.hotwords)
        self.passes += 1
        self.pass_seconds += time.monotonic() - began
        return policy.insert(hypothesis, end)


async def caption_take(captioner: LiveCaptioner, pcm: AsyncIterator[bytes], take: int, *,
                       subtitles: TakeSubtitles | None = None,
                       feed: TranscriptFeed | None = None,
                       transcript: TakeTranscript | None = None) -> None:
    """Caption one take: its committed words go to the subtitle rendition, the room's
    « transcription en direct » feed and the take's transcript (the drafts of its
    instant replays); when the PCM ends, the take's last subtitle segments go out."""

    async def sink(words: Sequence[LiveWord]) -> None:
        if subtitles is not None:
            await subtitles.add_words(words)
        if transcript is not None:
            await transcript.add(words)
        if feed is not None:
            feed.publish(take, words)

    async def settled(until: float) -> None:
        if subtitles is not None:
            await subtitles.settle(until)

    try:
        await captioner.run(pcm, sink, settled)
    finally:
        if subtitles is not None:
            await asyncio.shield(subtitles.finish())


async def fan_out(pcm: AsyncIterator[bytes], copies: int,
                  max_chunks: int = 256) -> list[AsyncIterator[bytes]]:
    """`copies` iterators over the same PCM (French and English captions, the speech map).

    Reading never waits for a slow consumer: its queue holds up to `max_chunks` chunks,
    after which that consumer's oldest chunks are dropped (the live must not lag)."""
    queues: list[asyncio.Queue[bytes | None]] = [asyncio.Queue() for _ in range(copies)]

    async def pump() -> None:
        try:
            async for chunk in pcm:
                for queue in queues:
                    if queue.qsize() >= max_chunks:
                        queue.get_nowait()
                    queue.put_nowait(chunk)
        finally:
            for queue in queues:
                queue.put_nowait(None)

    task = asyncio.create_task(pump())

    async def consume(queue: asyncio.Queue[bytes | None]) -> AsyncIterator[bytes]:
        while (chunk := await queue.get()) is not None:
            yield chunk
        await task  # the source's error, if it failed, reaches every consumer

    return [consume(queue) for queue in queues]


# --- the words of a take, for the instant replay ----------------------------------------


@dataclass(frozen=True, slots=True)
class _StoredWord:
    take: int
    start: float
    end: float
    text: str
    probability: float


class TakeTranscript:
    """Every word committed in a take, kept for the instant replays' draft captions.

    With a `journal` path, each batch is appended to that JSON-lines file as well, so a
    restarted service can read the take's words back (`load`)."""

    def __init__(self, take: int, journal: Path | None = None) -> None:
        self.take = take
        self.words: list[LiveWord] = []
        self._journal = journal

    async def add(self, words: Sequence[LiveWord]) -> None:
        self.words.extend(words)
        if self._journal is not None and words:
            lines = "".join(json.dumps(asdict(_StoredWord(self.take, w.start, w.end, w.text,
                                                          w.probability)),
                                       ensure_ascii=False) + "\n" for w in words)
            await asyncio.to_thread(_append, self._journal, lines)

    @classmethod
    def load(cls, take: int, journal: Path) -> TakeTranscript:
        """The take's words as journalled (an absent journal gives none)."""
        transcript = cls(take, journal)
        if journal.is_file():
            for line in journal.read_text(encoding="utf-8").splitlines():
                item = json.loads(line)
                if item["take"] == take:
                    transcript.words.append(Word(item["start"], item["end"], item["text"],
                                                 item["probability"]))
        return transcript

    def draft_cues(self, start: float, end: float, language: str = "fr") -> list[Cue]:
        """The draft captions of the span [start, end) of the take, timed from its start."""
        return draft_cues(self.words, DraftSpan(start, end), language)

    def draft_webvtt(self, start: float, end: float, language: str = "fr") -> str:
        return render_webvtt(self.draft_cues(start, end, language))


def _append(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)
