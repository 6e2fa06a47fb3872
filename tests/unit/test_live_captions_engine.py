"""The live captioner's loop, over a scripted recogniser (the fake of the Whisper pass)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from replay.domain.errors import ReplayError
from replay.domain.livecues import LiveSegment, parse_media_playlist
from replay.domain.model import Event, Person, Session
from replay.domain.streaming import StreamingParams
from replay.domain.transcript import Word
from replay.domain.webvtt import parse_webvtt
from replay.live.captions import (
    LiveCaptioner,
    LiveWord,
    TakeTranscript,
    caption_take,
    english_enabled,
    fan_out,
    live_hotwords,
    recognizer_for,
    streaming_params,
)
from replay.live.subtitles import RenditionConfig, SubtitleRendition
from replay.live.transcript_feed import TranscriptFeed
from replay.settings import Settings, load_settings
from replay.speech.streaming import (
    ScriptedRecognizer,
    content_frames,
    encoder_frames,
    fitted_encode,
)
from replay.storage.memory import MemoryStore

RATE = 16000
PARAMS = StreamingParams(step=1.0, trim_after=6.0, max_buffer=12.0, commit_after=4.0)


def script(count: int, start: float = 0.7) -> list[Word]:
    """`count` words of 0.35 s, a sentence every seven, a pause every thirteen."""
    words, at = [], start
    for index in range(count):
        ending = "." if index % 7 == 6 else ""
        words.append(Word(round(at, 3), round(at + 0.35, 3), f" mot{index}{ending}"))
        at += 0.4 + (1.5 if index % 13 == 12 else 0.0)
    return words


async def silence(seconds: float, chunk_bytes: int = 3200,
                  pause: float = 0.001) -> AsyncIterator[bytes]:
    """PCM zeros, fast but in steps (the captioner reads while a pass runs)."""
    remaining = round(seconds * RATE) * 2
    while remaining > 0:
        size = min(chunk_bytes, remaining)
        remaining -= size
        yield bytes(size)
        await asyncio.sleep(pause)


class Collector:
    def __init__(self) -> None:
        self.batches: list[list[LiveWord]] = []
        self.settled: list[float] = []

    async def words(self, words: Sequence[LiveWord]) -> None:
        self.batches.append(list(words))

    async def settle(self, until: float) -> None:
        self.settled.append(until)

    @property
    def texts(self) -> list[str]:
        return [word.text for batch in self.batches for word in batch]


async def test_every_word_is_committed_once_in_order_and_the_stream_settles() -> None:
    spoken = script(40)
    duration = spoken[-1].end + 1.0
    recognizer = ScriptedRecognizer(spoken)
    captioner = LiveCaptioner(recognizer, hotwords="Mission Villes", params=PARAMS)
    sink = Collector()
    await captioner.run(silence(duration), sink.words, sink.settle)
    assert sink.texts == [word.text for word in spoken]
    assert all(batch for batch in sink.batches)
    assert sink.settled[-1] == pytest.approx(duration)
    assert captioner.passes == len(recognizer.passes)
    assert captioner.passes >= duration / PARAMS.step - 1
    assert {hotwords for *_, hotwords in recognizer.passes} == {"Mission Villes"}
    assert max(end - start for start, end, *_ in recognizer.passes) <= PARAMS.max_buffer
    assert captioner.dropped_seconds == 0


async def test_passes_are_prompted_with_the_committed_text_before_their_window() -> None:
    spoken = script(30)
    recognizer = ScriptedRecognizer(spoken)
    await LiveCaptioner(recognizer, params=PARAMS).run(silence(spoken[-1].end + 1.0),
                                                       Collector().words)
    trimmed = [(start, prompt) for start, _end, prompt, _hw in recognizer.passes if start > 0]
    assert trimmed, "a 13 s stream with sentences is trimmed at least once"
    start, prompt = trimmed[-1]
    before = "".join(w.text for w in spoken if w.end <= start)
    assert prompt
    assert before.strip().endswith(prompt.strip())


async def test_hotwords_changed_while_running_reach_the_next_pass() -> None:
    recognizer = ScriptedRecognizer(script(10))
    captioner = LiveCaptioner(recognizer, hotwords="avant", params=PARAMS)
    sink = Collector()

    async def change_on_first_words(words: Sequence[LiveWord]) -> None:
        captioner.hotwords = "après"
        await sink.words(words)

    await captioner.run(silence(6.0), change_on_first_words)
    used = [hotwords for *_, hotwords in recognizer.passes]
    assert used[0] == "avant"
    assert used[-1] == "après"


async def test_odd_chunk_sizes_lose_no_sample() -> None:
    recognizer = ScriptedRecognizer([])
    await LiveCaptioner(recognizer, params=PARAMS).run(silence(3.0, chunk_bytes=1001),
                                                       Collector().words)
    assert recognizer.passes[-1][1] == pytest.approx(3.0)


async def test_silence_commits_nothing_but_settles() -> None:
    sink = Collector()
    await LiveCaptioner(ScriptedRecognizer([]), params=PARAMS).run(silence(5.0), sink.words,
                                                                   sink.settle)
    assert sink.batches == []
    assert sink.settled[-1] == pytest.approx(5.0)
    assert sink.settled[0] == pytest.approx(0.0)  # after the first 1 s pass, 1 s margin


async def test_a_failing_source_stops_the_captioner_with_its_error() -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield bytes(RATE * 2)
        raise ConnectionError("publisher gone")

    with pytest.raises(ConnectionError, match="publisher gone"):
        await LiveCaptioner(ScriptedRecognizer([]), params=PARAMS).run(broken(),
                                                                       Collector().words)


async def test_fan_out_gives_every_consumer_the_same_bytes() -> None:
    async def source() -> AsyncIterator[bytes]:
        for index in range(50):
            yield bytes([index]) * 10
            await asyncio.sleep(0)

    first, second = await fan_out(source(), 2)

    async def read(stream: AsyncIterator[bytes]) -> bytes:
        return b"".join([chunk async for chunk in stream])

    one, two = await asyncio.gather(read(first), read(second))
    assert one == two == b"".join(bytes([i]) * 10 for i in range(50))


async def test_fan_out_drops_the_oldest_chunks_of_a_consumer_that_lags() -> None:
    async def source() -> AsyncIterator[bytes]:
        for index in range(20):
            yield bytes([index])
            await asyncio.sleep(0.001)

    fast, slow = await fan_out(source(), 2, max_chunks=5)
    assert b"".join([chunk async for chunk in fast]) == bytes(range(20))
    assert b"".join([chunk async for chunk in slow]) == bytes(range(15, 20))


async def test_fan_out_passes_the_sources_error_on() -> None:
    async def source() -> AsyncIterator[bytes]:
        yield b"x"
        raise ConnectionError("publisher gone")

    (only,) = await fan_out(source(), 1)
    with pytest.raises(ConnectionError):
        [chunk async for chunk in only]


# --- the take's words, for the instant replay -----------------------------------------------


async def test_take_transcript_gives_a_spans_draft_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "live" / "words.jsonl"
    transcript = TakeTranscript(3, journal)
    spoken = [Word(10.0, 10.4, " Bonjour", 0.9), Word(10.5, 10.9, " à"),
              Word(11.0, 11.5, " tous.", 0.8), Word(40.0, 40.5, " Ensuite.")]
    await transcript.add(spoken[:2])
    await transcript.add(spoken[2:])
    draft = transcript.draft_webvtt(9.0, 30.0)
    assert draft.startswith("WEBVTT")
    assert "00:00:01.000 -->" in draft
    assert "Bonjour à tous." in draft
    assert "Ensuite" not in draft
    restored = TakeTranscript.load(3, journal)
    assert restored.words == spoken
    assert TakeTranscript.load(4, journal).words == []
    assert restored.draft_cues(9.0, 30.0) == transcript.draft_cues(9.0, 30.0)


def test_a_take_without_journal_has_its_words_in_memory_only(tmp_path: Path) -> None:
    assert TakeTranscript.load(0, tmp_path / "absent.jsonl").words == []


# --- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("device", "choice", "expected"),
    [("cpu", "auto", False), ("cuda", "auto", True), ("cpu", "on", True),
     ("cuda", "off", False)],
)
def test_english_is_on_by_default_on_a_gpu_only(device: str, choice: str,
                                                expected: bool) -> None:
    settings = Settings(live_caption_device=device, live_captions_english=choice)
    assert english_enabled(settings) is expected


def test_the_recogniser_follows_the_live_settings(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.bin").write_bytes(b"")
    settings = Settings(live_caption_model=str(model), live_caption_device="cuda",
                        live_caption_compute_type="float16", live_caption_threads=3,
                        live_caption_beam_size=2, live_caption_encoder_padding=3.0,
                        live_caption_niceness=5)
    config = recognizer_for(settings, "translate").config
    assert dataclasses.astuple(config) == (str(model), "translate", "fr", "cuda", "float16",
                                           3, 2, 3.0, 5)
    captioner = LiveCaptioner.from_settings(dataclasses.replace(settings,
                                                                live_caption_step=2.0),
                                            hotwords="Marseille")
    assert captioner.params.step == 2.0
    assert captioner.hotwords == "Marseille"


def test_live_hotwords_put_the_glossary_first_then_the_sessions_names() -> None:
    start = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
    session = Session("g1", "Villes neutres pour le climat", "Plénière", start,
                      timedelta(hours=1),
                      persons=(Person("Anne Dupont", "Métropole Aix-Marseille-Provence"),))
    event = Event("mission", "Mission Villes", date(2026, 3, 3), date(2026, 3, 3),
                  "Europe/Paris", ("Plénière",), (session,))
    hotwords = live_hotwords(event, [session], ["NetZeroCities"])
    assert hotwords.split(", ")[:3] == ["NetZeroCities", "Anne Dupont",
                                        "Métropole Aix-Marseille-Provence"]


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"REPLAY_LIVE_CAPTIONS_ENGLISH": "yes"}, "live_captions_english"),
        ({"REPLAY_LIVE_CAPTION_THREADS": "0"}, "live_caption_threads"),
        ({"REPLAY_LIVE_CAPTION_STEP": "13"}, "live_caption_step"),
        ({"REPLAY_LIVE_CAPTION_MAX_BUFFER": "31", "REPLAY_LIVE_CAPTION_TRIM_AFTER": "12"},
         "30 seconds"),
        ({"REPLAY_LIVE_CAPTION_COMMIT_AFTER": "1"}, "live_caption_commit_after"),
        ({"REPLAY_LIVE_CAPTION_MAX_LAG": "0"}, "live_caption_max_lag"),
        ({"REPLAY_LIVE_CAPTION_ENCODER_PADDING": "-1"}, "live_caption_encoder_padding"),
        ({"REPLAY_LIVE_CAPTION_ENCODER_PADDING": "31"}, "live_caption_encoder_padding"),
        ({"REPLAY_LIVE_CAPTION_NICENESS": "-1"}, "live_caption_niceness"),
        ({"REPLAY_LIVE_CAPTION_NICENESS": "20"}, "live_caption_niceness"),
    ],
)
def test_live_caption_settings_refuse_what_cannot_work(environ: dict[str, str],
                                                       message: str) -> None:
    with pytest.raises(ReplayError, match=message):
        load_settings(environ=environ)


def test_live_caption_settings_from_the_environment() -> None:
    settings = load_settings(environ={"REPLAY_LIVE_CAPTIONS_ENGLISH": "on",
                                      "REPLAY_LIVE_CAPTION_STEP": "2",
                                      "REPLAY_LIVE_CAPTION_COMMIT_AFTER": "4"})
    assert english_enabled(settings)
    assert streaming_params(settings) == StreamingParams(step=2.0, commit_after=4.0)


async def test_caption_take_feeds_the_rendition_the_feed_and_the_transcript() -> None:
    spoken = script(20)
    duration = spoken[-1].end + 1.0
    store = MemoryStore()
    rendition = SubtitleRendition(store, RenditionConfig(prefix="live/a/fr"))
    subtitles = rendition.begin_take(2, mpegts_origin=0)
    for sequence in range(int(duration // 2)):
        await rendition.add_segment(LiveSegment(sequence, 2, 2.0 * sequence, 2.0))
    feed, transcript = TranscriptFeed(first_id=1), TakeTranscript(2)
    captioner = LiveCaptioner(ScriptedRecognizer(spoken), params=PARAMS)
    await caption_take(captioner, silence(duration), 2, subtitles=subtitles, feed=feed,
                       transcript=transcript)
    expected = [w.text.strip() for w in spoken]
    assert [w.text.strip() for w in transcript.words] == expected
    assert " ".join(e.text for e in feed.after(0)).split() == expected
    assert {e.take for e in feed.after(0)} == {2}
    listed = parse_media_playlist((await store.get_bytes("live/a/fr/day.m3u8") or b"").decode())
    assert len(listed[1]) == int(duration // 2), "the take's end publishes every segment"
    cues = {cue for entry in listed[1]
            for cue in parse_webvtt((await store.get_bytes(f"live/a/fr/{entry.uri}")
                                     or b"").decode())}
    shown = " ".join(cue.text for cue in sorted(cues, key=lambda cue: cue.start)).split()
    assert shown == expected


@pytest.mark.parametrize(
    ("content_frames", "padding", "expected"),
    [
        (1000, 2.0, 1200),   # 10 s of speech and 2 s after it
        (1001, 2.0, 1202),   # even: the encoder's second convolution has a stride of 2
        (1000, 0.0, 1000),
        (1, 0.0, 2),
        (2900, 2.0, 3000),   # never more than Whisper's 30 s
        (3000, 2.0, 3000),
        (1000, 30.0, 3000),  # 30: always the full window, as faster-whisper does
    ],
)
def test_the_encoder_sees_the_speech_and_the_padding_up_to_30_s(
        content_frames: int, padding: float, expected: int) -> None:
    assert encoder_frames(content_frames, padding) == expected


def padded_window(filled: int) -> np.ndarray:
    """Mel features as faster-whisper hands them to the encoder: `filled` frames of
    audio, then zeros up to 30 s."""
    features = np.zeros((80, 3000), dtype=np.float32)
    features[:, :filled] = np.linspace(-0.8, 0.6, 80, dtype=np.float32)[:, None]
    return features


@pytest.mark.parametrize("filled", [0, 1, 617, 2999, 3000])
def test_the_frames_before_the_padding_are_found(filled: int) -> None:
    assert content_frames(padded_window(filled)) == filled
    assert content_frames(padded_window(filled)[None]) == filled  # with a batch axis


def test_the_fitted_encoder_gets_the_frames_and_the_padding_asked_for() -> None:
    seen: list[tuple[int, ...]] = []

    def encode(features: np.ndarray) -> str:
        seen.append(features.shape)
        return "encoded"

    assert fitted_encode(encode, 2.0, padded_window(617)) == "encoded"
    assert fitted_encode(encode, 30.0, padded_window(617)) == "encoded"
    assert seen == [(80, 818), (80, 3000)]
