"""The benchmark's recording: 10 minutes of 1080p25 with French speech, three sessions
(each starting late) and a break, generated once and cached.

Imported by ``bench_pipeline.py``; run on its own it only generates the recording:
``python bench/sample10.py bench/out``.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

from replay.sample import SampleSession, SampleTruth, SessionTruth, build_sample

DURATION = 600.0
SIZE = (1920, 1080)
FPS = 25

#: Programme slots of whole minutes; the recording starts 30 s before the first one.
#: Paragraphs (~5 s each with pauses) fill each session's slot up to ~10 s before its end.
SESSIONS = (
    SampleSession("Ouverture : la Mission Villes en France", 30, 180, late_by=20, paragraphs=28),
    SampleSession("Pause", 210, 60, is_break=True),
    SampleSession("Table ronde « NetZeroCities » & financement", 270, 180, late_by=25,
                  paragraphs=27),
    SampleSession("Budgets verts et participation citoyenne", 450, 120, late_by=10,
                  paragraphs=18),
)

_FINGERPRINT = json.dumps(
    [[s.title, s.scheduled_offset, s.scheduled_duration, s.late_by, s.paragraphs, s.is_break]
     for s in SESSIONS] + [DURATION, list(SIZE), FPS]
)


def sample(out: Path) -> SampleTruth:
    """The cached recording in ``out/sample``, generated when missing or out of date."""
    folder = out / "sample"
    stamp = folder / "fingerprint.json"
    truth_file = folder / "truth.json"
    recording = folder / "recording.mp4"
    if (stamp.is_file() and stamp.read_text() == _FINGERPRINT and truth_file.is_file()
            and recording.is_file()):
        return _load_truth(truth_file, folder)
    stamp.unlink(missing_ok=True)
    truth = build_sample(folder, sessions=SESSIONS, duration=DURATION, size=SIZE, fps=FPS)
    stamp.write_text(_FINGERPRINT)
    return truth


def _load_truth(path: Path, folder: Path) -> SampleTruth:
    data = json.loads(path.read_text(encoding="utf-8"))
    return SampleTruth(
        recording=folder / "recording.mp4",
        schedule=folder / "schedule.json",
        room=data["room"],
        started_at=datetime.fromisoformat(data["started_at"]),
        duration=float(data["duration"]),
        sessions=tuple(
            SessionTruth(s["guid"], s["title"], float(s["speech_start"]), float(s["speech_end"]))
            for s in data["sessions"]
        ),
    )


if __name__ == "__main__":
    generated = sample(Path(sys.argv[1] if len(sys.argv) > 1 else "bench/out"))
    for session in generated.sessions:
        print(f"{session.title}: speech {session.speech_start:.1f}–{session.speech_end:.1f} s")
