"""A full disk through the real factory: French 507s instead of 500s, /health degraded
below the free-space threshold or while a job's outcome cannot be recorded (and the
worker records it once it can); security headers on every response; a private data
directory."""

from __future__ import annotations

import asyncio
import errno
import sqlite3
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import html5lib
import psycopg.errors
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from replay.jobs.memory_queue import MemoryQueue
from replay.jobs.queue import JobSpec, JobStatus
from replay.jobs.worker import JobContext, Worker
from replay.locale import _
from replay.settings import Settings
from replay.store.db import Store
from replay.store.users import Role
from replay.web import app as app_module
from replay.web import uploads_store
from replay.web.app import CONTENT_SECURITY_POLICY, WORKERS, create_app
from replay.web.auth import USERS
from replay.web.errors import DISK_FULL, is_disk_full
from replay.web.keys import SETTINGS

PROGRAMME = (Path(__file__).parent.parent / "fixtures" / "programmes"
             / "mission-villes-2026.schedule.json")
SLUG = "mission-villes-2026"

Client = TestClient[web.Request, web.Application]


@dataclass
class Site:
    client: Client
    app: web.Application
    headers: dict[str, str]


@pytest_asyncio.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    app = create_app(Settings(data_dir=tmp_path / "data", cpu_threads=1), run_workers=False)
    async with TestClient(TestServer(app)) as client:
        user = app[USERS].add("orga@example.org", "Orga", Role.ORGANISER, "un mot de passe sûr")
        headers = {"Authorization": f"Bearer {app[USERS].create_token(user.id, 't')}"}
        yield Site(client, app, headers)


def no_space(*args: Any, **kwargs: Any) -> Any:
    raise OSError(errno.ENOSPC, "No space left on device")


# -- a full disk ---------------------------------------------------------------------------


@pytest.mark.parametrize(("error", "full"), [
    (OSError(errno.ENOSPC, "No space left on device"), True),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
    (OSError(errno.EACCES, "Permission denied"), False),
    (sqlite3.OperationalError("database or disk is full"), True),
    (sqlite3.OperationalError("database is locked"), False),
    (psycopg.errors.DiskFull("could not extend file: No space left on device"), True),
    (psycopg.errors.QueryCanceled("canceling statement due to statement timeout"), False),
    (ValueError("disk is full"), False),
])
def test_a_full_disk_is_told_apart_on_every_engine(error: BaseException, full: bool) -> None:
    assert is_disk_full(error) is full



async def test_a_full_database_is_a_french_507(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self: Store, event: object) -> object:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Store, "save_event", full)
    response = await site.client.post("/api/events", headers=site.headers,
                                      data={"programme": PROGRAMME.open("rb")})
    assert response.status == 507
    assert await response.json() == {"error": _(DISK_FULL)}


async def test_a_chunk_that_finds_the_disk_full_is_a_french_507(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    await site.client.post("/api/events", headers=site.headers,
                           data={"programme": PROGRAMME.open("rb")})
    tus = {**site.headers, "Tus-Resumable": "1.0.0"}
    created = await site.client.post("/api/uploads/", headers={
        **tus, "Upload-Length": "100",
        "Upload-Metadata": "event bWlzc2lvbi12aWxsZXMtMjAyNg==,room UGzDqW5pw6hyZQ=="})
    assert created.status == 201, await created.text()
    monkeypatch.setattr(uploads_store.ChunkWriter, "write", no_space)
    response = await site.client.patch(created.headers["Location"], data=b"x" * 100, headers={
        **tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert response.status == 507
    assert (await response.json())["error"] == _(DISK_FULL)
    head = await site.client.head(created.headers["Location"], headers=tus)
    assert head.headers["Upload-Offset"] == "0"  # nothing half-written was kept


async def test_a_page_that_finds_the_disk_full_is_french_html(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Store, "event_slugs", no_space)
    response = await site.client.get("/organisateur/", headers=site.headers)
    assert response.status == 507
    assert response.content_type == "text/html"
    document = html5lib.parse(await response.text(), namespaceHTMLElements=False)
    assert document.find(".//h1").text == _(DISK_FULL)


# -- /health ---------------------------------------------------------------------------------


async def test_health_is_degraded_below_the_free_space_threshold(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    threshold = site.app[SETTINGS].min_free_bytes
    monkeypatch.setattr(app_module, "free_bytes", lambda path: threshold + 1)
    fine = await (await site.client.get("/health")).json()
    assert (fine["status"], fine["free_bytes"]) == ("ok", threshold + 1)
    monkeypatch.setattr(app_module, "free_bytes", lambda path: threshold - 1)
    response = await site.client.get("/health")
    assert response.status == 200
    body = await response.json()
    assert (body["status"], body["free_bytes"], body["min_free_bytes"]) == (
        "degraded", threshold - 1, threshold)


class FullDiskQueue(MemoryQueue):
    """A queue whose writes of outcomes fail while `full` is set."""

    full = True

    async def succeed(self, job_id: int, attempt: int) -> bool:
        if self.full:
            raise sqlite3.OperationalError("database or disk is full")
        return await super().succeed(job_id, attempt)


async def test_a_job_whose_outcome_cannot_be_recorded_is_failing_until_it_is(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "free_bytes", lambda path: 1 << 50)
    queue = FullDiskQueue()
    ran = asyncio.Event()

    async def transcode(ctx: JobContext) -> None:
        ran.set()

    job_id = await queue.enqueue(JobSpec("transcode"))
    worker = Worker(queue, {"transcode": transcode}, ["default"], worker_id="w",
                    poll_interval=0.01, requeue_every=0.05, lease_seconds=60,
                    heartbeat_every=30)
    site.app[WORKERS].append(worker)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(ran.wait(), 5)
        for _ in range(100):
            if worker.failing:
                break
            await asyncio.sleep(0.01)
        body = await (await site.client.get("/health")).json()
        assert (body["status"], body["failing_jobs"]) == ("degraded", [job_id])
        queue.full = False
        for _ in range(200):
            if not worker.failing:
                break
            await asyncio.sleep(0.01)
        job = await queue.get(job_id)
        assert job is not None
        assert job.status is JobStatus.SUCCEEDED
        body = await (await site.client.get("/health")).json()
        assert (body["status"], body["failing_jobs"]) == ("ok", [])
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)


# -- headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "who"), [
    ("/connexion", None), ("/health", None), ("/api/events", "token"),
    ("/api/events", None), ("/organisateur/", "token"), ("/compte", "token"),
    ("/site/", None), ("/nulle-part", None), ("/organisateur/static/dashboard.css", None),
])
async def test_every_response_carries_the_security_headers(
        site: Site, path: str, who: str | None) -> None:
    site_dir = site.app[SETTINGS].site_dir
    site_dir.mkdir(parents=True, exist_ok=True)
    (site_dir / "index.html").write_text("<!DOCTYPE html><title>x</title>", "utf-8")
    response = await site.client.get(path, headers=site.headers if who else {},
                                     allow_redirects=False)
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_policy_allows_nothing_inline() -> None:
    directives = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


TEMPLATES = sorted((Path(__file__).parents[2] / "src" / "replay").glob("*/templates/*.html"))


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_templates_have_no_inline_script_style_or_handler(template: Path) -> None:
    import re

    text = template.read_text("utf-8")
    assert re.search(r"<script(?![^>]*\ssrc=)[^>]*>", text) is None
    assert re.search(r"<style[\s>]", text) is None
    assert re.search(r"\sstyle\s*=", text) is None
    assert re.search(r"\son[a-z]+\s*=", text) is None


async def test_the_login_page_takes_its_style_from_a_file(site: Site) -> None:
    page = await (await site.client.get("/connexion")).text()
    document = html5lib.parse(page, namespaceHTMLElements=False)
    assert document.find(".//style") is None
    (link,) = [ln for ln in document.iter("link") if ln.get("rel") == "stylesheet"]
    css = await site.client.get(link.get("href"))
    assert css.status == 200
    assert ".erreur" in await css.text()


# -- the data directory --------------------------------------------------------------------------


def test_the_data_directory_and_database_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = Store.open(data / "replay.sqlite3")
    try:
        store.db.execute("CREATE TABLE t (x)")
        store.db.execute("INSERT INTO t VALUES (1)")  # the WAL file exists now
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in data.iterdir()}
        assert modes == {name: 0o600 for name in modes}
        assert "replay.sqlite3" in modes
        assert "replay.sqlite3-wal" in modes
    finally:
        store.close()


def test_an_existing_world_readable_database_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "replay.sqlite3"
    sqlite3.connect(path).close()
    path.chmod(0o644)
    Store.open(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
