"""`replay live keys|regenerate|revoke`: the stream keys from the command line (French
output for organisers)."""

from __future__ import annotations

from replay.domain.errors import ReplayError
from replay.live import bridge
from replay.live.store import LiveStore
from replay.live.web import key_json, public_host
from replay.locale import _
from replay.settings import Settings
from replay.store.factory import open_store


def live_command(settings: Settings, action: str, event_slug: str, room: str | None) -> str:
    store = open_store(settings)
    try:
        event = bridge.load_event(store, event_slug)
        if event is None:
            known = ", ".join(bridge.event_slugs(store)) or _("none")
            raise ReplayError(_("unknown event “{slug}”; known events: {known}").format(
                slug=event_slug, known=known))
        live = LiveStore(store.db)
        rooms = list(event.rooms)
        if room is not None:
            if room not in event.rooms:
                raise ReplayError(_("unknown room “{room}”; the rooms are: {rooms}").format(
                    room=room, rooms=", ".join(event.rooms)))
            rooms = [room]
            if action == "revoke":
                if not live.revoke_key(event.slug, room):
                    raise ReplayError(_("the room “{room}” has no active key to revoke").format(
                        room=room))
            else:
                live.issue_key(event.slug, room, settings.live_srt_port)
        else:
            for name in rooms:
                if live.key_for_room(event.slug, name) is None:
                    live.issue_key(event.slug, name, settings.live_srt_port)
        host = public_host(settings, "localhost")
        lines = []
        for name in rooms:
            entry = key_json(settings, event, name, live.key_for_room(event.slug, name), host)
            lines += _lines(entry)
        return "\n".join(lines)
    finally:
        store.close()


def _lines(entry: dict[str, object]) -> list[str]:
    key = entry["key"]
    assert isinstance(key, dict)
    room = (_("Room “{room}” (key revoked)") if key["revoked"] else _("Room “{room}”")).format(
        room=entry["room"])
    return [room,
            "  " + _("RTMP server: {url}").format(url=key["rtmp_url"]),
            "  " + _("Stream key: {key}").format(key=key["stream_key"]),
            "  " + _("SRT URL: {url}").format(url=key["srt_url"]),
            "  " + _("Live page: {url}").format(url=entry["live_page"]), ""]
