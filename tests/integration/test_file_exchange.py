"""Files between machines (`storage.exchange`) on the in-memory store and on S3 (moto over
HTTP): two data directories play two machines. And the embedded default, which copies
nothing, and the sweep of a killed process's scratch (`jobs.scratch`)."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from replay.jobs.scratch import data_dir_in_use, leftover_scratch
from replay.media.probe import StoreUrl
from replay.storage.exchange import ExchangeError, SameDisk, ThroughObjects, exchange_for
from replay.storage.local import LocalDirectoryStore
from replay.storage.memory import MemoryStore
from replay.storage.port import ObjectStore
from replay.storage.s3 import S3Store
from tests.integration.conftest import MotoS3


@pytest.fixture(params=["memory", "s3"])
def objects(request: pytest.FixtureRequest) -> ObjectStore:
    if request.param == "memory":
        return MemoryStore()
    s3: S3Store = request.getfixturevalue("s3_store")
    return s3


class Machines:
    def __init__(self, objects: ObjectStore, tmp_path: Path) -> None:
        self.api, self.worker = tmp_path / "api", tmp_path / "worker"
        self.here = ThroughObjects(objects, self.api)
        self.there = ThroughObjects(objects, self.worker)

    async def shared_original(self, size: int) -> tuple[Path, bytes, str]:
        """An original of `size` random bytes kept on the API's machine and shared."""
        data = os.urandom(size)
        sha256 = hashlib.sha256(data).hexdigest()
        kept = self.api / "originals" / f"{sha256}.mp4"
        kept.parent.mkdir(parents=True)
        kept.write_bytes(data)
        await self.here.share(kept, sha256)
        return kept, data, sha256


def write_tree(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def no_scratch(root: Path) -> bool:
    return not [p for p in root.rglob("*") if ".fetch-" in p.name]


async def test_an_original_goes_up_once_and_is_fetched_checked(objects: ObjectStore,
                                                               tmp_path: Path) -> None:
    machines = Machines(objects, tmp_path)
    kept, data, sha256 = await machines.shared_original(50_000)
    assert await objects.list_keys("") == [f"_private/originals/{sha256}.mp4"]
    assert await machines.here.original(kept, kept, sha256) == kept, "here: read in place"

    local = machines.worker / "originals" / kept.name
    assert await machines.there.original(kept, local, sha256) == local
    assert local.read_bytes() == data
    assert no_scratch(machines.worker)


async def test_an_original_that_does_not_match_its_digest_is_refused(
        objects: ObjectStore, tmp_path: Path) -> None:
    machines = Machines(objects, tmp_path)
    sha256 = hashlib.sha256(b"the real one").hexdigest()
    await objects.put_bytes(f"_private/originals/{sha256}.mp4", b"another one")
    local = machines.worker / "originals" / f"{sha256}.mp4"
    with pytest.raises(ExchangeError, match="SHA-256"):
        await machines.there.original(machines.api / "originals" / local.name, local, sha256)
    assert not local.exists()
    assert no_scratch(machines.worker)
    with pytest.raises(ExchangeError, match="neither on this machine"):
        await machines.there.original(machines.api / "originals" / "absent.mp4",
                                      machines.worker / "originals" / "absent.mp4", sha256)


async def test_a_file_output_is_fetched_where_it_is_missing(objects: ObjectStore,
                                                            tmp_path: Path) -> None:
    machines = Machines(objects, tmp_path)
    made = machines.api / "work" / "abc" / "speech.json"
    made.parent.mkdir(parents=True)
    made.write_text("[[0.0, 1.5]]")
    await machines.here.share(made)
    assert await machines.here.fetch(made), "here already"
    elsewhere = machines.worker / "work" / "abc" / "speech.json"
    assert await machines.there.fetch(elsewhere)
    assert elsewhere.read_text() == "[[0.0, 1.5]]"
    assert not await machines.there.fetch(machines.worker / "work" / "abc" / "absent.wav")


async def test_a_folder_travels_whole_and_follows_a_redo(objects: ObjectStore,
                                                         tmp_path: Path) -> None:
    machines = Machines(objects, tmp_path)
    made = machines.api / "work" / "abc" / "sessions" / "g1" / "media"
    write_tree(made, {"replay.mp4": b"mp4", "hls/master.m3u8": b"#EXTM3U",
                      "hls/480p/seg_00000.ts": b"\x47" * 188})
    await machines.here.share(made)
    fetched = machines.worker / "work" / "abc" / "sessions" / "g1" / "media"
    assert await machines.there.fetch(fetched)
    assert tree(fetched) == tree(made)

    # Done again on the first machine with another ladder: a rung less, a new playlist.
    (made / "hls" / "480p" / "seg_00000.ts").unlink()
    (made / "hls" / "master.m3u8").write_bytes(b"#EXTM3U\n# other")
    await machines.here.share(made)
    keys = await objects.list_keys("_private/work/abc/sessions/g1/media/")
    assert "_private/work/abc/sessions/g1/media/hls/480p/seg_00000.ts" not in keys
    assert await machines.there.fetch(fetched)
    assert tree(fetched) == tree(made)
    assert no_scratch(machines.worker)


async def test_forgetting_deletes_a_file_or_a_folder_and_nothing_beside(
        objects: ObjectStore, tmp_path: Path) -> None:
    machines = Machines(objects, tmp_path)
    work = machines.api / "work" / "abc"
    write_tree(work / "sessions" / "g1" / "speech", {"subtitles.fr.vtt": b"WEBVTT"})
    write_tree(work, {"speech.json": b"[]"})
    write_tree(machines.api / "work" / "abcd", {"speech.json": b"[]"})  # a prefix's sibling
    for path in (work / "sessions" / "g1" / "speech", work / "speech.json",
                 machines.api / "work" / "abcd" / "speech.json"):
        await machines.here.share(path)
    await machines.here.forget(work)
    await machines.here.forget(machines.api / "originals" / "absent.mp4")  # never shared
    assert await objects.list_keys("") == ["_private/work/abcd/speech.json"]


async def test_a_folder_already_here_is_not_downloaded_again(
        objects: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    machines = Machines(objects, tmp_path)
    made = machines.api / "work" / "abc" / "sessions" / "g1" / "speech"
    write_tree(made, {"subtitles.fr.vtt": b"WEBVTT\n"})
    await machines.here.share(made)
    fetched = machines.worker / "work" / "abc" / "sessions" / "g1" / "speech"
    assert await machines.there.fetch(fetched)
    downloads: list[str] = []
    original_get_file = objects.get_file

    async def counting(key: str, dest: Path) -> bool:
        downloads.append(key)
        return await original_get_file(key, dest)

    monkeypatch.setattr(objects, "get_file", counting)
    assert await machines.there.fetch(fetched)
    assert await machines.here.fetch(made), "the machine that made it has it"
    assert downloads == []


async def test_a_folder_changed_in_the_store_is_refused(objects: ObjectStore,
                                                        tmp_path: Path) -> None:
    machines = Machines(objects, tmp_path)
    made = machines.api / "work" / "abc" / "sessions" / "g1" / "speech"
    write_tree(made, {"subtitles.fr.vtt": b"WEBVTT\n", "transcript.fr.txt": b"Bonjour\n"})
    await machines.here.share(made)
    manifest = await objects.get_bytes("_private/work/abc/sessions/g1/speech.manifest.json")
    assert manifest is not None
    assert sorted(json.loads(manifest)) == ["subtitles.fr.vtt", "transcript.fr.txt"]
    await objects.put_bytes("_private/work/abc/sessions/g1/speech/transcript.fr.txt", b"Bon")
    fetched = machines.worker / "work" / "abc" / "sessions" / "g1" / "speech"
    with pytest.raises(ExchangeError, match="SHA-256"):
        await machines.there.fetch(fetched)
    assert not fetched.exists()
    assert no_scratch(machines.worker)


async def test_a_media_job_elsewhere_gets_an_address_of_the_original_not_a_copy(
        objects: ObjectStore, tmp_path: Path) -> None:
    """On S3, a presigned URL that serves byte ranges; in memory (no address), a fetch."""
    machines = Machines(objects, tmp_path)
    kept, data, sha256 = await machines.shared_original(300_000)
    assert await machines.here.readable_original(kept, kept, sha256, expires=60) == kept

    local = machines.worker / "originals" / kept.name
    given = await machines.there.readable_original(kept, local, sha256, expires=60)
    if isinstance(objects, S3Store):
        assert isinstance(given, StoreUrl)
        assert "X-Amz-Signature=" in given.address
        assert "Expires=60" in given.address
        async with aiohttp.ClientSession() as session, session.get(
                URL(given.address, encoded=True), headers={"Range": "bytes=1000-1999"}) as got:
            assert got.status == 206
            assert await got.read() == data[1000:2000]
        assert not local.exists(), "nothing downloaded"
    else:
        assert given == local, "no address: fetched whole, as the analysis does"
        assert local.read_bytes() == data
    assert no_scratch(machines.worker)


async def test_an_original_changed_in_the_store_gets_no_address(objects: ObjectStore,
                                                                tmp_path: Path) -> None:
    machines = Machines(objects, tmp_path)
    sha256 = hashlib.sha256(b"the real one").hexdigest()
    await objects.put_bytes(f"_private/originals/{sha256}.mp4", b"another one")
    local = machines.worker / "originals" / f"{sha256}.mp4"
    with pytest.raises(ExchangeError, match="SHA-256"):
        await machines.there.readable_original(machines.api / "originals" / local.name, local,
                                               sha256, expires=60)


async def test_the_embedded_default_copies_nothing(tmp_path: Path) -> None:
    site = tmp_path / "site"
    files = exchange_for(LocalDirectoryStore(site), tmp_path / "data")
    assert isinstance(files, SameDisk)
    original = tmp_path / "data" / "originals" / "abc.mp4"
    original.parent.mkdir(parents=True)
    original.write_bytes(b"x")
    await files.share(original)
    assert not site.exists()
    assert await files.fetch(original)
    assert not await files.fetch(tmp_path / "data" / "work" / "absent")
    assert await files.original(original, tmp_path / "elsewhere", "abc") == original
    assert await files.readable_original(original, tmp_path / "elsewhere", "abc",
                                         expires=60) == original
    assert isinstance(exchange_for(MemoryStore(), tmp_path / "data"), ThroughObjects)


async def test_on_s3_the_files_are_beside_the_public_prefix(moto_s3: MotoS3,
                                                            tmp_path: Path) -> None:
    top = f"t/{uuid.uuid4().hex}"
    site = S3Store(moto_s3.bucket, f"{top}/site", endpoint_url=moto_s3.endpoint,
                   client=moto_s3.client)
    files = exchange_for(site, tmp_path)
    made = tmp_path / "work" / "abc" / "speech.json"
    made.parent.mkdir(parents=True)
    made.write_text("[]")
    await files.share(made)
    assert await site.list_keys("") == []
    listed = moto_s3.client.list_objects_v2(Bucket=moto_s3.bucket, Prefix=f"{top}/")
    assert [item["Key"] for item in listed["Contents"]] == [
        f"{top}/_private/work/abc/speech.json"]


def test_a_worker_alone_on_its_data_directory_sweeps_the_scratch(tmp_path: Path) -> None:
    data = tmp_path / "data"
    session = data / "work" / "abc" / "sessions" / "g1"
    write_tree(session, {".media.job7-1.partial/hls/480p/seg_00000.ts": b"x",
                         "speech/subtitles.fr.vtt": b"WEBVTT\n",
                         ".speech.exchanged.json": b"{}"})
    write_tree(data / "originals", {".abc.mp4.fetch-1234.partial": b"x", "abc.mp4": b"x"})
    assert len(leftover_scratch(data)) == 2

    with data_dir_in_use(data) as swept:  # another process uses the directory
        assert swept == []
        with data_dir_in_use(data, sweep=True) as swept:
            assert swept == []
        assert len(leftover_scratch(data)) == 2

    with data_dir_in_use(data, sweep=True) as swept:
        assert sorted(p.name for p in swept) == [".abc.mp4.fetch-1234.partial",
                                                 ".media.job7-1.partial"]
    assert leftover_scratch(data) == []
    assert tree(session) == {"speech/subtitles.fr.vtt": b"WEBVTT\n",
                             ".speech.exchanged.json": b"{}"}
    assert (data / "originals" / "abc.mp4").exists()


def test_a_command_that_may_fail_creates_no_data_directory(tmp_path: Path) -> None:
    with data_dir_in_use(tmp_path / "data", sweep=True, create=False) as swept:
        assert swept == []
    assert not (tmp_path / "data").exists()
