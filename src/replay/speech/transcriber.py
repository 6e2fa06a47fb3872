"""The transcriber port, its faster-whisper adapter and an in-memory fake.

Calls are blocking: the pipeline runs them in a worker thread. faster-whisper's
generators are lazy, so they are consumed here, inside that thread.

The adapter cuts a session's audio into windows of speech (Silero VAD, chunks merged up
to Whisper's 30 s) and, per window, runs the encoder once and decodes twice: French
transcription, then the translate task, from the same encoder output (CTranslate2's
``encode`` and ``generate``, through faster-whisper's ``generate_segments``, which
takes an encoder output). A window the decoder leaves unfinished is encoded again from
where it stopped, by faster-whisper, as usual. Decoding is beam search at temperature 0
by default, so the same audio always gives the same text.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from replay.domain.sentences import split_sentences
from replay.domain.transcript import Segment, Word

log = logging.getLogger(__name__)

Task = Literal["transcribe", "translate"]
SAMPLE_RATE = 16000
#: Whisper's window: the encoder always sees 30 s (shorter audio is padded).
WINDOW_SECONDS = 30.0
#: faster-whisper's default fallback: sampling at rising temperatures (not reproducible).
FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True, slots=True)
class Transcription:
    """One session's speech: the spoken language's segments and their English translation."""

    spoken: list[Segment]
    english: list[Segment]


class Transcriber(Protocol):
    """Speech to text for one session: the spoken language, and English beside it."""

    def transcribe_and_translate(
        self,
        audio: np.ndarray,
        *,
        language: str,
        hotwords: str | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> Transcription: ...


@dataclass(frozen=True, slots=True)
class WhisperConfig:
    """The model and how it decodes (chosen by WER and speed, see bench/RESULTS.md)."""

    transcribe_model: str
    translate_model: str
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 1
    beam_size: int = 3
    #: Temperatures tried in turn when a window's text looks wrong (too repetitive or
    #: improbable); anything above 0 samples at random, so the default is 0 only.
    temperatures: tuple[float, ...] = (0.0,)
    #: Give each window the previous window's text as a prompt (measured worse: it makes
    #: the small models repeat themselves).
    previous_text_as_prompt: bool = False
    #: Shortest silence that separates two chunks of speech, for the windows.
    vad_min_silence_ms: int = 500
    #: Decode a looping window again without sampling (see REPETITION_RETRIES).
    repetition_retries: bool = True


def speech_windows(chunks: Sequence[tuple[int, int]], max_samples: int) -> list[tuple[int, int]]:
    """Consecutive speech chunks (sample ranges, sorted) merged into windows of at most
    ``max_samples``; a chunk longer than that is split. Silence between merged chunks
    stays in the window, silence between windows is skipped."""
    windows: list[tuple[int, int]] = []
    for first, last in chunks:
        while last - first > max_samples:
            windows.append((first, first + max_samples))
            first += max_samples
        if windows and last - windows[-1][0] <= max_samples and first >= windows[-1][1]:
            windows[-1] = (windows[-1][0], last)
        else:
            windows.append((first, last))
    return windows


def uncovered(chunks: Sequence[tuple[int, int]],
              spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The speech chunks that no decoded span touches: speech the decoder skipped (with a
    prompt, Whisper sometimes jumps over a window's first sentence)."""
    return [(first, last) for first, last in chunks
            if not any(start < last and end > first for start, end in spans)]


#: Decoding again, still at temperature 0, a window whose text loops (too repetitive):
#: first with a mild repetition penalty, then also forbidding repeated 3-token runs. The
#: previous window's text is left out of these retries (a prompt can start a loop).
REPETITION_RETRIES: tuple[dict[str, float], ...] = (
    {"repetition_penalty": 1.1},
    {"repetition_penalty": 1.1, "no_repeat_ngram_size": 3},
)


@dataclass
class _Decoder:
    """One task on one model: its tokenizer and its options (faster-whisper's own)."""

    model: Any
    tokenizer: Any
    options: Any
    retries: Sequence[dict[str, float]] = ()

    def segments(self, features: np.ndarray, encoded: Any, prompt: str | None) -> list[Any]:
        found = self._decode(features, encoded, prompt or None, {})
        for retry in self.retries:
            if not self._loops(found):
                break
            log.debug("window loops (compression ratio above %s): decoding again with %s",
                      self.options.compression_ratio_threshold, retry)
            found = self._decode(features, encoded, None, retry)
        return found

    def _decode(self, features: np.ndarray, encoded: Any, prompt: str | None,
                changes: dict[str, float]) -> list[Any]:
        # A fresh copy: generate_segments rewrites clip_timestamps in place.
        options = dataclasses.replace(self.options, initial_prompt=prompt, clip_timestamps=[],
                                      **changes)
        return list(self.model.generate_segments(features, self.tokenizer, options, False,
                                                 encoded))

    def _loops(self, found: Sequence[Any]) -> bool:
        limit = self.options.compression_ratio_threshold
        return limit is not None and any(seg.compression_ratio > limit for seg in found)


class WhisperTranscriber:
    """faster-whisper, models loaded on first use (in the calling worker thread)."""

    def __init__(self, config: WhisperConfig) -> None:
        self._config = config
        self._models: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _model(self, task: Task) -> Any:
        name = (self._config.translate_model if task == "translate"
                else self._config.transcribe_model)
        with self._lock:
            if name not in self._models:
                from faster_whisper import WhisperModel

                log.info("loading Whisper model %s", name)
                self._models[name] = WhisperModel(
                    name,
                    device=self._config.device,
                    compute_type=self._config.compute_type,
                    cpu_threads=self._config.cpu_threads,
                    num_workers=1,
                )
            return self._models[name]

    def _decoder(self, task: Task, language: str, hotwords: str | None) -> _Decoder:
        from faster_whisper.tokenizer import Tokenizer

        model = self._model(task)
        config = self._config
        # transcribe() only builds its options until its lazy generator is consumed, which
        # it never is here: the documented way to get every option right for this version.
        _unused, info = model.transcribe(
            np.zeros(SAMPLE_RATE // 10, dtype=np.float32), language=language, task=task,
            beam_size=config.beam_size, temperature=list(config.temperatures),
            word_timestamps=task == "transcribe", hotwords=hotwords or None,
            condition_on_previous_text=False)
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task=task,
                              language=language)
        retries = REPETITION_RETRIES if config.repetition_retries else ()
        return _Decoder(model, tokenizer, info.transcription_options, retries)

    def _chunks(self, audio: np.ndarray) -> list[tuple[int, int]]:
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        options = VadOptions(min_silence_duration_ms=self._config.vad_min_silence_ms,
                             speech_pad_ms=200, max_speech_duration_s=WINDOW_SECONDS - 1)
        return [(c["start"], c["end"]) for c in get_speech_timestamps(audio, options)]

    def _run(self, audio: np.ndarray, decoders: Sequence[_Decoder],
             on_progress: Callable[[float], None] | None) -> list[list[Segment]]:
        """Every decoder over every window; one encoder pass per window and model. Speech
        a decoder skipped in a window is decoded again on its own."""
        results: list[list[Segment]] = [[] for _ in decoders]
        total = max(len(audio), 1)
        chunks = self._chunks(audio)
        for first, last in speech_windows(chunks, int(WINDOW_SECONDS * SAMPLE_RATE)):
            encoded: dict[tuple[int, int, int], tuple[np.ndarray, Any]] = {}
            inside = [c for c in chunks if first <= c[0] and c[1] <= last]
            for index, decoder in enumerate(decoders):
                found = self._decode_span(audio, (first, last), decoder, encoded,
                                          self._prompt(results[index]))
                spans = [(int(s.start * SAMPLE_RATE), int(s.end * SAMPLE_RATE)) for s in found]
                for chunk in uncovered(inside, spans):
                    log.debug("speech skipped at %.1f s: decoding it on its own",
                              chunk[0] / SAMPLE_RATE)
                    found += self._decode_span(audio, chunk, decoder, encoded, None)
                results[index] += sorted(found, key=lambda segment: segment.start)
            if on_progress is not None:
                on_progress(min(1.0, last / total))
        if on_progress is not None:
            on_progress(1.0)
        return results

    @staticmethod
    def _decode_span(audio: np.ndarray, span: tuple[int, int], decoder: _Decoder,
                     encoded: dict[tuple[int, int, int], tuple[np.ndarray, Any]],
                     prompt: str | None) -> list[Segment]:
        """`decoder` over `span` (samples), its encoder output shared by the decoders of
        the same model; segments on the audio's clock."""
        key = (id(decoder.model), *span)
        if key not in encoded:
            encoded[key] = _encode(decoder.model, audio[span[0]:span[1]])
        features, output = encoded[key]
        return [_segment(raw, span[0] / SAMPLE_RATE)
                for raw in decoder.segments(features, output, prompt)]

    def _prompt(self, previous: list[Segment]) -> str | None:
        if not self._config.previous_text_as_prompt or not previous:
            return None
        return " ".join(segment.text for segment in previous[-4:])

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        task: Task,
        language: str,
        hotwords: str | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> list[Segment]:
        """One task over the audio (for translating alone, or transcribing alone)."""
        hints = hotwords if task == "transcribe" else None
        (segments,) = self._run(audio, [self._decoder(task, language, hints)], on_progress)
        return split_sentences(segments) if task == "transcribe" else segments

    def transcribe_and_translate(
        self,
        audio: np.ndarray,
        *,
        language: str,
        hotwords: str | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> Transcription:
        """The spoken language and its English translation, one encoder pass per window
        (when the same model does both)."""
        decoders = [self._decoder("transcribe", language, hotwords),
                    self._decoder("translate", language, None)]
        spoken, english = self._run(audio, decoders, on_progress)
        return Transcription(split_sentences(spoken), english)


def _encode(model: Any, audio: np.ndarray) -> tuple[np.ndarray, Any]:
    """The window's features, and the encoder's output for its first 30 s (what
    generate_segments would compute itself at the window's start)."""
    from faster_whisper.audio import pad_or_trim

    features = model.feature_extractor(audio)
    first = features[:, : min(model.feature_extractor.nb_max_frames, features.shape[-1] - 1)]
    return features, model.encode(pad_or_trim(first))


def _segment(raw: Any, offset: float) -> Segment:
    words = tuple(
        Word(round(w.start + offset, 3), round(w.end + offset, 3), w.word,
             round(w.probability, 4))
        for w in (raw.words or ())
    )
    return Segment(round(raw.start + offset, 3), round(raw.end + offset, 3), raw.text.strip(),
                   words)


@dataclass
class FakeTranscriber:
    """Returns scripted segments; records its calls. For unit tests of the pipeline."""

    script: dict[Task, Sequence[Segment]] = field(default_factory=dict)
    calls: list[tuple[Task, str, str | None, int]] = field(default_factory=list)

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        task: Task,
        language: str,
        hotwords: str | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> list[Segment]:
        self.calls.append((task, language, hotwords, len(audio)))
        if on_progress is not None:
            on_progress(1.0)
        return list(self.script.get(task, ()))

    def transcribe_and_translate(
        self,
        audio: np.ndarray,
        *,
        language: str,
        hotwords: str | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> Transcription:
        spoken = self.transcribe(audio, task="transcribe", language=language,
                                 hotwords=hotwords, on_progress=on_progress)
        return Transcription(spoken, self.transcribe(audio, task="translate", language=language))

