"""Publishing an event to S3 (a moto server), read back over plain HTTP: every object is
there with its headers, re-publishing uploads nothing, unpublishing removes a session, and
a publish interrupted half-way leaves the previous index whole until a re-run completes it.
Then `replay publish` and `replay unpublish` from the command line."""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from replay.cli import main
from replay.domain.cutplan import Cut
from replay.domain.model import Event, Session
from replay.domain.stages import StageStatus
from replay.settings import load_settings
from replay.site.publish import SessionOutputs, publish_event, unpublish_session
from replay.storage.factory import object_store_for
from replay.storage.s3 import S3Store
from replay.store.db import Store
from tests.integration.conftest import MotoS3

EVENT = "villes-2026"
T0 = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
MASTER = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=854x480,CODECS="avc1.64001e,mp4a.40.2"
480p/index.m3u8
"""
VARIANT = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:6
#EXT-X-PLAYLIST-TYPE:VOD
#EXTINF:6.000,
seg_00000.ts
#EXT-X-ENDLIST
"""
LINK = re.compile(r'(?:href|src|poster|data-hls|data-hls-js)="([^"]+)"')
URI_ATTRIBUTE = re.compile(r'URI="([^"]+)"')


def session(guid: str, slug: str, hours: int) -> Session:
    return Session(guid=guid, title=f"Table ronde {guid}", room="Salle A",
                   start=T0 + timedelta(hours=hours), duration=timedelta(hours=1), slug=slug)


def event(*sessions: Session) -> Event:
    return Event(slug=EVENT, title="Mission villes", start=date(2026, 3, 3),
                 end=date(2026, 3, 4), timezone="Europe/Paris", rooms=("Salle A",),
                 sessions=sessions)


def cut(item: Session) -> Cut:
    return Cut(item.guid, item.title, 30.0, 3630.0, 30.0, 3630.0, True, True)


def write_outputs(media: Path, speech: Path, item: Session, text: str = "Bonjour") -> None:
    """A processed session's files, shaped like the pipeline's."""
    (media / "hls" / "480p").mkdir(parents=True, exist_ok=True)
    speech.mkdir(parents=True, exist_ok=True)
    (media / "hls" / "master.m3u8").write_text(MASTER, encoding="utf-8")
    (media / "hls" / "480p" / "index.m3u8").write_text(VARIANT, encoding="utf-8")
    (media / "hls" / "480p" / "seg_00000.ts").write_bytes(b"\x47" + item.slug.encode() * 100)
    (media / "hls" / "start_time.txt").write_text("1.4", encoding="utf-8")
    (media / "replay.mp4").write_bytes(b"mp4 " + item.slug.encode())
    (media / "poster.jpg").write_bytes(b"jpg " + item.slug.encode())
    cue = f"WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n{text}\n"
    (speech / "subtitles.fr.vtt").write_text(cue, encoding="utf-8")
    (speech / "subtitles.en.vtt").write_text(cue, encoding="utf-8")
    (speech / "transcript.fr.txt").write_text(f"{text}\n", encoding="utf-8")
    (speech / "transcript.fr.json").write_text(json.dumps({
        "language": "fr", "segments": [{"start": 1.0, "end": 3.0, "text": text, "words": []}],
    }), encoding="utf-8")


def outputs(root: Path, item: Session, text: str = "Bonjour") -> SessionOutputs:
    media, speech = root / item.slug / "media", root / item.slug / "speech"
    write_outputs(media, speech, item, text)
    return SessionOutputs(cut(item), item.room, item, media, speech)


def segment_name(item: SessionOutputs) -> str:
    data = (item.media_dir / "hls" / "480p" / "seg_00000.ts").read_bytes()
    return hashlib.sha256(data).hexdigest()[:32] + ".ts"


def headers_of(url: str) -> dict[str, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return {name.lower(): value for name, value in response.headers.items()}


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, b""


def links_of(url: str, body: bytes) -> list[str]:
    """Same-site links of a page or a playlist, as absolute URLs."""
    text = body.decode("utf-8")
    if url.endswith(".m3u8"):
        found = [line for line in text.splitlines() if line and not line.startswith("#")]
        found += URI_ATTRIBUTE.findall(text)
    elif url.endswith(".html"):
        found = LINK.findall(text)
    else:
        return []
    absolute = (urljoin(url, link) for link in found if not link.startswith(("#", "mailto:")))
    return [link.split("#")[0] for link in absolute
            if urlsplit(link).netloc == urlsplit(url).netloc]


def crawl(start: str) -> dict[str, int]:
    """Follow every same-site link from `start`: pages, playlists, media. URL -> status."""
    seen: dict[str, int] = {}
    todo = [start]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        status, body = fetch(url)
        seen[url] = status
        if status == 200:
            todo.extend(links_of(url, body))
    return seen


def s3_store(moto_s3: MotoS3, prefix: str) -> S3Store:
    return S3Store(moto_s3.bucket, prefix, endpoint_url=moto_s3.endpoint,
                   client=moto_s3.client)


# --- publishing ---------------------------------------------------------------------


async def test_publish_to_s3(moto_s3: MotoS3, tmp_path: Path) -> None:
    first, second = session("g1", "ouverture", 0), session("g2", "table-ronde", 2)
    items = [outputs(tmp_path, first), outputs(tmp_path, second)]
    store = s3_store(moto_s3, "publish")
    uploader = await publish_event(store, event(first, second), items, drafts=True)
    keys = await store.list_keys(f"{EVENT}/")
    assert uploader.uploaded == len(keys)
    assert f"{EVENT}/index.html" in keys
    segment = f"{EVENT}/ouverture/hls/480p/{segment_name(items[0])}"
    assert segment in keys  # named after its content, not its position
    assert f"{EVENT}/ouverture/hls/480p/seg_00000.ts" not in keys
    for key in keys:
        status, body = fetch(moto_s3.url(f"publish/{key}"))
        assert status == 200, key
        assert body == await store.get_bytes(key)
    statuses = crawl(moto_s3.url(f"publish/{EVENT}/index.html"))
    assert {url: s for url, s in statuses.items() if s != 200} == {}
    assert moto_s3.url(f"publish/{segment}") in statuses, "the crawl reached media"

    again = await publish_event(store, event(first, second), items, drafts=True)
    assert (again.uploaded, again.unchanged) == (0, len(keys))

    removed = await unpublish_session(store, event(first, second), "ouverture")
    assert removed == len([k for k in keys if k.startswith(f"{EVENT}/ouverture/")]) > 5
    assert await store.list_keys(f"{EVENT}/ouverture/") == []
    assert await store.list_keys(f"{EVENT}/table-ronde/") != []
    assert fetch(moto_s3.url(f"publish/{EVENT}/ouverture/index.html"))[0] in {403, 404}


async def test_a_recut_publishes_new_segment_names_and_prunes_the_old(
        moto_s3: MotoS3, tmp_path: Path) -> None:
    first, second = session("g1", "ouverture", 0), session("g2", "table-ronde", 2)
    store = s3_store(moto_s3, "recut")
    v1 = [outputs(tmp_path / "v1", first), outputs(tmp_path / "v1", second)]
    await store.put_bytes("autre-evenement/ouverture/hls/480p/seg_00000.ts", b"x")
    await publish_event(store, event(first, second), v1, drafts=True)
    old = f"{EVENT}/ouverture/hls/480p/{segment_name(v1[0])}"
    assert "immutable" in headers_of(moto_s3.url(f"recut/{old}"))["cache-control"]
    stale = f"{EVENT}/ouverture/hls/480p/seg_00000.ts"  # left by an older publication
    await store.put_bytes(stale, b"\x47positional")

    recut = outputs(tmp_path / "v2", first)
    (recut.media_dir / "hls" / "480p" / "seg_00000.ts").write_bytes(b"\x47" + b"recut" * 100)
    published = await publish_event(store, event(first, second), [recut, v1[1]], drafts=True)
    new = f"{EVENT}/ouverture/hls/480p/{segment_name(recut)}"
    assert new != old
    keys = await store.list_keys("")
    assert new in keys
    assert old not in keys
    assert stale not in keys
    assert published.pruned == 2
    assert "autre-evenement/ouverture/hls/480p/seg_00000.ts" in keys  # another event: kept
    playlist = await store.get_bytes(f"{EVENT}/ouverture/hls/480p/index.m3u8")
    assert playlist is not None
    assert segment_name(recut) in playlist.decode()
    statuses = crawl(moto_s3.url(f"recut/{EVENT}/index.html"))
    assert {url: s for url, s in statuses.items() if s != 200} == {}
    assert moto_s3.url(f"recut/{new}") in statuses


class FailingStore:
    """An S3 store that fails after `puts` uploads, as a crash or a network cut would."""

    def __init__(self, store: S3Store, puts: int) -> None:
        self.store = store
        self.puts = puts
        self.done = 0
        self.digest = store.digest
        self.get_bytes = store.get_bytes
        self.get_file = store.get_file
        self.delete = store.delete
        self.list_keys = store.list_keys
        self.presigned_url = store.presigned_url

    def _count(self) -> None:
        if self.done >= self.puts:
            raise ConnectionError("simulated fault: connection lost")
        self.done += 1

    async def put_file(self, key: str, source: Path) -> None:
        self._count()
        await self.store.put_file(key, source)

    async def put_bytes(self, key: str, data: bytes) -> None:
        self._count()
        await self.store.put_bytes(key, data)


async def test_interrupted_publish_keeps_the_previous_index(moto_s3: MotoS3,
                                                            tmp_path: Path) -> None:
    first, second, third = (session("g1", "ouverture", 0), session("g2", "table-ronde", 2),
                            session("g3", "cloture", 4))
    store = s3_store(moto_s3, "interrupted")
    v1 = [outputs(tmp_path / "v1", first), outputs(tmp_path / "v1", second)]
    await publish_event(store, event(first, second), v1, drafts=True)
    index_v1 = await store.get_bytes(f"{EVENT}/index.html")
    json_v1 = await store.get_bytes(f"{EVENT}/replays.json")

    # v2: corrected captions everywhere, a third session, reviewed captions.
    v2 = [outputs(tmp_path / "v2", item, "Bonjour, corrigé")
          for item in (first, second, third)]
    failing = FailingStore(store, puts=5)
    with pytest.raises(ConnectionError, match="simulated fault"):
        await publish_event(failing, event(first, second, third), v2, drafts=False)
    assert failing.done == 5
    assert await store.get_bytes(f"{EVENT}/index.html") == index_v1
    assert await store.get_bytes(f"{EVENT}/replays.json") == json_v1
    statuses = crawl(moto_s3.url(f"interrupted/{EVENT}/index.html"))
    assert {url: s for url, s in statuses.items() if s != 200} == {}
    for entry in json.loads(json_v1 or b"")["replays"]:
        for path in (entry["hls"], entry["mp4"], entry["transcript"]):
            assert fetch(moto_s3.url(f"interrupted/{EVENT}/{path}"))[0] == 200, path

    rerun = await publish_event(store, event(first, second, third), v2, drafts=False)
    assert rerun.unchanged >= 5, "what the interrupted run uploaded is not uploaded again"
    replays = json.loads(await store.get_bytes(f"{EVENT}/replays.json") or b"")["replays"]
    assert [r["guid"] for r in replays] == ["g1", "g2", "g3"]
    assert {r["captions"] for r in replays} == {"reviewed"}
    assert await store.get_bytes(f"{EVENT}/index.html") != index_v1
    statuses = crawl(moto_s3.url(f"interrupted/{EVENT}/index.html"))
    assert {url: s for url, s in statuses.items() if s != 200} == {}
    assert any("/cloture/" in url for url in statuses)


# --- the command line ---------------------------------------------------------------


def processed_data_dir(data_dir: Path, sessions: tuple[Session, ...]) -> None:
    """A data directory as `replay process` leaves it: the programme, a recording, its
    cuts, and each session's media and speech outputs with their stages done."""
    settings = load_settings(environ={}, data_dir=data_dir)
    store = Store.open(settings.database_path)
    try:
        store.save_event(event(*sessions))
        recording = store.add_recording(event_slug=EVENT, room="Salle A", sha256="ab" * 32,
                                        original=data_dir / "originals" / "x.mp4",
                                        source_name="x.mp4", started_at=T0)
        store.save_cuts(recording.id, [cut(item) for item in sessions])
        for item in sessions:
            root = settings.work_dir / recording.sha256[:16] / "sessions" / item.guid
            write_outputs(root / "media", root / "speech", item)
            for stage in ("media", "speech"):
                store.set_stage(recording.id, item.guid, stage, input_key="k",
                                status=StageStatus.DONE)
    finally:
        store.close()


@pytest.fixture
def s3_environment(moto_s3: MotoS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "absent"))
    monkeypatch.setenv("REPLAY_S3_ENDPOINT_URL", moto_s3.endpoint)
    monkeypatch.setenv("REPLAY_S3_REGION", "us-east-1")


@pytest.mark.usefixtures("s3_environment")
def test_cli_publish_unpublish_republish(moto_s3: MotoS3, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    first, second = session("g1", "ouverture", 0), session("g2", "table-ronde", 2)
    data = tmp_path / "data"
    processed_data_dir(data, (first, second))
    target = f"s3://{moto_s3.bucket}/cli"
    index = moto_s3.url(f"cli/{EVENT}/index.html")

    def replays() -> list[str]:
        status, body = fetch(moto_s3.url(f"cli/{EVENT}/replays.json"))
        assert status == 200
        return [r["guid"] for r in json.loads(body)["replays"]]

    assert main(["--data-dir", str(data), "publish", EVENT, "--to", target]) == 0
    assert f"Publié\u00a0: {target}/{EVENT}/index.html" in capsys.readouterr().out
    assert replays() == ["g1", "g2"]
    assert {u: s for u, s in crawl(index).items() if s != 200} == {}

    assert main(["--data-dir", str(data), "unpublish", EVENT, "g1", "--to", target]) == 0
    assert "ouverture" in capsys.readouterr().out
    assert replays() == ["g2"]
    assert fetch(moto_s3.url(f"cli/{EVENT}/ouverture/index.html"))[0] in {403, 404}
    assert {u: s for u, s in crawl(index).items() if s != 200} == {}

    # Publishing the event again keeps it down; naming it puts it back.
    assert main(["--data-dir", str(data), "publish", EVENT, "--to", target]) == 0
    assert replays() == ["g2"]
    assert main(["--data-dir", str(data), "publish", EVENT, "--to", target,
                 "--session", "ouverture"]) == 0
    assert replays() == ["g1", "g2"]
    assert fetch(moto_s3.url(f"cli/{EVENT}/ouverture/index.html"))[0] == 200


@pytest.mark.usefixtures("s3_environment")
@pytest.mark.parametrize(("argv", "message"), [
    (["publish", "nope"], "évènement «\u00a0nope\u00a0» inconnu\u00a0; évènements connus\u00a0: "
                          "villes-2026"),
    (["unpublish", EVENT, "absent"], "n’a pas de séance enregistrée «\u00a0absent\u00a0»\u00a0: "
                                     "donnez un guid ou l’un de ces noms\u00a0: ouverture"),
    (["publish", EVENT, "--to", "s3://no-such-bucket/x"], "bucket 'no-such-bucket' does "
                                                          "not exist"),
])
def test_cli_errors_with_data(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              argv: list[str], message: str, moto_s3: MotoS3) -> None:
    processed_data_dir(tmp_path / "data", (session("g1", "ouverture", 0),))
    if "--to" not in argv:
        argv = [*argv, "--to", f"s3://{moto_s3.bucket}/errors"]
    assert main(["--data-dir", str(tmp_path / "data"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("replay\u00a0: erreur\u00a0: ")
    assert message in err
    assert err.count("\n") == 1


@pytest.mark.usefixtures("s3_environment")
async def test_object_store_for_s3(moto_s3: MotoS3, tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    store = object_store_for(f"s3://{moto_s3.bucket}/a/b/", settings)
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix, store.endpoint_url) == (
        moto_s3.bucket, "a/b/", moto_s3.endpoint)
    await store.put_bytes("e/index.html", b"<p>x</p>")
    assert fetch(moto_s3.url("a/b/e/index.html")) == (200, b"<p>x</p>")
