"""`replay live keys|regenerate|revoke`: the stream keys from the command line (French
output for organisers)."""

from __future__ import annotations

from replay.domain.errors import ReplayError
from replay.live import bridge
from replay.live.store import LiveStore
from replay.live.web import key_json, public_host
from replay.settings import Settings
from replay.store.factory import open_store

NBSP = "\u00a0"


def live_command(settings: Settings, action: str, event_slug: str, room: str | None) -> str:
    store = open_store(settings)
    try:
        event = bridge.load_event(store, event_slug)
        if event is None:
            known = ", ".join(bridge.event_slugs(store)) or "aucun"
            raise ReplayError(f"évènement « {event_slug} » inconnu{NBSP}; évènements connus"
                              f"{NBSP}: {known}")
        live = LiveStore(store.db)
        rooms = list(event.rooms)
        if room is not None:
            if room not in event.rooms:
                raise ReplayError(f"salle « {room} » inconnue{NBSP}; les salles sont{NBSP}: "
                                  f"{', '.join(event.rooms)}")
            rooms = [room]
            if action == "revoke":
                if not live.revoke_key(event.slug, room):
                    raise ReplayError(f"la salle « {room} » n’a pas de clé active à révoquer")
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
    state = " (clé révoquée)" if key["revoked"] else ""
    return [f"Salle «{NBSP}{entry['room']}{NBSP}»{state}",
            f"  Serveur RTMP{NBSP}: {key['rtmp_url']}",
            f"  Clé de stream{NBSP}: {key['stream_key']}",
            f"  URL SRT{NBSP}: {key['srt_url']}",
            f"  Page du direct{NBSP}: {entry['live_page']}", ""]
