"""The pipeline with real ffmpeg on a small generated recording and a scripted transcriber:
a failing session does not stop the others, and a re-run finishes only what is missing.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from replay.domain.captions import CaptionStatus
from replay.domain.cutplan import move_boundary
from replay.domain.errors import ReplayError
from replay.domain.programme import parse_programme
from replay.domain.transcript import Cue, Segment, Word
from replay.jobs.context import Context, Lanes
from replay.jobs.pipeline import ProcessRequest, process, publish
from replay.sample import SampleTruth
from replay.services.captions import sync_from_file
from replay.settings import Settings
from replay.speech.transcriber import FakeTranscriber, Task
from replay.storage.local import LocalDirectoryStore
from replay.store.captions import Author, Captions
from replay.store.db import Store
from replay.store.ports import InPlace

pytestmark = pytest.mark.slow

SCRIPT: dict[Task, Sequence[Segment]] = {
    "transcribe": [Segment(0.5, 2.0, "Bonjour à tous.", (
        Word(0.5, 1.0, " Bonjour", 0.9), Word(1.0, 1.4, " à", 0.8), Word(1.4, 2.0, " tous.", 0.4),
    ))],
    "translate": [Segment(0.5, 2.0, "Hello everyone.")],
}


@dataclass
class FailingOnce(FakeTranscriber):
    """Fails the translation of audio longer than `threshold` samples, once."""

    fail_when: Callable[[int], bool] = field(default=lambda n: False)
    failed: bool = False

    def transcribe(self, audio: np.ndarray, *, task: Task, language: str,
                   hotwords: str | None = None,
                   on_progress: Callable[[float], None] | None = None) -> list[Segment]:
        if task == "translate" and not self.failed and self.fail_when(len(audio)):
            self.failed = True
            raise RuntimeError("speech model crashed")
        return super().transcribe(audio, task=task, language=language, hotwords=hotwords,
                                  on_progress=on_progress)


def context(data_dir: Path, transcriber: FakeTranscriber) -> Context:
    """The pipeline as `replay process` runs it: the store's work in place (`InPlace`)."""
    settings = Settings(data_dir=data_dir, cpu_threads=2)
    return Context(settings=settings, db=InPlace(Store.open(settings.database_path)),
                   objects=LocalDirectoryStore(settings.site_dir), transcriber=transcriber,
                   lanes=Lanes.for_threads(2))


def store_of(ctx: Context) -> Store:
    assert isinstance(ctx.db, InPlace)
    return ctx.db.store


def request(sample: SampleTruth) -> ProcessRequest:
    return ProcessRequest(sample.recording, parse_programme(sample.schedule.read_bytes()),
                          sample.room, None)


def published_guids(data_dir: Path) -> list[str]:
    replays = json.loads((data_dir / "site" / "demo-mission-villes" / "replays.json")
                         .read_text(encoding="utf-8"))["replays"]
    return [entry["guid"] for entry in replays]


async def test_a_failing_session_does_not_stop_the_others(sample: SampleTruth,
                                                           tmp_path: Path) -> None:
    first_guid, second_guid = (s.guid for s in sample.sessions)
    failing = FailingOnce(script=SCRIPT, fail_when=lambda n: True)
    ctx = context(tmp_path, failing)
    with pytest.raises(ReplayError, match=r"1 séance sur 2 en échec.*speech model crashed"):
        await process(ctx, request(sample))
    assert len(published_guids(tmp_path)) == 1
    failed = [s for s in store_of(ctx).stages_of(1) if s.status == "failed"]
    assert [(s.stage, s.error) for s in failed] == [("speech", "speech model crashed")]

    again = FakeTranscriber(script=SCRIPT)
    summary = await process(context(tmp_path, again), request(sample))
    assert sorted(published_guids(tmp_path)) == sorted([first_guid, second_guid])
    assert [r.guid for r in summary.sessions] == [first_guid, second_guid]
    assert [call[0] for call in again.calls] == ["transcribe", "translate"], (
        "only the failed session's speech is redone")


async def test_breaks_are_never_transcribed_and_hotwords_come_from_the_programme(
    sample: SampleTruth, tmp_path: Path
) -> None:
    transcriber = FakeTranscriber(script=SCRIPT)
    summary = await process(context(tmp_path, transcriber), request(sample))
    assert len(summary.sessions) == 2
    transcribed = [call for call in transcriber.calls if call[0] == "transcribe"]
    assert len(transcribed) == 2
    assert all("Camille Martin" in (call[2] or "") for call in transcribed)
    longest_cut = max(r.end - r.start for r in summary.sessions)
    assert all(call[3] <= (longest_cut + 0.01) * 16000 for call in transcriber.calls)
    site = tmp_path / "site" / "demo-mission-villes"
    vtt = (site / "demo-0" / "subtitles.fr.vtt").read_text(encoding="utf-8")
    assert "Bonjour à tous." in vtt
    words = json.loads((site / "demo-0" / "transcript.fr.json").read_text())["segments"][0]
    assert [w["word"] for w in words["words"]] == ["Bonjour", "à", "tous."]
    assert words["words"][2]["probability"] == 0.4


async def test_a_corrected_and_validated_session_is_published_without_the_draft_label(
    sample: SampleTruth, tmp_path: Path
) -> None:
    ctx = context(tmp_path, FakeTranscriber(script=SCRIPT))
    summary = await process(ctx, request(sample))
    first, second = (r.guid for r in summary.sessions)
    captions = Captions(store_of(ctx).db)
    key = (1, first, "fr")
    vtt = tmp_path / "work"
    source = next(vtt.rglob(f"sessions/{first}/speech/subtitles.fr.vtt")).read_text("utf-8")
    sync_from_file(captions, key, source)
    current = captions.current(key)
    assert current is not None
    corrected = [Cue(0.5, 2.0, ("Bonjour à toutes et à tous.",))]
    captions.save(key, corrected, Author("Édith", 7), expected=current.version,
                  status=CaptionStatus.VALIDE)
    await publish(ctx, request(sample).event)

    site = tmp_path / "site" / "demo-mission-villes"
    pages = {slug: (site / slug / "index.html").read_text("utf-8")
             for slug in ("demo-0", "demo-1")}
    assert "Sous-titres générés automatiquement" not in pages["demo-0"]
    assert "Sous-titres générés automatiquement" in pages["demo-1"]
    assert "Bonjour à toutes et à tous." in (site / "demo-0" / "subtitles.fr.vtt").read_text()
    entries = {e["guid"]: e for e in json.loads((site / "replays.json").read_text())["replays"]}
    assert (entries[first]["captions"], entries[second]["captions"]) == ("reviewed", "automatic")


async def test_planning_again_keeps_a_boundary_the_organiser_moved(
    sample: SampleTruth, tmp_path: Path
) -> None:
    ctx = context(tmp_path, FakeTranscriber(script=SCRIPT))
    summary = await process(ctx, request(sample))
    planned = store_of(ctx).load_cuts(1)
    first = summary.sessions[0]
    moved = move_boundary(planned, first.guid, start=first.start + 3.0, end=None,
                          duration=summary.duration)
    store_of(ctx).save_cuts(1, moved)
    await process(ctx, request(sample))  # a retry or re-run plans the recording again
    assert store_of(ctx).load_cuts(1) == moved


def ffprobe_json(*args: str) -> dict[str, Any]:
    result = subprocess.run(["ffprobe", "-v", "error", "-protocol_whitelist", "file",
                             "-print_format", "json", *args],
                            capture_output=True, text=True, check=True, timeout=60)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


async def test_sessions_start_on_source_keyframes_and_copy_the_top_rung(
    sample: SampleTruth, tmp_path: Path
) -> None:
    """The sample has a keyframe every 2 s: each cut moves back onto one (by less than a
    GOP), and the top rung is the source's own H.264 stream, not an encode."""
    ctx = context(tmp_path, FakeTranscriber(script=SCRIPT))
    summary = await process(ctx, request(sample))

    for result, truth in zip(summary.sessions, sample.sessions, strict=True):
        assert result.start % 2.0 == pytest.approx(0.0, abs=0.001), result.start
        assert truth.speech_start - 5 <= result.start < truth.speech_start
    source = (await asyncio.to_thread(
        ffprobe_json, "-select_streams", "v:0", "-show_entries", "stream=profile",
        str(sample.recording)))["streams"][0]["profile"]
    tops = await asyncio.to_thread(top_rungs, tmp_path)
    assert tops == [(source, 320, 180)] * 2


def top_rungs(data_dir: Path) -> list[tuple[str, int, int]]:
    """(profile, width, height) of every session's top rung."""
    found = []
    for playlist in sorted(data_dir.rglob("sessions/*/media/hls/180p/index.m3u8")):
        stream = ffprobe_json("-f", "hls", "-select_streams", "v:0", "-show_entries",
                              "stream=profile,width,height", str(playlist))["streams"][0]
        found.append((stream["profile"], stream["width"], stream["height"]))
    return found
