"""One pass of the live captions over an audio window: the port, faster-whisper, a fake.

A pass is blocking (the live captioner runs it in a worker thread). Words come back on
the take's clock: `offset` is the take time of the window's first sample.

The faster-whisper adapter does what `WhisperModel.transcribe()` does for one window
(Silero VAD, features, one decode at temperature 0, word timestamps, times put back on
the audio's clock), with one difference: the encoder sees the window's audio plus
`encoder_padding` seconds of silence instead of always 30 s. Its cost grows with its
input, and a live window is 5 to 24 s long (`bench/sim_live_captions.py --timing`
compares the two).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from replay.domain.transcript import Word
from replay.speech.transcriber import SAMPLE_RATE, WINDOW_SECONDS, Task

log = logging.getLogger(__name__)

#: Whisper's own threshold for a repetition loop (gzip compression ratio of the text).
_LOOP_RATIO = 2.4
#: Tokens a pass may produce per second of audio (fast French is under 6) and above.
_TOKENS_PER_SECOND, _TOKENS_EXTRA = 6, 16
#: Whisper's context: prompt and output together; each part of the prompt is cut to half.
_CONTEXT, _HALF = 448, 223
#: Mel frames per second of audio (10 ms hop); the encoder halves them (stride 2).
_FRAMES_PER_SECOND = 100
_VAD = {"min_silence_duration_ms": 500, "speech_pad_ms": 200}


class StreamingRecognizer(Protocol):
    def recognise(self, audio: np.ndarray, *, offset: float, prompt: str,
                  hotwords: str) -> list[Word]:
        """The words heard in `audio` (float32, 16 kHz mono), times plus `offset`."""
        ...


@dataclass(frozen=True, slots=True)
class LiveWhisperConfig:
    """`encoder_padding`: seconds of silence the encoder sees after the window's speech,
    up to Whisper's 30 s in all; 30 gives faster-whisper's own behaviour (always 30 s)."""

    model: str
    task: Task = "transcribe"
    language: str = "fr"
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 1
    beam_size: int = 1
    encoder_padding: float = WINDOW_SECONDS


def encoder_frames(content_frames: int, padding: float) -> int:
    """Mel frames the encoder is given for `content_frames` of speech: the speech and
    `padding` seconds after it, even (the encoder's stride), at most Whisper's 30 s."""
    wanted = content_frames + round(padding * _FRAMES_PER_SECOND)
    wanted += wanted % 2
    return max(2, min(int(WINDOW_SECONDS * _FRAMES_PER_SECOND), wanted))


class WhisperStreamingRecognizer:
    """faster-whisper, the model loaded on the first pass (in the calling thread)."""

    def __init__(self, config: LiveWhisperConfig) -> None:
        self.config = config
        self._model: Any = None
        self._tokenizer: Any = None
        self._options: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._model is None:
                from faster_whisper import WhisperModel
                from faster_whisper.tokenizer import Tokenizer

                config = self.config
                log.info("loading Whisper model %s for live %s", config.model, config.task)
                model = WhisperModel(config.model, device=config.device,
                                     compute_type=config.compute_type,
                                     cpu_threads=config.cpu_threads, num_workers=1)
                # transcribe() builds every option before its lazy generator runs (never,
                # here): the way to get this version's options right, as the transcriber.
                _unused, info = model.transcribe(
                    np.zeros(SAMPLE_RATE // 10, dtype=np.float32), language=config.language,
                    task=config.task, beam_size=config.beam_size, temperature=0.0,
                    word_timestamps=True, condition_on_previous_text=False)
                self._tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual,
                                            task=config.task, language=config.language)
                self._options = info.transcription_options
                self._model = model

    def recognise(self, audio: np.ndarray, *, offset: float, prompt: str,
                  hotwords: str) -> list[Word]:
        self.load()
        # One window, no temperature fallback: a pass that goes wrong is simply not
        # agreed with by the next one, and a fallback would triple the pass's time. A
        # repetition loop is cut short by the token limit and left out.
        limit = int(len(audio) / SAMPLE_RATE * _TOKENS_PER_SECOND) + _TOKENS_EXTRA
        limit = min(limit, _CONTEXT - self._prompt_tokens(prompt, hotwords))
        options = dataclasses.replace(self._options, initial_prompt=prompt or None,
                                      hotwords=hotwords or None, max_new_tokens=max(limit, 1),
                                      clip_timestamps=[])
        return [  # plain floats: faster-whisper's are numpy's, which JSON refuses
            Word(round(offset + float(w.start), 3), round(offset + float(w.end), 3), w.word,
                 round(float(w.probability), 4))
            for segment in self._segments(audio, options)
            if segment.compression_ratio <= _LOOP_RATIO
            for w in (segment.words or ())
        ]

    def _segments(self, audio: np.ndarray, options: Any) -> list[Any]:
        """faster-whisper's segments of the window's speech, on the window's clock."""
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.transcribe import restore_speech_timestamps
        from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

        chunks = get_speech_timestamps(audio, VadOptions(**_VAD))
        if not chunks:
            return []
        speech = np.concatenate(collect_chunks(audio, chunks)[0])
        features = self._model.feature_extractor(speech)
        content = features.shape[-1] - 1  # the extractor adds one frame past the audio
        frames = encoder_frames(content, self.config.encoder_padding)
        # Zeros after the speech, as faster-whisper pads every window to 30 s.
        encoded = self._model.encode(pad_or_trim(features[:, :content], frames))
        found = self._model.generate_segments(features, self._tokenizer, options, False,
                                              encoded)
        return list(restore_speech_timestamps(found, chunks, SAMPLE_RATE))

    def _prompt_tokens(self, prompt: str, hotwords: str) -> int:
        """Tokens faster-whisper puts before the output (hotwords, prompt, start marks)."""
        encode = self._model.hf_tokenizer.encode
        used = 8  # start-of-previous, start-of-transcript, language, task, timestamps
        for text in (hotwords, prompt):
            if text:
                used += min(len(encode(" " + text.strip(), add_special_tokens=False).ids), _HALF)
        return used


@dataclass
class ScriptedRecognizer:
    """A fake: hears the words of a known script that lie within the window.

    A word cut by the window's end is heard as a guess (`unsure` and the pass's number,
    so two passes never agree on it), the way a real pass hears a word it has only half
    of. Records each pass's window, prompt and hotwords.
    """

    script: Sequence[Word]
    unsure: str = " euh"
    passes: list[tuple[float, float, str, str]] = field(default_factory=list)

    def recognise(self, audio: np.ndarray, *, offset: float, prompt: str,
                  hotwords: str) -> list[Word]:
        end = offset + len(audio) / SAMPLE_RATE
        self.passes.append((offset, end, prompt, hotwords))
        heard: list[Word] = []
        for word in self.script:
            if word.start >= offset and word.end <= end:
                heard.append(word)
            elif word.start >= offset and word.start < end:
                heard.append(Word(word.start, end, f"{self.unsure}{len(self.passes)}", 0.3))
                break
        return heard
