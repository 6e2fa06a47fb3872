"""The transcriber port, its faster-whisper adapter and an in-memory fake.

Calls are blocking: the pipeline runs them in a worker thread. faster-whisper's
`transcribe()` returns a lazy generator, so it is consumed here, inside that thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from replay.domain.transcript import Segment, Word

log = logging.getLogger(__name__)

Task = Literal["transcribe", "translate"]
SAMPLE_RATE = 16000


class Transcriber(Protocol):
    def transcribe(
        self,
        audio: np.ndarray,
        *,
        task: Task,
        language: str,
        hotwords: str | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> list[Segment]: ...


@dataclass(frozen=True, slots=True)
class WhisperConfig:
    transcribe_model: str
    translate_model: str
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 1
    beam_size: int = 1


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

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        task: Task,
        language: str,
        hotwords: str | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> list[Segment]:
        total = max(len(audio) / SAMPLE_RATE, 1e-3)
        generator, _info = self._model(task).transcribe(
            audio,
            language=language,
            task=task,
            beam_size=self._config.beam_size,
            word_timestamps=True,
            vad_filter=True,
            vad_parameters={"min_silence_duration_ms": 1000, "speech_pad_ms": 200},
            hotwords=hotwords or None,
            condition_on_previous_text=False,
        )
        segments = []
        for raw in generator:
            segments.append(_segment(raw))
            if on_progress is not None:
                on_progress(min(1.0, raw.end / total))
        if on_progress is not None:
            on_progress(1.0)
        return segments


def _segment(raw: Any) -> Segment:
    words = tuple(
        Word(round(w.start, 3), round(w.end, 3), w.word, round(w.probability, 4))
        for w in (raw.words or ())
    )
    return Segment(round(raw.start, 3), round(raw.end, 3), raw.text.strip(), words)


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
