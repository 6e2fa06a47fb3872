"""Where a recording's work files live in the data directory: one place for the layout
that the pipeline writes and the API, captions and editor read."""

from __future__ import annotations

from pathlib import Path

from replay.settings import Settings
from replay.store.db import Recording

SPEECH_MAP = "speech.json"


def recording_work_dir(settings: Settings, recording: Recording) -> Path:
    return settings.work_dir / recording.sha256[:16]


def session_work_dir(settings: Settings, recording: Recording, guid: str) -> Path:
    """Holds the session's `media/` and `speech/` outputs."""
    return recording_work_dir(settings, recording) / "sessions" / guid
