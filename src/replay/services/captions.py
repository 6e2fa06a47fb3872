"""Caption versions and the speech directory's subtitle files, kept in step.

The speech stage writes ``subtitles.<lang>.vtt`` (Whisper's draft); the store's caption
versions are the editors' truth. `sync_from_file` imports the file as a machine version
on first read, and again after a re-transcription as long as no human version is
current; a human version is never replaced: the new draft is only reported
(`machine_pending`). `write_current` writes the current version back into the speech
directory (atomically), which is what the publish step uploads, so a re-transcription
followed by a publish still publishes the corrections.

File reads and writes are plain functions meant for a thread; the database calls stay
on the caller's thread (the SQLite connection is not shared across threads).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from replay.domain.errors import SubtitleError
from replay.domain.publication import DEFAULT_RULE, PublicationRule, Track, text_goes_out
from replay.domain.transcript import Cue
from replay.domain.webvtt import parse_webvtt, render_webvtt
from replay.services.workdirs import session_work_dir
from replay.settings import Settings
from replay.store.captions import Captions, CaptionState, EventOptions, Key
from replay.store.db import Recording

log = logging.getLogger(__name__)

LANGUAGES = ("fr", "en")


def speech_dir(settings: Settings, recording: Recording, guid: str) -> Path:
    """The session's speech outputs: subtitles and transcripts."""
    return session_work_dir(settings, recording, guid) / "speech"


def vtt_path(settings: Settings, recording: Recording, guid: str, lang: str) -> Path:
    return speech_dir(settings, recording, guid) / f"subtitles.{lang}.vtt"


def default_options(settings: Settings) -> EventOptions:
    """An event's options until its organisers choose: the cut plan must be validated, and
    where the settings do not publish drafts (``publish_drafts``), the captions too."""
    rule = DEFAULT_RULE if settings.publish_drafts else PublicationRule.SOUS_TITRES
    return EventOptions(rule, False)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_source(path: Path) -> str | None:
    """The file's text, or None when the speech stage has not written it yet."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def write_atomic(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def sync_from_file(captions: Captions, key: Key, source: str | None) -> CaptionState | None:
    """The state after importing `source` (the file's text) if it is a new machine draft."""
    state = captions.state(key)
    if source is None or (state is not None and state.source_sha256 == digest(source)):
        return state
    try:
        cues = parse_webvtt(source)
    except SubtitleError:
        log.exception("unreadable subtitles for %s", key)
        return state
    captions.import_machine(key, cues, digest(source))
    return captions.state(key)


def machine_pending(state: CaptionState, source: str | None) -> bool:
    """A newer machine draft sits in the speech directory, kept aside for a human version."""
    return source is not None and state.source_sha256 != digest(source)


def rendered_current(captions: Captions, key: Key) -> str | None:
    """The current version as a file, or None when the captions were never read."""
    current = captions.current(key)
    return None if current is None else render_webvtt(list(current.cues))


def human_edited(captions: Captions, key: Key) -> bool:
    current = captions.current(key)
    return current is not None and current.author_id is not None


def tracks_of(captions: Captions, recording: Recording, guid: str) -> tuple[Track, ...]:
    """The session's caption tracks as the publication rule sees them (a track no editor
    opened yet is the machine's draft)."""
    tracks = []
    for lang in LANGUAGES:
        state = captions.state((recording.id, guid, lang))
        tracks.append(Track(lang) if state is None else
                      Track(lang, state.status, state.reviewed))
    return tuple(tracks)


def cues_of(captions: Captions, key: Key) -> list[Cue]:
    current = captions.current(key)
    return [] if current is None else list(current.cues)


def write_corrections(captions: Captions, settings: Settings,
                      sessions: list[tuple[Recording, str]], *,
                      rule: PublicationRule = DEFAULT_RULE) -> int:
    """Before a publish: write every human-corrected current version the rule lets out
    (`publication.text_goes_out`) over the speech stage's file where they differ (after a
    re-transcription, say). Returns how many files were written. Runs where the store's
    work runs (`StoreRunner.run`, off the event loop), its small file reads and writes
    with it."""
    written = 0
    for recording, guid in sessions:
        for track in tracks_of(captions, recording, guid):
            key = (recording.id, guid, track.lang)
            if not human_edited(captions, key) or not text_goes_out(rule, track):
                continue
            text = rendered_current(captions, key)
            path = vtt_path(settings, recording, guid, track.lang)
            if text is not None and read_source(path) != text:
                write_current_file(path, text)
                captions.set_source(key, digest(text))
                written += 1
    return written


def write_current_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
