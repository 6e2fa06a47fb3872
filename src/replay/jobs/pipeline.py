"""The pipeline tasks: ingest, probe, audio, speech map, cut plan, per session media and
speech, then publish. Each stage records an input key; a stage whose key and outputs are
already there is skipped, so running the same job twice redoes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import shutil
import threading
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from replay.domain.captions import CaptionStatus, with_glossary
from replay.domain.cues import format_cues, rules_for
from replay.domain.cutplan import (
    Cut,
    CutRules,
    Interval,
    covered_sessions,
    keep_organiser_moves,
    plan_cuts,
    whole_recording_cut,
)
from replay.domain.errors import MediaError, ReplayError
from replay.domain.keyframes import snap_to_keyframes
from replay.domain.ladder import (
    PassthroughRules,
    Rung,
    SourceVideo,
    choose_ladder,
    is_keyframe,
    passthrough_refusal,
    with_passthrough,
)
from replay.domain.model import Event
from replay.domain.podcast import PodcastOptions
from replay.domain.programme import HOTWORDS_LIMIT, programme_hotwords
from replay.domain.publication import (
    PublicationRule,
    Release,
    automatic_languages,
)
from replay.domain.stages import StageStatus
from replay.domain.transcript import Segment
from replay.domain.webvtt import render_webvtt
from replay.jobs.context import Context, StaleAttempt, WorkContext, discard
from replay.locale import _, ngettext
from replay.media import commands
from replay.media.ladder import encode_ladder
from replay.media.probe import MediaInfo, MediaInput
from replay.media.runner import run_ffmpeg
from replay.media.source import probe_source_video
from replay.media.timestamps import segment_start
from replay.services import admission, programmes
from replay.services.captions import default_options, human_edited, write_corrections
from replay.services.publication import (
    Candidate,
    candidates,
    find_sessions,
    mark_withdrawn,
    publication_rule,
    request_publication,
    session_for,
)
from replay.services.workdirs import AUDIO, SPEECH_MAP, recording_work_dir, session_work_dir
from replay.site.publish import SessionOutputs, publish_event, unpublish_session
from replay.speech.speechmap import detect_speech, read_wav_span
from replay.speech.transcriber import Transcription
from replay.store.captions import Captions
from replay.store.db import Recording, Store

log = logging.getLogger(__name__)

NBSP = "\u00a0"
LANGUAGES = {"fr": "Français", "en": "English"}
#: Stage input keys of an instant replay made from the live (`replay.live`): its media
#: and draft captions come from the live, and the full pass replaces them.
LIVE_STAGE_KEY = "live:"
WHOLE_RECORDING = "recording"
#: Changes when the speech stage's way of decoding does, so that sessions are redone.
SPEECH_ENGINE = "windows-shared-encoder-1"


@dataclass(frozen=True, slots=True)
class SessionResult:
    guid: str
    title: str
    slug: str
    start: float
    end: float
    published: bool


@dataclass(frozen=True, slots=True)
class JobSummary:
    event: str
    room: str
    recording_sha256: str
    duration: float
    sessions: tuple[SessionResult, ...]
    site: str | None

    def as_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)


# -- ingest -------------------------------------------------------------------------


async def ingest(ctx: WorkContext, source: Path, info: MediaInfo) -> tuple[str, Path]:
    """Copy the recording into the data directory, checksummed; never touch it again."""
    tracker = ctx.tracker("ingest", source.name).bind_loop()
    sha256, original = await asyncio.to_thread(
        _copy_with_digest, source, ctx.settings.originals_dir, tracker
    )
    await ctx.files.share(original, sha256)
    tracker.done()
    return sha256, original


async def local_original(ctx: WorkContext, recording: Recording) -> Recording:
    """`recording` as this machine reads it: its original fetched (once, checked) from the
    object store when it was admitted on another machine."""
    here = await ctx.files.original(
        recording.original, ctx.settings.originals_dir / recording.original.name,
        recording.sha256)
    return recording if here == recording.original else replace(recording, original=here)


def _copy_with_digest(
    source: Path, originals: Path, on_progress: Callable[[float], None]
) -> tuple[str, Path]:
    originals.mkdir(parents=True, exist_ok=True)
    size = source.stat().st_size or 1
    digest = hashlib.sha256()
    partial = originals / f".incoming-{os.getpid()}-{source.name[:40]}.partial"
    copied = 0
    try:
        with source.open("rb") as src, partial.open("wb") as dst:
            while block := src.read(4 << 20):
                digest.update(block)
                dst.write(block)
                copied += len(block)
                on_progress(copied / size)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    sha256 = digest.hexdigest()
    target = originals / f"{sha256}{source.suffix.lower()}"
    if target.exists():
        partial.unlink()
    else:
        partial.chmod(0o444)
        os.replace(partial, target)
    return sha256, target


# -- recording-level stages ---------------------------------------------------------


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:32]


async def run_stage(
    ctx: Context,
    recording: Recording,
    guid: str,
    stage: str,
    key: str,
    outputs: list[Path],
    work: Callable[[], Awaitable[None]],
) -> bool:
    """Run `work` unless this stage already finished with the same inputs.

    Returns True when the work ran. Bookkeeping is shielded from cancellation; a
    cancelled or superseded run leaves the stage as it is (`running`, not `done`).
    """
    state = await ctx.db.run(lambda store: store.stage(recording.id, guid, stage))
    if state and state.status is StageStatus.DONE and state.input_key == key and all(
        p.exists() for p in outputs
    ):
        ctx.progress.finished(stage, guid or recording.source_name, 0.0, True)
        return False
    await ctx.db.run(lambda store: store.set_stage(recording.id, guid, stage, input_key=key,
                                                   status=StageStatus.RUNNING))
    try:
        async with asyncio.timeout(ctx.settings.job_timeout):
            await work()
    except StaleAttempt:
        raise  # a newer attempt owns the stage's bookkeeping now
    except Exception as exc:
        reason = str(exc) or type(exc).__name__
        await asyncio.shield(_mark(ctx, recording, guid, stage, key, StageStatus.FAILED,
                                          reason))
        raise
    await asyncio.shield(_mark(ctx, recording, guid, stage, key, StageStatus.DONE, None))
    return True


async def _mark(ctx: Context, recording: Recording, guid: str, stage: str, key: str,
                status: StageStatus, error: str | None) -> None:
    await ctx.db.run(lambda store: store.set_stage(
        recording.id, guid, stage, input_key=key, status=status,
        progress=1.0 if status is StageStatus.DONE else 0.0, error=error))


def recording_dir(ctx: WorkContext, recording: Recording) -> Path:
    return recording_work_dir(ctx.settings, recording)


async def extract_audio(ctx: Context, recording: Recording, info: MediaInfo) -> Path:
    wav = recording_dir(ctx, recording) / AUDIO

    async def work() -> None:
        wav.parent.mkdir(parents=True, exist_ok=True)
        partial = ctx.scratch(wav)
        tracker = ctx.tracker("audio", "16 kHz")
        argv = commands.extract_audio_argv(recording.original, info, partial,
                                           threads=ctx.settings.cpu_threads)
        try:
            await run_ffmpeg(argv, expected_duration=info.duration, on_progress=tracker,
                             timeout=ctx.settings.job_timeout)
            await ctx.commit(partial, wav)
            await ctx.files.share(wav)  # for the speech jobs on other machines
        finally:
            discard(partial)
        tracker.done()

    await run_stage(ctx, recording, "", "audio", _key(recording.sha256), [wav], work)
    return wav


async def speech_map(ctx: Context, recording: Recording, wav: Path) -> list[Interval]:
    target = recording_dir(ctx, recording) / SPEECH_MAP

    async def work() -> None:
        tracker = ctx.tracker("speech map", "VAD").bind_loop()
        found = await asyncio.to_thread(detect_speech, wav, tracker)
        partial = ctx.scratch(target)
        try:
            _write_json(partial, [[i.start, i.end] for i in found])
            await ctx.commit(partial, target)
            await ctx.files.share(target)
        finally:
            discard(partial)
        tracker.done()

    await run_stage(ctx, recording, "", "speech_map", _key(recording.sha256), [target], work)
    return [Interval(a, b) for a, b in json.loads(target.read_text())]


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def cut_rules(ctx: Context) -> CutRules:
    s = ctx.settings
    return CutRules(s.snap_window_before, s.snap_window_after, s.min_speech_gap, s.cut_padding)


async def plan(ctx: Context, event: Event, recording: Recording, info: MediaInfo,
               speech: list[Interval]) -> list[Cut]:
    duration = info.duration
    sessions = event.sessions_in_room(recording.room)
    if covered_sessions(sessions, recording.started_at, duration):
        cuts = plan_cuts(sessions, recording_start=recording.started_at, duration=duration,
                         speech=speech, rules=cut_rules(ctx))
    else:
        title = f"{recording.room} — {recording.started_at:%d/%m/%Y %H:%M}"
        cuts = [whole_recording_cut(f"{WHOLE_RECORDING}-{recording.sha256[:12]}", title,
                                    speech, duration, cut_rules(ctx))]
    planned = await _on_keyframes(ctx, recording, info, cuts, speech)

    def save(store: Store) -> list[Cut]:
        with store.transaction():  # an organiser's move in between is kept, not lost
            kept = keep_organiser_moves(planned, store.load_cuts(recording.id), duration)
            store.save_cuts(recording.id, kept)
        return kept

    return await ctx.db.run(save)


async def _on_keyframes(ctx: Context, recording: Recording, info: MediaInfo, cuts: list[Cut],
                        speech: list[Interval]) -> list[Cut]:
    """The cuts moved onto source keyframes when the source's video can be copied as the
    top rung (a copied stream starts on a keyframe); unchanged otherwise."""
    source = await _source_video(ctx, recording, recording.original, info,
                                 [c.start for c in cuts])
    if source is None:
        return cuts
    top = choose_ladder(*info.display_size)[0]
    refusal = passthrough_refusal(source, top, passthrough_rules(ctx))
    if refusal is not None:
        log.info("%s: the top rung is encoded, not copied: %s", recording.source_name, refusal)
        return cuts
    return snap_to_keyframes(cuts, source.keyframes, speech)


async def _source_video(ctx: Context, recording: Recording, src: MediaInput, info: MediaInfo,
                        around: list[float]) -> SourceVideo | None:
    """The source's video details near ``around``, read from `src` (the original, or its
    address in the object store); None when passthrough is off, or the source cannot tell
    (then every rung is encoded, as before passthrough)."""
    if not (info.has_video and ctx.settings.ladder_passthrough):
        return None
    try:
        return await probe_source_video(src, info, around)
    except (MediaError, ValueError) as error:
        log.warning("%s: keyframes not read, every rung is encoded: %s",
                    recording.source_name, error)
        return None


def passthrough_rules(ctx: Context) -> PassthroughRules:
    return PassthroughRules(max_bitrate_ratio=ctx.settings.passthrough_max_bitrate_ratio)


# -- per-session stages ---------------------------------------------------------------


def session_dir(ctx: WorkContext, recording: Recording, cut: Cut) -> Path:
    return session_work_dir(ctx.settings, recording, cut.guid)


async def transcode_session(ctx: Context, recording: Recording, info: MediaInfo,
                            cut: Cut, *, source: MediaInput | None = None) -> None:
    """The session's ladder, download MP4, podcast M4A and poster, read from `source`
    (default: the original's path; a worker without the original passes its address in
    the object store, and only the session's span is requested)."""
    src = recording.original if source is None else source
    out = session_dir(ctx, recording, cut) / "media"
    rungs = choose_ladder(*info.display_size) if info.has_video else choose_ladder(0, 0)
    settings = ctx.settings
    key = _key(recording.sha256, cut.start, cut.end, rungs, settings.segment_seconds,
               settings.ladder_passthrough, passthrough_rules(ctx), commands.LADDER_REVISION)

    async def work() -> None:
        scratch = ctx.scratch(out)
        try:
            ladder = await _session_ladder(ctx, recording, src, info, cut, rungs)
            async with ctx.lanes.media:
                await _transcode(ctx, src, info, cut, ladder, scratch)
            await ctx.commit(scratch, out)
            await ctx.files.share(out)  # for the publish job
        finally:
            discard(scratch)

    await run_stage(ctx, recording, cut.guid, "media", key,
                    [out / "hls" / commands.MASTER_PLAYLIST, out / "replay.mp4",
                     out / "audio.m4a"], work)


async def _session_ladder(ctx: Context, recording: Recording, src: MediaInput,
                          info: MediaInfo, cut: Cut, rungs: list[Rung]) -> list[Rung]:
    """``rungs`` with the top one copied from the source when the source fits it and the
    session starts on one of its keyframes (see `_on_keyframes`)."""
    source = await _source_video(ctx, recording, src, info, [cut.start])
    if source is None or not is_keyframe(cut.start, source.keyframes):
        return rungs
    return with_passthrough(rungs, source, passthrough_rules(ctx))


async def _transcode(ctx: Context, src: MediaInput, info: MediaInfo, cut: Cut,
                     ladder: list[Rung], scratch: Path) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "hls").mkdir(parents=True)
    # Every core, not the media lane's share: ffmpeg 5.1 runs a ladder's encoders one after
    # the other in one thread, so with one thread it could never use a core that speech
    # leaves idle, and the ladder (the longer lane) set the pace (bench/RESULTS.md).
    threads = ctx.settings.cpu_threads
    tracker = ctx.tracker("transcode", cut.title)
    await encode_ladder(src, info, start=cut.start, duration=cut.duration, rungs=ladder,
                        out_dir=scratch / "hls", segment_seconds=ctx.settings.segment_seconds,
                        threads=threads, on_progress=tracker,
                        timeout=ctx.settings.job_timeout)
    first_segment = scratch / "hls" / ladder[0].name / "seg_00000.ts"
    (scratch / "hls" / "start_time.txt").write_text(str(await segment_start(first_segment)))
    download = next((r for r in ladder if not r.is_audio_only and r.height <= 720), ladder[0])
    await run_ffmpeg(commands.mp4_from_hls_argv(
        scratch / "hls" / download.name / commands.VARIANT_PLAYLIST, scratch / "replay.mp4"),
        timeout=ctx.settings.job_timeout)
    audio = next(r for r in ladder if r.is_audio_only)
    await run_ffmpeg(commands.m4a_from_hls_argv(
        scratch / "hls" / audio.name / commands.VARIANT_PLAYLIST, scratch / "audio.m4a"),
        timeout=ctx.settings.job_timeout)
    if info.has_video:
        await run_ffmpeg(commands.poster_argv(
            src, info, at=cut.start + min(30.0, cut.duration / 3),
            dst_jpg=scratch / "poster.jpg"), timeout=ctx.settings.job_timeout)
    tracker.done()


async def transcribe_session(ctx: Context, event: Event, recording: Recording, wav: Path,
                             cut: Cut) -> None:
    out = session_dir(ctx, recording, cut) / "speech"
    sessions = [s for s in event.sessions if s.guid == cut.guid]
    glossary = await ctx.db.run(lambda store: Captions(store.db).options(
        event.slug, default_options(ctx.settings)).glossary)
    hotwords = with_glossary(glossary, programme_hotwords(event, sessions or None),
                             HOTWORDS_LIMIT)
    settings = ctx.settings
    key = _key(recording.sha256, cut.start, cut.end, hotwords, settings.whisper_model,
               settings.effective_translate_model, settings.whisper_beam_size,
               settings.whisper_temperature_fallback, settings.whisper_previous_text,
               SPEECH_ENGINE)
    outputs = [out / name for name in ("subtitles.fr.vtt", "subtitles.en.vtt",
                                        "transcript.fr.txt", "transcript.fr.json")]

    async def work() -> None:
        async with ctx.lanes.speech:
            audio = await asyncio.to_thread(read_wav_span, wav, cut.start, cut.end)
            speech = await _whisper(ctx, audio, hotwords, cut.title)
        scratch = ctx.scratch(out)
        try:
            await asyncio.to_thread(_write_speech_outputs, scratch, speech.spoken,
                                    speech.english)
            await ctx.commit(scratch, out)
            await ctx.files.share(out)  # for the publish job
        finally:
            discard(scratch)

    await run_stage(ctx, recording, cut.guid, "speech", key, outputs, work)


class TranscriptionAbandoned(Exception):
    """Raised inside Whisper's thread when the job awaiting it was cancelled."""


async def _whisper(ctx: Context, audio: np.ndarray, hotwords: str | None,
                   label: str) -> Transcription:
    """French and its English translation, window by window (one encoder pass each)."""
    trackers = [ctx.tracker(stage, label).bind_loop()
                for stage in ("transcribe fr", "translate en")]

    abandoned = threading.Event()

    def on_progress(fraction: float) -> None:
        # A thread cannot be cancelled: a job cancelled (its timeout, a shutdown) would
        # leave Whisper running to the end and taking the cores. It stops at its next window.
        if abandoned.is_set():
            raise TranscriptionAbandoned
        for tracker in trackers:
            tracker(fraction)

    try:
        speech = await asyncio.to_thread(
            ctx.transcriber.transcribe_and_translate, audio, language="fr",
            hotwords=hotwords, on_progress=on_progress)
    except asyncio.CancelledError:
        abandoned.set()
        raise
    for tracker in trackers:
        tracker.done()
    return speech


def _write_speech_outputs(scratch: Path, french: list[Segment],
                          english: list[Segment]) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    for language, segments in (("fr", french), ("en", english)):
        cues = format_cues(segments, rules_for(language))
        (scratch / f"subtitles.{language}.vtt").write_text(render_webvtt(cues), encoding="utf-8")
    (scratch / "transcript.fr.txt").write_text(transcript_text(french), encoding="utf-8")
    (scratch / "transcript.fr.json").write_text(transcript_json(french), encoding="utf-8")


def transcript_text(segments: list[Segment]) -> str:
    return "\n".join(s.text for s in segments if s.text) + "\n"


def transcript_json(segments: list[Segment]) -> str:
    data = {
        "language": "fr",
        "segments": [
            {"start": s.start, "end": s.end, "text": s.text,
             "words": [{"start": w.start, "end": w.end, "word": w.text.strip(),
                        "probability": w.probability} for w in s.words]}
            for s in segments
        ],
    }
    return json.dumps(data, ensure_ascii=False, indent=1)


# -- the whole job -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProcessRequest:
    source: Path
    event: Event
    room: str
    started_at: datetime | None
    review: bool = False


async def admit(ctx: WorkContext, request: ProcessRequest) -> tuple[Recording, MediaInfo]:
    """The admission rule (`services.admission`: refused before anything is kept), then
    the programme imported and the recording copied in, checksummed, and recorded."""
    submission = admission.Submission(request.source, request.event, request.room,
                                      request.started_at, request.source.name)

    async def keep(info: MediaInfo) -> tuple[str, Path]:
        await ctx.db.run(lambda store: programmes.import_programme(store, request.event,
                                                                   apply=True))
        return await ingest(ctx, request.source, info)

    return await admission.admit_recording(ctx.db, submission, keep)


async def analyse(ctx: Context, event: Event, recording: Recording,
                  info: MediaInfo) -> list[Cut]:
    """The recording-level stages: audio, speech map, then the cut plan."""
    wav = await extract_audio(ctx, recording, info)
    speech = await speech_map(ctx, recording, wav)
    return await plan(ctx, event, recording, info, speech)


async def process(ctx: Context, request: ProcessRequest) -> JobSummary:
    """Run the whole pipeline for one recording of one room."""
    recording, info = await admit(ctx, request)
    wav = recording_dir(ctx, recording) / AUDIO
    cuts = await analyse(ctx, request.event, recording, info)
    outcomes = await asyncio.gather(
        *(_session_work(ctx, request.event, recording, info, wav, cut) for cut in cuts),
        return_exceptions=True)
    failures = _failures(cuts, outcomes)
    site = None
    if not request.review:  # the organiser's command is the decision to publish
        site = await publish(ctx, request.event, decided=[cut.guid for cut in cuts])
    if failures:
        raise ReplayError(ngettext(
            "{n} session out of {total} failed ({failures}); the others are processed. Fix the "
            "cause and run the same command again: the finished work is kept.",
            "{n} sessions out of {total} failed ({failures}); the others are processed. Fix the "
            "cause and run the same command again: the finished work is kept.",
            len(failures)).format(n=len(failures), total=len(cuts),
                                  failures=f"{NBSP}; ".join(failures)))
    return _summary(request, recording, info, cuts, published=not request.review, site=site)


def _failures(cuts: list[Cut], outcomes: list[BaseException | None]) -> list[str]:
    failures = []
    for cut, outcome in zip(cuts, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, Exception):
                raise outcome
            log.error("session %s failed", cut.guid, exc_info=outcome)
            reason = str(outcome).splitlines()[0] if str(outcome) else type(outcome).__name__
            failures.append(_("“{title}”: {reason}").format(title=cut.title, reason=reason))
    return failures


async def _session_work(ctx: Context, event: Event, recording: Recording, info: MediaInfo,
                        wav: Path, cut: Cut) -> None:
    """Media and speech side by side; when one fails, the other still finishes (a re-run
    redoes only what failed, and no orphan keeps writing into a later run's scratch)."""
    outcomes = await asyncio.gather(
        transcode_session(ctx, recording, info, cut),
        transcribe_session(ctx, event, recording, wav, cut),
        return_exceptions=True,
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


UNPUBLISHED = Release.WITHDRAWN.value


async def publish(ctx: WorkContext, event: Event, *, decided: Collection[str] = (),
                  republish: Collection[str] = ()) -> str:
    """Publish the event's sessions that `publication.decide` lets out, then its index.

    `decided` names (by guid or slug) sessions an organiser decided to publish now, as
    `replay process` does for its recording's: the rule no longer holds them, but one
    withdrawn with `unpublish` stays down unless it is also in `republish`. Human caption
    corrections the rule lets out are written over the speech stage's files first.
    """
    chosen = await ctx.db.run(lambda store: _choose(ctx, store, event, decided, republish))
    await _fetch_outputs(ctx, chosen.ready)
    todo = await ctx.db.run(lambda store: _to_publish(ctx, store, event, chosen))
    tracker = ctx.tracker("publish", event.slug)
    await ctx.ensure_current()
    await publish_event(ctx.objects, event, todo.outputs, drafts=ctx.settings.publish_drafts,
                        on_progress=tracker, base_url=ctx.settings.public_url,
                        podcast=todo.podcast)
    await ctx.db.run(lambda store: _released(store, chosen.ready))
    await _delete_withdrawn(ctx, event, chosen.found, chosen.ready)
    tracker.done()
    return event.slug


@dataclass(frozen=True, slots=True)
class _Publication:
    outputs: list[SessionOutputs]
    podcast: PodcastOptions


@dataclass(frozen=True, slots=True)
class _Chosen:
    rule: PublicationRule
    found: list[Candidate]
    ready: list[Candidate]


def _choose(ctx: WorkContext, store: Store, event: Event, decided: Collection[str],
            republish: Collection[str]) -> _Chosen:
    """The organiser's decisions recorded, then the sessions the rule lets out (on the
    store's side, in one go)."""
    captions = Captions(store.db)
    rule = publication_rule(captions, ctx.settings, event.slug)
    for item in candidates(store, captions, event, rule):
        names = {item.cut.guid, item.session.slug}
        withdrawn = item.facts.release is Release.WITHDRAWN
        if names & set(republish) or (names & set(decided) and not withdrawn):
            request_publication(store, item.recording, item.cut.guid)
    found = candidates(store, captions, event, rule)
    return _Chosen(rule, found, [item for item in found if item.decision.publish])


def _to_publish(ctx: WorkContext, store: Store, event: Event, chosen: _Chosen) -> _Publication:
    """`publish`'s store work before the upload, once the session folders are here: the
    corrected caption files written over the speech stage's, and what the site shows."""
    captions = Captions(store.db)
    write_corrections(captions, ctx.settings,
                      [(c.recording, c.cut.guid) for c in chosen.ready], rule=chosen.rule)
    outputs = [
        SessionOutputs(cut=item.cut, room=item.recording.room, session=item.session,
                       media_dir=session_dir(ctx, item.recording, item.cut) / "media",
                       speech_dir=session_dir(ctx, item.recording, item.cut) / "speech",
                       automatic_languages=automatic_languages(item.facts.tracks),
                       captions_edited=human_edited(captions, (item.recording.id,
                                                               item.cut.guid, "fr")),
                       live_replay=_from_live(store, item.recording, item.cut),
                       chapters=captions.chapters(item.recording.id, item.cut.guid))
        for item in chosen.ready
    ]
    podcast = captions.options(event.slug, default_options(ctx.settings)).podcast
    return _Publication(outputs, podcast)


async def _fetch_outputs(ctx: WorkContext, ready: Sequence[Candidate]) -> None:
    """The session folders made on other machines, fetched here (those already here with
    the same contents are not)."""
    for item in ready:
        folder = session_dir(ctx, item.recording, item.cut)
        for part in ("media", "speech"):
            await ctx.files.fetch(folder / part)


async def _delete_withdrawn(ctx: WorkContext, event: Event, found: Sequence[Candidate],
                            ready: Sequence[Candidate]) -> list[str]:
    """Delete the objects of withdrawn sessions, now that the index no longer links to
    them (a slug another recording publishes is kept). Already deleted: nothing to do."""
    out = {item.session.slug for item in ready}
    slugs = sorted({item.session.slug for item in found
                    if item.facts.release is Release.WITHDRAWN} - out)
    if slugs:
        await ctx.ensure_current()
    for slug in slugs:
        await unpublish_session(ctx.objects, event, slug)
    return slugs


def _released(store: Store, ready: Sequence[Candidate]) -> None:
    captions = Captions(store.db)
    with store.transaction():
        for item in ready:
            store.set_stage(item.recording.id, item.cut.guid, "publish", input_key="",
                            status=Release.RELEASED, progress=1.0)
            for track in item.facts.tracks:
                if track.status is CaptionStatus.VALIDE:
                    captions.set_status((item.recording.id, item.cut.guid, track.lang),
                                        CaptionStatus.PUBLIE)


async def unpublish(ctx: WorkContext, event: Event, guid_or_slug: str) -> list[str]:
    """Take a session down now (`replay unpublish`): mark it withdrawn, publish the index
    without it, then delete its objects. Returns the slugs taken down."""
    found = await ctx.db.run(lambda store: find_sessions(store, event, guid_or_slug))
    return await withdraw(ctx, event, found)


async def withdraw(ctx: WorkContext, event: Event, found: list[tuple[Recording, Cut]]) -> list[str]:
    """Mark these sessions withdrawn, then publish: the index without them, then their
    objects deleted (`_delete_withdrawn`)."""
    await ctx.db.run(lambda store: mark_withdrawn(store, found))
    await publish(ctx, event)
    return sorted({session_for(event, cut, recording).slug for recording, cut in found})


def _from_live(store: Store, recording: Recording, cut: Cut) -> bool:
    state = store.stage(recording.id, cut.guid, "media")
    return state is not None and state.input_key.startswith(LIVE_STAGE_KEY)


def _summary(request: ProcessRequest, recording: Recording, info: MediaInfo, cuts: list[Cut],
             *, published: bool, site: str | None) -> JobSummary:
    results = tuple(
        SessionResult(cut.guid, cut.title, session_for(request.event, cut, recording).slug,
                      cut.start, cut.end, published)
        for cut in cuts)
    return JobSummary(request.event.slug, request.room, recording.sha256, info.duration,
                      results, site)
