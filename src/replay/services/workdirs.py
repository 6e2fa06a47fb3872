"""Where a recording's work files live in the data directory: one place for the layout
that the pipeline writes and the API, captions and editor read."""

from __future__ import annotations

from pathlib import Path

from replay.domain.model import path_component
from replay.settings import Settings
from replay.storage.exchange import FileExchange
from replay.store.db import Recording

SPEECH_MAP = "speech.json"
#: The recording's audio, decoded once to 16 kHz mono (speech map, transcription).
AUDIO = "audio16k.wav"


def recording_work_dir(settings: Settings, recording: Recording) -> Path:
    return settings.work_dir / recording.sha256[:16]


def session_work_dir(settings: Settings, recording: Recording, guid: str) -> Path:
    """Holds the session's `media/` and `speech/` outputs. The guid is checked as one
    path component (`path_component`): a directory built here never leaves its recording's."""
    return child_dir(recording_work_dir(settings, recording) / "sessions", guid)


def child_dir(base: Path, name: str) -> Path:
    """`base / name`, refusing (`ValueError`) any `name` that is not one safe component,
    so that the result is always strictly inside `base`."""
    path = base / path_component(name)
    if path.parent != base or path.name != name:
        raise ValueError(f"{name[:80]!r} is not one path component")
    return path


async def forget_shared(files: FileExchange, settings: Settings, recording: Recording) -> None:
    """Delete from the object store what the machines shared of `recording`: its original
    and its work files (`storage.exchange`; nothing where every process reads one disk)."""
    await files.forget(settings.originals_dir / recording.original.name)
    await files.forget(recording_work_dir(settings, recording))
