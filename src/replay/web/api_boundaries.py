"""Hearing and seeing around a cut-plan boundary: a short audio clip and a waveform zoom
with the speech map, both from the recording's 16 kHz analysis audio (no new encode).
`api_sessions.add_routes` registers these routes (``ROUTES``).
"""

from __future__ import annotations

import asyncio
import io
import json
import wave
from pathlib import Path
from typing import Any, Final

import numpy as np
from aiohttp import web

from replay.domain.boundaries import speech_in, window_around
from replay.domain.cutplan import Interval
from replay.locale import N_, _
from replay.services.workdirs import AUDIO, SPEECH_MAP, recording_work_dir
from replay.speech.speechmap import SAMPLE_RATE, read_wav_span
from replay.store.db import Recording
from replay.web.api_common import load_recording
from replay.web.api_routes import OBJECT, ORGANISER, RECORDING, ApiRoute, query_param
from replay.web.errors import api_error, json_response
from replay.web.keys import SETTINGS
from replay.web.work_files import present

#: The longest clip served, in seconds.
MAX_CLIP: Final = 60.0
#: Points of the waveform zoom (a min and a max each).
POINTS: Final = 400


def _seconds(request: web.Request, name: str) -> float:
    text = request.query.get(name, "")
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1e7:
        raise api_error(400, _("“{name}” is invalid: seconds from the start of the "
                               "recording.").format(name=name))
    return value


async def _analysis_audio(request: web.Request, recording: Recording) -> Path:
    """The 16 kHz audio, fetched when the analysis ran on another machine."""
    wav = recording_work_dir(request.config_dict[SETTINGS], recording) / AUDIO
    if not await present(request, wav) or recording.duration is None:
        raise api_error(409, _("The analysis audio does not exist yet: wait until the "
                               "recording's analysis is over."))
    return wav


async def audio_clip(request: web.Request) -> web.Response:
    """``start`` to ``end`` seconds (at most a minute) as a WAV file."""
    recording = await load_recording(request)
    start, end = _seconds(request, "start"), _seconds(request, "end")
    if not 0 < end - start <= MAX_CLIP:
        raise api_error(400, _("Invalid excerpt: “end” after “start”, {seconds} seconds at "
                               "most.").format(seconds=f"{MAX_CLIP:.0f}"))
    wav = await _analysis_audio(request, recording)
    data = await asyncio.to_thread(_clip, wav, start, end)
    return web.Response(body=data, content_type="audio/wav",
                        headers={"Cache-Control": "private, max-age=3600"})


def _clip(wav: Path, start: float, end: float) -> bytes:
    samples = read_wav_span(wav, start, end)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes((np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


async def waveform(request: web.Request) -> web.Response:
    """The window around ``at``: its waveform (``points`` pairs of min and max) and the
    speech map's intervals within it."""
    recording = await load_recording(request)
    at = _seconds(request, "at")
    wav = await _analysis_audio(request, recording)
    assert recording.duration is not None  # checked by _analysis_audio
    window = window_around(at, recording.duration)
    peaks = await asyncio.to_thread(_peaks, wav, window.start, window.end, POINTS)
    speech_file = recording_work_dir(request.config_dict[SETTINGS], recording) / SPEECH_MAP
    await present(request, speech_file)
    speech = await asyncio.to_thread(_speech, speech_file)
    return json_response({"start": window.start, "end": window.end, "peaks": peaks,
                          "speech": [[i.start, i.end] for i in speech_in(window, speech)]})


def _peaks(wav: Path, start: float, end: float, points: int) -> list[list[float]]:
    samples = read_wav_span(wav, start, end)
    if samples.size == 0:
        return []
    buckets = np.array_split(samples, min(points, samples.size))
    return [[round(float(b.min()), 3), round(float(b.max()), 3)] for b in buckets]


def _speech(path: Path) -> list[Interval]:
    if not path.is_file():
        return []
    data: list[Any] = json.loads(path.read_text(encoding="utf-8"))
    return [Interval(float(a), float(b)) for a, b in data]


_AT: Final = query_param("at", {"type": "number"}, required=True)
_SPAN: Final = tuple(query_param(name, {"type": "number"}, required=True)
                     for name in ("start", "end"))

ROUTES: Final = (
    ApiRoute("GET", "/api/recordings/{id}/audio", audio_clip,
             N_("An audio extract (WAV, one minute at most) from start to end seconds"), ORGANISER,
             ("200", {"type": "string"}, "audio/wav"), ("400", "404", "409"),
             params=(RECORDING, *_SPAN)),
    ApiRoute("GET", "/api/recordings/{id}/waveform", waveform,
             N_("The waveform and the speech detected around “at” seconds"), ORGANISER,
             ("200", OBJECT, N_("Waveform")), ("400", "404", "409"), params=(RECORDING, _AT)),
)
