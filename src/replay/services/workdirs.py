"""Where a recording's work files live in the data directory: one place for the layout
that the pipeline writes and the API, captions and editor read."""

from __future__ import annotations

import os
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


def inside(base: Path, path: Path) -> Path:
    """`path` when it lies strictly inside `base` once its ``..`` are counted (a lexical
    `is_relative_to` alone lets ``base/..`` pass); `ValueError` otherwise."""
    root, normal = Path(os.path.normpath(base)), Path(os.path.normpath(path))
    if normal == root or not normal.is_relative_to(root):
        raise ValueError(f"{str(path)[:200]!r} is not inside {base}")
    return path


async def forget_shared(files: FileExchange, settings: Settings, recording: Recording) -> None:
    """Delete from the object store what the machines shared of `recording`: its original
    and its work files (`storage.exchange`; nothing where every process reads one disk).
    Both are checked first to lie inside their folders of the data directory: a recording's
    name or digest never makes it forget a whole folder, or anything outside."""
    original = inside(settings.originals_dir, settings.originals_dir / recording.original.name)
    work = inside(settings.work_dir, recording_work_dir(settings, recording))
    await files.forget(original)
    await files.forget(work)
