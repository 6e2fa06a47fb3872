"""Generate a sample event: a room recording with French speech and its programme.

Used by the README's demo command, the end-to-end tests and the benchmark. Speech comes
from espeak-ng (several French voices); the video is ffmpeg's test pattern. The returned
`SampleTruth` says where each session's speech really starts and ends.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

SAMPLE_RATE = 22050
VOICES = ("fr", "fr+m3", "fr+f2", "fr+m7")
#: The espeak-ng voice that Whisper `base` hears best: of the distinct words of four
#: letters or more in `PARAGRAPHS`, each said alone, it hears 38 % in this voice and 16 to
#: 20 % in the other three (measured 2026-12-02). For tests that need words recognised,
#: not a test of Whisper on hard voices.
CLEAR_VOICES = ("fr+f2",)

PARAGRAPHS = (
    "Bonjour à toutes et à tous, et bienvenue à cette table ronde de la Mission Villes.",
    "Neuf collectivités françaises ont été sélectionnées pour atteindre la neutralité "
    "climatique dès deux mille trente.",
    "Le programme NetZeroCities accompagne les villes dans la construction de leur "
    "contrat de ville climat.",
    "Nous allons parler de gouvernance, de financement et de participation citoyenne.",
    "La rénovation des bâtiments publics est une priorité pour la métropole.",
    "Le projet CapaCITIES soutient le renforcement des capacités des collectivités.",
    "Comment mobiliser les habitants autour de la transition écologique ?",
    "Les budgets verts permettent de mesurer l'impact climatique des dépenses.",
    "Merci beaucoup pour vos questions, nous reprendrons après la pause.",
    "La mobilité douce et les transports en commun réduisent fortement les émissions.",
    "Il faut investir dans l'adaptation au changement climatique dès maintenant.",
    "Je laisse maintenant la parole à la représentante de la Commission européenne.",
)


@dataclass(frozen=True, slots=True)
class SampleSession:
    """A programme slot and what really happens in the room (offsets in seconds)."""

    title: str
    scheduled_offset: float
    scheduled_duration: float
    late_by: float = 0.0
    paragraphs: int = 4
    is_break: bool = False
    #: What is said, paragraph by paragraph, in turn (default: the demo's paragraphs).
    script: tuple[str, ...] = ()
    persons: tuple[str, ...] = ("Camille Martin",)
    #: The espeak-ng voices of its paragraphs, in turn.
    voices: tuple[str, ...] = VOICES


@dataclass(frozen=True, slots=True)
class SessionTruth:
    guid: str
    title: str
    speech_start: float
    speech_end: float
    #: The words spoken, paragraph after paragraph (for word error rates).
    text: str = ""


@dataclass(frozen=True, slots=True)
class SampleTruth:
    recording: Path
    schedule: Path
    room: str
    started_at: datetime
    duration: float
    sessions: tuple[SessionTruth, ...]


# Programme times are whole minutes; the recording starts 30 s before the first session.
DEMO_SESSIONS = (
    SampleSession("Ouverture : la Mission Villes en France", 30, 60, late_by=20, paragraphs=10),
    SampleSession("Pause", 90, 60, is_break=True),
    SampleSession("Table ronde « NetZeroCities » & financement", 150, 60, late_by=25,
                  paragraphs=5),
)
DEMO_STARTED_AT = "2026-03-03T09:29:30+01:00"


def build_sample(
    out_dir: Path,
    *,
    sessions: Sequence[SampleSession] = DEMO_SESSIONS,
    duration: float = 210.0,
    started_at: datetime | None = None,
    room: str = "Plénière",
    size: tuple[int, int] = (854, 480),
    fps: int = 25,
    video_kbps: int | None = None,
) -> SampleTruth:
    """Write `recording.mp4`, `schedule.json` and `truth.json` into `out_dir`.

    The video is x264 with a keyframe every 2 s, at constant quality, or at about
    `video_kbps` when given (like a camera or OBS)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    started_at = started_at or datetime.fromisoformat(DEMO_STARTED_AT)
    timeline = np.zeros(int(duration * SAMPLE_RATE), dtype=np.float32)
    truths: list[SessionTruth] = []
    with tempfile.TemporaryDirectory() as scratch:
        for index, session in enumerate(sessions):
            if session.is_break:
                continue
            start = session.scheduled_offset + session.late_by
            end, said = _lay_speech(timeline, start, index, session, Path(scratch))
            truths.append(SessionTruth(_guid(index), session.title, start, end, said))
    _add_room_noise(timeline)
    recording = out_dir / "recording.mp4"
    _mux(timeline, recording, started_at, (size, fps, video_kbps), duration)
    schedule = out_dir / "schedule.json"
    schedule.write_text(
        json.dumps(_schedule(sessions, started_at, room), ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    truth = SampleTruth(recording, schedule, room, started_at, duration, tuple(truths))
    (out_dir / "truth.json").write_text(
        json.dumps(asdict(truth), default=str, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return truth


def _guid(index: int) -> str:
    return f"00000000-0000-4000-8000-{index:012d}"


def _paragraph(session: SampleSession, session_index: int, n: int) -> str:
    if session.script:
        return session.script[n % len(session.script)]
    return PARAGRAPHS[(session_index * 3 + n) % len(PARAGRAPHS)]


def _lay_speech(
    timeline: np.ndarray, start: float, session_index: int, session: SampleSession,
    scratch: Path,
) -> tuple[float, str]:
    """Write the session's spoken paragraphs from `start`; return the end of the last one
    and what was said."""
    cursor = start
    said: list[str] = []
    for n in range(session.paragraphs):
        paragraph = _paragraph(session, session_index, n)
        voice = session.voices[(session_index + n) % len(session.voices)]
        samples = _speak(paragraph, voice, scratch / f"{session_index}-{n}.wav")
        at = int(cursor * SAMPLE_RATE)
        room = len(timeline) - at
        if room <= 0:
            break
        timeline[at : at + min(room, len(samples))] += samples[:room]
        said.append(paragraph)
        cursor += len(samples) / SAMPLE_RATE
        end = cursor
        cursor += 0.6 + 0.3 * (n % 3)
    return min(end, len(timeline) / SAMPLE_RATE), " ".join(said)


def _speak(text: str, voice: str, wav: Path) -> np.ndarray:
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "150", "-w", str(wav), text],
        check=True,
        capture_output=True,
    )
    with wave.open(str(wav), "rb") as handle:
        rate = handle.getframerate()
        frames = handle.readframes(handle.getnframes())
    samples = np.frombuffer(frames, dtype=np.int16).astype(np.float32) / 32768.0
    if rate != SAMPLE_RATE:
        positions = np.arange(0, len(samples), rate / SAMPLE_RATE)
        samples = np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)
    return _trim_silence(samples)


def _trim_silence(samples: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if len(loud) == 0:
        return samples
    return samples[loud[0] : loud[-1] + 1]


def _add_room_noise(timeline: np.ndarray) -> None:
    rng = np.random.default_rng(7)
    timeline += rng.normal(0.0, 0.002, size=len(timeline)).astype(np.float32)


#: Picture size, frame rate, and video bitrate (None: constant quality).
_Video = tuple[tuple[int, int], int, int | None]


def _mux(
    timeline: np.ndarray,
    recording: Path,
    started_at: datetime,
    video: _Video,
    duration: float,
) -> None:
    pcm = (np.clip(timeline, -1.0, 1.0) * 32767).astype(np.int16)
    with tempfile.TemporaryDirectory() as scratch:
        wav = Path(scratch) / "room.wav"
        with wave.open(str(wav), "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(SAMPLE_RATE)
            handle.writeframes(pcm.tobytes())
        subprocess.run(_mux_argv(wav, recording, started_at, video, duration),
                       check=True, capture_output=True)


def _rate_control(kbps: int | None) -> list[str]:
    if kbps is None:
        return ["-crf", "30"]
    return ["-b:v", f"{kbps}k", "-maxrate", f"{kbps * 3 // 2}k", "-bufsize", f"{kbps * 2}k"]


def _mux_argv(
    wav: Path, recording: Path, started_at: datetime, video: _Video, duration: float,
) -> list[str]:
    (width, height), fps, kbps = video
    creation = started_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    return [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={duration}",
        "-i", str(wav),
        "-map", "0:v", "-map", "1:a",
        "-c:v", "libx264", "-preset", "ultrafast", *_rate_control(kbps), "-pix_fmt", "yuv420p",
        "-g", str(fps * 2), "-keyint_min", str(fps * 2), "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", "96k", "-ar", "48000", "-ac", "2",
        "-metadata", f"creation_time={creation}",
        "-t", str(duration), "-movflags", "+faststart",
        str(recording),
    ]


def _schedule(sessions: Sequence[SampleSession], started_at: datetime, room: str) -> object:
    events = [_schedule_event(i, s, started_at, room) for i, s in enumerate(sessions)]
    day = started_at.date().isoformat()
    return {
        "schedule": {
            "version": "1",
            "conference": {
                "acronym": "demo-mission-villes",
                "title": "Démo : Mission Villes « neutres pour le climat »",
                "start": day,
                "end": day,
                "time_zone_name": "Europe/Paris",
                "rooms": [{"name": room}],
                "days": [{"index": 0, "date": day, "rooms": {room: events}}],
            },
        }
    }


def _schedule_event(
    index: int, session: SampleSession, started_at: datetime, room: str
) -> dict[str, object]:
    start = started_at + timedelta(seconds=session.scheduled_offset)
    minutes = round(session.scheduled_duration / 60)
    return {
        "guid": _guid(index),
        "id": 100 + index,
        "date": start.isoformat(),
        "start": start.strftime("%H:%M"),
        "duration": f"{minutes // 60:02d}:{minutes % 60:02d}",
        "room": room,
        "slug": f"demo-{index}",
        "title": session.title,
        "subtitle": "",
        "track": "Pause" if session.is_break else "Table ronde",
        "type": "Pause" if session.is_break else "Table ronde",
        "language": "fr",
        "abstract": "",
        "description": "",
        "recording_license": "CC BY 4.0",
        "do_not_record": session.is_break,
        "persons": [] if session.is_break else [{"public_name": p} for p in session.persons],
        "links": [],
        "attachments": [],
    }
