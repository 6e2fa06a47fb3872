"""What the audience's pages poll, written through the object store (the public site is
static files, a CDN in production): each room's `status.json` (on air, current and next
session, the day's replays), the event's `direct/rooms.json` (which rooms are live), and
the live page itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from replay.domain.model import Event, Session
from replay.live import bridge
from replay.live.playlists import DAY_PLAYLIST, MASTER_LIVE
from replay.live.publisher import LIVE_FOLDER, feed_key, room_prefix, room_slug
from replay.live.store import LiveStore
from replay.live.timeline import on_now
from replay.site.pages import french_date, site_environment, static_assets
from replay.storage.port import ObjectStore

if TYPE_CHECKING:
    from replay.live.instant import LiveDeps

STATUS = "status.json"
#: hls.js with subtitles (the site's light build has none): the live's captions need it.
FULL_HLS_JS = "hls.min.js"
ROOMS = "rooms.json"


@dataclass(frozen=True, slots=True)
class LivePage:
    """How the live pages play: the player's live delay (hls.js `liveSyncDuration`), and
    the address of the rooms' « transcription en direct » feeds (with a {room} part;
    None: no live captions, no panel)."""

    player_delay: float
    transcript: str | None = None


def _clock(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local.hour}\u00a0h\u00a0{local.minute:02d}"


def session_json(session: Session | None, zone: ZoneInfo) -> dict[str, Any] | None:
    if session is None:
        return None
    return {"guid": session.guid, "title": session.title,
            "start": session.start.isoformat(), "end": session.end.isoformat(),
            "start_label": _clock(session.start, zone), "end_label": _clock(session.end, zone),
            "day_label": french_date(session.start.astimezone(zone).date()),
            "speakers": ", ".join(p.name for p in session.persons),
            "recorded": not session.do_not_record}


def room_status(event: Event, room: str, *, on_air: bool, day: str | None, now: datetime,
                replays: Sequence[tuple[Session, bool]],
                player_delay: float | None = None) -> dict[str, Any]:
    """The room's status for the live page (URLs relative to the room's folder).
    `player_delay`: the live delay the captions need now (measured), for players
    that join."""
    zone = ZoneInfo(event.timezone)
    sessions = bridge.room_sessions(event, room)
    current, upcoming = on_now([s for s in sessions if not s.is_break], now)
    return {
        "room": room,
        "on_air": on_air,
        "live": f"{day}/{MASTER_LIVE}" if on_air and day else None,
        "day": f"{day}/{DAY_PLAYLIST}" if day else None,
        "current": session_json(current, zone),
        "next": session_json(upcoming, zone),
        "replays": [{"title": s.title, "url": f"../../{s.slug}/index.html",
                     "start_label": _clock(s.start, zone), "live_replay": live}
                    for s, live in replays],
        "player_delay": player_delay,
        "updated": now.isoformat(),
    }


async def _write(objects: ObjectStore, key: str, data: bytes,
                 written: dict[str, bytes]) -> None:
    """Write unless this process already wrote exactly this (polled files change rarely)."""
    if written.get(key) != data:
        await objects.put_bytes(key, data)
        written[key] = data


async def publish_room_status(deps: LiveDeps, event: Event, room: str, *, on_air: bool,
                              now: datetime,
                              player_delay: float | None = None) -> dict[str, Any]:
    takes, replays = await deps.db.run(lambda store: (
        LiveStore(store.db).takes_of(event.slug, room),
        bridge.published_sessions(store, event, room)))
    day = takes[-1].day if takes else None
    status = room_status(event, room, on_air=on_air, day=day, now=now, replays=replays,
                         player_delay=player_delay)
    data = json.dumps({**status, "updated": None}, ensure_ascii=False, indent=1)
    await _write(deps.objects, f"{room_prefix(event.slug, room)}/{STATUS}", data.encode(),
                 deps.written)
    return status


async def publish_rooms(objects: ObjectStore, event: Event, on_air: dict[str, bool],
                        written: dict[str, bytes]) -> None:
    rooms = [{"room": room, "on_air": on_air[room],
              "url": f"{LIVE_FOLDER}/{room_slug(room)}/index.html"}
             for room in event.rooms if room in on_air]
    data = json.dumps({"rooms": rooms}, ensure_ascii=False, indent=1).encode()
    await _write(objects, f"{event.slug}/{LIVE_FOLDER}/{ROOMS}", data, written)


def render_live_page(event: Event, room: str, *, page: LivePage, has_hls_js: bool) -> str:
    transcript = page.transcript.format(room=feed_key(event.slug, room)) \
        if page.transcript else None
    return site_environment().get_template("live.html").render(
        event=event, room=room, player_delay=f"{page.player_delay:g}", has_hls_js=has_hls_js,
        events_url=f"{transcript}/events" if transcript else None, poll_url=transcript)


async def publish_live_page(objects: ObjectStore, event: Event, room: str, *,
                            page: LivePage, written: dict[str, bytes]) -> None:
    """The room's live page and the site's assets it uses."""
    assets = static_assets()  # the full hls.js build among them
    for name, data in assets:
        await _write(objects, f"{event.slug}/assets/{name}", data, written)
    has_hls_js = any(name == FULL_HLS_JS for name, _ in assets)
    html = render_live_page(event, room, page=page, has_hls_js=has_hls_js)
    await _write(objects, f"{room_prefix(event.slug, room)}/index.html", html.encode(),
                 written)
