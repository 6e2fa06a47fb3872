"""The live ingest of `replay serve`: nginx (RTMP), one SRT listener per room, a take per
publish, the programme watch (instant replays, archive stretches) and each room's status.

Started and stopped by the app's `cleanup_ctx` (`replay.live.web.setup_live`). Every
child process dies with the service (`media.runner`), so a restart after SIGKILL finds
its ports free; `recover` then ends the takes the killed process left open, collecting
what their ffmpeg had finished, and the next publish continues the day's playlists.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from replay.domain.errors import ReplayError
from replay.domain.ladder import Rung
from replay.domain.model import Event, Session
from replay.live import bridge
from replay.live.commands import (
    ARCHIVE,
    LivePlan,
    parse_stream_probe,
    plan_ladder,
    probe_stream_argv,
    srt_listen_url,
    srt_relay_argv,
)
from replay.live.instant import LiveDeps, close_stretch, instant_replay, take_clock
from replay.live.nginx import NginxConfig, nginx_argv, nginx_config, pull_url
from replay.live.publisher import RoomDay, RoomPublisher
from replay.live.replay import DraftCaptions, audio_rung, download_rung
from replay.live.room_captions import live_window_segments
from replay.live.speech import LiveSpeechMap
from replay.live.status import (
    LivePage,
    publish_live_page,
    publish_room_status,
    publish_rooms,
)
from replay.live.store import LiveStore, StreamKey, Take
from replay.live.take import (
    PCM_FILE,
    SPEECH_FILE,
    Finished,
    TakeListener,
    TakeRun,
    heard,
    mpegts_origin,
)
from replay.live.timeline import EndRules, contiguous, last_speech_end, session_over
from replay.media.runner import FfmpegFailed, run_capture, run_ffmpeg_streaming
from replay.settings import Settings

log = logging.getLogger(__name__)

PLAN_FILE = "plan.json"
#: Seconds between two looks at the programme (session ends, status).
WATCH_EVERY = 2.0
PROBE_TIMEOUT = 20.0
RESTART_DELAY = 1.0
#: libsrt's one line per refused handshake (others repeat it).
SRT_REFUSAL = "rsp(REJECT)"
FOREVER = 10 * 365 * 86400.0
#: Seconds a take goes on after its publisher left, to finish what ffmpeg had buffered.
DRAIN_SECONDS = 4.0


@dataclass
class Room:
    key: StreamKey
    take: Take | None = None
    take_task: asyncio.Task[None] | None = None
    plan: LivePlan | None = None
    off_air_since: datetime | None = None
    publisher: RoomPublisher | None = None
    relay: asyncio.Task[None] | None = None
    busy: bool = False
    draining: asyncio.Task[None] | None = None


def _save_plan(folder: Path, plan: LivePlan) -> None:
    (folder / PLAN_FILE).write_text(json.dumps(
        {"copy_top": plan.copy_top, "rungs": [asdict(r) for r in plan.rungs]}))


def load_plan(folder: Path) -> LivePlan | None:
    path = folder / PLAN_FILE
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return LivePlan(tuple(Rung(**r) for r in data["rungs"]), bool(data["copy_top"]))


@dataclass
class LiveSupervisor:
    deps: LiveDeps
    listeners: list[TakeListener] = field(default_factory=list)
    rooms: dict[tuple[str, str], Room] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    hook_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    nginx: asyncio.Task[None] | None = None
    subtitles: tuple[tuple[str, str, str], ...] = ()
    #: The live pages must be published again (a key was issued).
    pages_due: bool = False
    #: Takes whose local segment files were pruned (off air, every session replayed).
    pruned: set[int] = field(default_factory=set)
    #: How the live pages play (None: the video's own delay, no captions panel).
    page: LivePage | None = None
    #: Seconds a room's subtitle segments last waited for their captions, if any.
    caption_wait: Callable[[str, str], float | None] | None = None

    @property
    def settings(self) -> Settings:
        return self.deps.settings

    def attach(self, *, listener: TakeListener | None = None,
               drafts: DraftCaptions | None = None,
               subtitles: tuple[tuple[str, str, str], ...] = (),
               page: LivePage | None = None,
               caption_wait: Callable[[str, str], float | None] | None = None) -> None:
        """Where the live captions plug in: a listener of every take (its PCM, its
        segments), the function giving an instant replay its draft captions, the
        subtitle renditions of the master playlists, (language, name, URI relative to
        the day's folder, e.g. "subtitles/fr/live.m3u8"), the first one the default,
        the live pages' player delay and transcript panel, and the measured wait of the
        captions (which lengthens the delay of players that join)."""
        if listener is not None:
            self.listeners.append(listener)
        if drafts is not None:
            self.deps = replace(self.deps, drafts=drafts)
        if subtitles:
            self.subtitles = subtitles
        if page is not None:
            self.page = page
        if caption_wait is not None:
            self.caption_wait = caption_wait

    @property
    def live_page(self) -> LivePage:
        return self.page or LivePage(self.settings.live_player_delay)

    def player_delay(self, event_slug: str, room: str) -> float:
        """The live delay for a player joining now: the page's, or longer when the
        room's captions are late (their wait, then a segment, the reloads of both
        playlists and a margin)."""
        delay = self.live_page.player_delay
        wait = self.caption_wait(event_slug, room) if self.caption_wait else None
        if wait is None:
            return delay
        segment = self.settings.live_segment_seconds
        return float(max(delay, round(wait + 2 * segment + 2)))

    # -- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        self.deps.settings.live_dir.mkdir(parents=True, exist_ok=True)
        await self.recover()
        for key in await self.deps.live.run(LiveStore.all_keys):
            self.rooms[(key.event_slug, key.room)] = Room(key)
        self.tasks.append(asyncio.create_task(self._watch(), name="live-watch"))
        for room in self.rooms.values():
            self._start_relay(room)

    def _ensure_nginx(self) -> None:
        """nginx starts with the first stream key: a service without a live binds no
        RTMP port."""
        if self.nginx is None:
            self.nginx = asyncio.create_task(self._nginx(), name="live-nginx")
            self.tasks.append(self.nginx)

    async def stop(self) -> None:
        running = [*self.tasks, *(r.take_task for r in self.rooms.values() if r.take_task),
                   *(r.relay for r in self.rooms.values() if r.relay)]
        for task in running:
            task.cancel()
        for outcome in await asyncio.gather(*running, return_exceptions=True):
            if isinstance(outcome, Exception):
                log.error("live: a task ended with an error", exc_info=outcome)

    def hook_base(self) -> str:
        host = self.settings.host if self.settings.host not in ("0.0.0.0", "::", "") \
            else "127.0.0.1"
        return f"http://{host}:{self.settings.port}/live/hooks/{self.hook_secret}"

    async def _nginx(self) -> None:
        prefix = self.settings.live_dir / "nginx"
        prefix.mkdir(parents=True, exist_ok=True)
        conf = prefix / "nginx.conf"
        conf.write_text(nginx_config(NginxConfig(
            self.settings.live_listen_host, self.settings.live_rtmp_port, self.hook_base(),
            prefix.resolve(), self.settings.nginx_rtmp_module)))
        argv = nginx_argv(self.settings.nginx_binary, conf.resolve(), prefix.resolve())
        while True:
            try:
                await run_ffmpeg_streaming(argv, on_output=_ignore, timeout=FOREVER,
                                           on_stderr=lambda line: log.warning("nginx: %s", line))
            except FileNotFoundError:
                log.error("live: %s not found; install nginx-light and libnginx-mod-rtmp "
                          "(scripts/setup.sh). The RTMP ingest is off.",
                          self.settings.nginx_binary)
                return
            except FfmpegFailed as failure:
                log.error("live: nginx stopped: %s", failure)
            await asyncio.sleep(RESTART_DELAY * 5)

    # -- keys --------------------------------------------------------------------------

    def key_changed(self, key: StreamKey) -> None:
        """A key was issued, regenerated or revoked: the SRT listener takes the new
        passphrase, and a take published with a revoked key stops."""
        room = self.rooms.get((key.event_slug, key.room))
        if room is None:
            room = self.rooms[(key.event_slug, key.room)] = Room(key)
        room.key = key
        self.pages_due = True
        if room.relay is not None:
            room.relay.cancel()
            room.relay = None
        if key.revoked and room.take_task is not None:
            room.take_task.cancel()
        self._start_relay(room)

    def _start_relay(self, room: Room) -> None:
        if room.key.revoked or room.relay is not None:
            return
        self._ensure_nginx()
        room.relay = asyncio.create_task(self._relay(room), name=f"live-srt-{room.key.room}")

    async def _relay(self, room: Room) -> None:
        key = room.key
        listen = srt_listen_url(self.settings.live_listen_host, key.srt_port,
                                key.srt_passphrase)
        relay = f"{pull_url(self.settings.live_rtmp_port, key.stream_key)}?via=srt"
        argv = srt_relay_argv(listen, relay)

        def said(line: str) -> None:
            if SRT_REFUSAL in line:
                log.warning("live: SRT publisher refused for %s, room %s (wrong passphrase); "
                            "peer address: not reported by libsrt", key.event_slug, key.room)

        while True:
            try:
                await run_ffmpeg_streaming(argv, on_output=_ignore, on_stderr=said,
                                           timeout=FOREVER)
            except FfmpegFailed as failure:
                log.debug("live: SRT listener of %s ended: %s", key.room, failure.summary)
            await asyncio.sleep(RESTART_DELAY)

    # -- publish hooks (nginx) -----------------------------------------------------------

    async def check_publish(self, name: str, peer: str) -> StreamKey | None:
        """The key's room if it may publish now; None refuses it (and logs why)."""
        key = await self.deps.live.run(lambda live: live.find_key(name))
        if key is None:
            log.warning("live: publisher refused from %s: unknown stream key", peer)
            return None
        if key.revoked:
            log.warning("live: publisher refused for %s, room %s, from %s: revoked key",
                        key.event_slug, key.room, peer)
            return None
        room = self.rooms.get((key.event_slug, key.room))
        draining = room.draining if room is not None else None
        if room is not None and draining is not None:
            draining.cancel()  # the publisher is back before the last take drained
            room.draining = None
        if room is not None and room.take_task is not None and not room.take_task.done() \
                and room.take_task is not draining:
            log.warning("live: publisher refused for %s, room %s, from %s: the room is "
                        "already on air", key.event_slug, key.room, peer)
            return None
        return key

    def publish_started(self, key: StreamKey, peer: str, protocol: str) -> None:
        room = self.rooms.setdefault((key.event_slug, key.room), Room(key))
        log.info("live: %s, room %s on air (%s from %s)", key.event_slug, key.room,
                 protocol, peer)
        room.take_task = asyncio.create_task(self._take(room, protocol, peer),
                                             name=f"live-take-{key.room}")

    async def publish_done(self, name: str) -> None:
        """The publisher left. nginx keeps our reader waiting on the idle stream, so the
        take is stopped, once ffmpeg has had the time to finish what it had buffered."""
        key = await self.deps.live.run(lambda live: live.find_key(name))
        room = self.rooms.get((key.event_slug, key.room)) if key else None
        if room is not None and room.take_task is not None:
            task = room.take_task
            room.draining = task
            asyncio.get_running_loop().call_later(DRAIN_SECONDS, task.cancel)

    async def still_valid(self, name: str) -> bool:
        key = await self.deps.live.run(lambda live: live.find_key(name))
        return key is not None and not key.revoked

    # -- a take ---------------------------------------------------------------------------

    async def _take(self, room: Room, protocol: str, peer: str) -> None:
        published_at = datetime.now(UTC)
        key = room.key
        event = await self.deps.event(key.event_slug)
        if event is None:
            log.error("live: event %s does not exist any more", key.event_slug)
            return
        url = pull_url(self.settings.live_rtmp_port, key.stream_key)
        try:
            source = parse_stream_probe(await run_capture(probe_stream_argv(url),
                                                          timeout=PROBE_TIMEOUT))
            if not source.has_audio:
                raise ReplayError("the stream has no sound")
        except (FfmpegFailed, ReplayError, ValueError) as failure:
            log.error("live: cannot read the stream of room %s: %s", key.room, failure)
            return
        await self._run_take(room, event, protocol, peer, url, plan_ladder(source),
                             published_at)

    async def _run_take(self, room: Room, event: Event, protocol: str, peer: str, url: str,
                        plan: LivePlan, published_at: datetime) -> None:
        key = room.key
        now = datetime.now(UTC)
        day = now.astimezone(ZoneInfo(event.timezone)).date().isoformat()
        folder = (self.settings.live_dir / key.event_slug /
                  f"{day}-{now:%H%M%S}-{secrets.token_hex(3)}").resolve()
        folder.mkdir(parents=True)
        _save_plan(folder, plan)
        room.plan, room.off_air_since = plan, None
        publisher = self._publisher(room, RoomDay(key.event_slug, key.room, day), plan)
        await publisher.publish_masters(plan.rungs, self.subtitles)
        sessions = bridge.room_sessions(event, key.room)
        run = TakeRun(
            url, plan, folder, self.settings.live_segment_seconds,
            max(1, self.settings.cpu_threads),
            lambda wall: self._started(room, day, protocol, peer, wall, folder),
            on_segment=lambda take, rung, path, row: self._segment(
                room, publisher, sessions, take, rung, path, row),
            on_chunk=lambda take, path, row: self._chunk(sessions, take, path, row),
            move_start=self._moved, listeners=self.listeners, published_at=published_at)
        try:
            await run.run()
        except FfmpegFailed as failure:
            log.warning("live: the take of room %s ended: %s", key.room, failure.summary)
        finally:
            await asyncio.shield(self._ended(room, run.take, asyncio.current_task()))

    def _publisher(self, room: Room, day: RoomDay, plan: LivePlan) -> RoomPublisher:
        if room.publisher is None or room.publisher.day != day:
            keep = frozenset({download_rung(plan.rungs).name, audio_rung(plan.rungs).name})
            room.publisher = RoomPublisher(self.deps.objects, self.deps.live, day,
                                           live_window_segments(self.settings),
                                           self.settings.live_segment_seconds, keep)
        return room.publisher

    async def _started(self, room: Room, day: str, protocol: str, peer: str, wall: datetime,
                       folder: Path) -> Take:
        key = room.key
        room.take = await self.deps.live.run(lambda live: live.start_take(
            key.event_slug, key.room, day=day, protocol=protocol, peer=peer, wall_start=wall,
            folder=str(folder)))
        return room.take

    async def _moved(self, take: Take, wall_start: datetime) -> Take:
        moved = await self.deps.live.run(lambda live: live.move_start(take, wall_start))
        room = self.rooms.get((take.event_slug, take.room))
        if room is not None:
            room.take = moved
        return moved

    async def _segment(self, room: Room, publisher: RoomPublisher, sessions: Sequence[Session],
                       take: Take, rung: str, path: Path, row: Finished) -> None:
        plan = room.plan
        if plan is not None and rung == plan.rungs[0].name and take.mpegts_origin is None:
            origin = await mpegts_origin(path, row)
            first = take
            take = room.take = await self.deps.live.run(
                lambda live: _with_origin(live, first, origin))
        keep = _recorded(sessions, take.wall_start + timedelta(seconds=row.start))
        segment = await publisher.segment(take, rung, path, start=row.start,
                                          duration=row.end - row.start, keep=keep)
        for listener in self.listeners:
            await heard(listener.segment_published(take, rung, segment, take.mpegts_origin or 0))

    async def _chunk(self, sessions: Sequence[Session], take: Take, path: Path,
                     row: Finished) -> None:
        keep = _recorded(sessions, take.wall_start + timedelta(seconds=row.start))
        number = int(Path(row.name).stem)
        await self.deps.live.run(lambda live: live.add_chunk(
            take.id, number, row.start, row.end - row.start, str(path), keep=keep))
        if not keep:
            # A session that must not be recorded: shown live, never kept.
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def _ended(self, room: Room, take: Take | None,
                     task: asyncio.Task[None] | None) -> None:
        """The end of the take `task` ran (`_ended` runs shielded, in a task of its own:
        comparing with its own task left the room on air for the programme watch)."""
        if room.take_task is task:
            room.take_task = None
        if room.draining is task:
            room.draining = None
        ended = datetime.now(UTC)
        if room.take_task is None:
            room.off_air_since = ended
        if take is None:
            return
        await self.deps.live.run(lambda live: live.end_take(take.id, ended))
        if room.take is not None and room.take.id == take.id:
            room.take = None
        for listener in self.listeners:
            await heard(listener.take_ended(take))
        log.info("live: %s, room %s off air", take.event_slug, take.room)

    # -- recovery after a crash ------------------------------------------------------------

    async def recover(self) -> None:
        """End the takes a killed process left open, collecting what their ffmpeg had
        finished (segments not yet published, chunks not yet recorded)."""
        open_takes = await self.deps.live.run(_left_open)
        for take in open_takes:
            event = await self.deps.event(take.event_slug)
            plan = load_plan(Path(take.folder))
            if event is not None and plan is not None:
                await self._collect_leftovers(event, take, plan)
            await self.deps.live.run(partial(LiveStore.end_take, take_id=take.id,
                                             ended_at=datetime.now(UTC)))
            log.info("live: take %d of room %s ended by the restart", take.id, take.room)

    async def _collect_leftovers(self, event: Event, take: Take, plan: LivePlan) -> None:
        key, seen = await self.deps.live.run(lambda live: (
            live.key_for_room(take.event_slug, take.room),
            {**{rung.name: live.segment_count(take.id, rung.name) for rung in plan.rungs},
             "archive": live.chunk_count(take.id)}))
        room = Room(key or StreamKey(take.event_slug, take.room, "", "", 0, True), plan=plan)
        publisher = self._publisher(room, RoomDay(take.event_slug, take.room, take.day), plan)
        sessions = bridge.room_sessions(event, take.room)

        async def same_take(wall: datetime) -> Take:
            return take

        run = TakeRun("", plan, Path(take.folder), self.settings.live_segment_seconds, 1,
                      same_take,
                      on_segment=lambda t, rung, path, row: self._segment(
                          room, publisher, sessions, t, rung, path, row),
                      on_chunk=lambda t, path, row: self._chunk(sessions, t, path, row),
                      take=take)
        run.seen = seen
        await run.collect()

    # -- the programme ----------------------------------------------------------------------

    async def _watch(self) -> None:
        await self._publish_pages()
        while True:
            await asyncio.sleep(WATCH_EVERY)
            if await self._reload_keys() or self.pages_due:
                self.pages_due = False
                await self._publish_pages()
            on_air: dict[str, dict[str, bool]] = {}
            for room in list(self.rooms.values()):
                on_air.setdefault(room.key.event_slug, {})[room.key.room] = room.take is not None
                try:
                    await self._look_at(room)
                except Exception:
                    log.exception("live: watching room %s failed", room.key.room)
            for slug, rooms in on_air.items():
                event = await self.deps.event(slug)
                if event is not None:
                    await publish_rooms(self.deps.objects, event, rooms, self.deps.written)

    async def _reload_keys(self) -> bool:
        """Keys changed by `replay live` (another process) reach the running live."""
        changed = False
        for key in await self.deps.live.run(LiveStore.all_keys):
            room = self.rooms.get((key.event_slug, key.room))
            if room is None or room.key != key:
                self.key_changed(key)
                changed = True
        return changed

    async def _publish_pages(self) -> None:
        """Each keyed room's live page, and the event's index where none is published."""
        for slug in sorted({key.event_slug for key, *_ in
                            ((r.key,) for r in self.rooms.values())}):
            event = await self.deps.event(slug)
            if event is None:
                continue
            for room in self.rooms.values():
                if room.key.event_slug == slug:
                    await publish_live_page(self.deps.objects, event, room.key.room,
                                            page=self.live_page, written=self.deps.written)
            if await self.deps.objects.get_bytes(f"{slug}/index.html") is None:
                await bridge.publish_event(self.settings, self.deps.db, self.deps.objects,
                                           event)

    async def _look_at(self, room: Room) -> None:
        event = await self.deps.event(room.key.event_slug)
        if event is None:
            return
        if room.take is not None:
            folder = Path(room.take.folder)
            await LiveSpeechMap.load(folder / PCM_FILE, folder / SPEECH_FILE).update()
        now = datetime.now(UTC)
        if not room.busy:
            await self._sessions_over(room, event, now)
        await publish_room_status(self.deps, event, room.key.room, on_air=room.take is not None,
                                  now=now, player_delay=self.player_delay(event.slug,
                                                                          room.key.room))

    async def _sessions_over(self, room: Room, event: Event, now: datetime) -> None:
        key = room.key
        rules = EndRules(self.settings.snap_window_before, self.settings.snap_window_after,
                         self.settings.live_end_silence, self.settings.live_reconnect_grace)
        takes, done = await self.deps.live.run(lambda live: (
            live.takes_of(key.event_slug, key.room), live.replays_of(key.event_slug)))
        waiting = [s for s in bridge.room_sessions(event, key.room)
                   if s.publishable and s.guid not in done and s.start < now]
        last = last_speech_end([take_clock(t) for t in takes[-3:]])
        for session in waiting:
            if session_over(session, now, last_speech=last, off_air_since=room.off_air_since,
                            rules=rules):
                await self._replay(room, event, session, now)
                return
        if not waiting and room.take is None and room.off_air_since is not None and \
                now - room.off_air_since >= timedelta(seconds=rules.grace):
            await self._close_off_air(room, event)

    async def _replay(self, room: Room, event: Event, session: Session, now: datetime) -> None:
        plan = room.plan or await self._last_plan(room)
        runner = self.deps.live
        await runner.run(lambda live: live.set_replay(event.slug, session.guid, "making",
                                                      ended_at=now))
        room.busy = True
        try:
            outcome = "skipped" if plan is None else await instant_replay(
                self.deps, event, room.key.room, session, plan, now)
        except Exception:
            log.exception("live: the instant replay of %r failed", session.title)
            outcome = "failed"
        finally:
            room.busy = False
        published_at = datetime.now(UTC) if outcome == "published" else None
        await runner.run(lambda live: live.set_replay(event.slug, session.guid, outcome,
                                                      ended_at=now, published_at=published_at))
        log.info("live: instant replay of %r: %s", session.title, outcome)

    async def _last_plan(self, room: Room) -> LivePlan | None:
        key = room.key
        takes = await self.deps.live.run(lambda live: live.takes_of(key.event_slug, key.room))
        return load_plan(Path(takes[-1].folder)) if takes else None

    async def _close_off_air(self, room: Room, event: Event) -> None:
        name = room.key.room
        takes, chunks = await self.deps.live.run(lambda live: (
            live.takes_of(event.slug, name), live.pending_chunks(event.slug, name)))
        if chunks:
            clocks = {t.id: take_clock(t) for t in takes}
            for group in contiguous(chunks, clocks, self.settings.live_reconnect_grace):
                recording = await close_stretch(self.deps, event, name, group, clocks)
                if recording is not None:
                    await bridge.queue_full_pass(self.deps.queue, recording)
        if not await self.deps.live.run(lambda live: live.pending_chunks(event.slug, name)):
            await self._prune_segments(takes)

    async def _prune_segments(self, takes: Sequence[Take]) -> None:
        """Off air, every session begun so far replayed and the archive kept: the
        segment files the ended takes kept on disk for the instant replays' remux are not
        needed any more (the object store has the live's copy; the full pass reads the
        archive), nor the archive chunk ffmpeg never finished when a take stopped."""
        for take in takes:
            if take.status == "ended" and take.id not in self.pruned:
                plan = load_plan(Path(take.folder))
                if plan is not None:
                    removed = await asyncio.to_thread(_remove_segments, Path(take.folder),
                                                      plan)
                    log.info("live: take %d of room %s: %d local segment files pruned",
                             take.id, take.room, removed)
                self.pruned.add(take.id)


def _remove_segments(folder: Path, plan: LivePlan) -> int:
    removed = 0
    for name in (*(rung.name for rung in plan.rungs), ARCHIVE):
        for path in (folder / name).glob("*.ts"):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _recorded(sessions: Sequence[Session], moment: datetime) -> bool:
    """False inside a session that must not be recorded (shown live, never kept)."""
    return not any(s.do_not_record and s.start <= moment < s.end for s in sessions)


async def _ignore(chunk: bytes) -> None:
    return None


def _with_origin(live: LiveStore, take: Take, origin: int) -> Take:
    """The take with its MPEG-TS origin recorded."""
    live.set_origin(take.id, origin)
    return live.take(take.id) or take


def _left_open(live: LiveStore) -> list[Take]:
    """The takes a killed process left open (the instant replays it was making forgotten:
    the programme watch makes them again)."""
    live.forget_unfinished_replays()
    return live.open_takes()
