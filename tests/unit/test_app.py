"""The HTTP app through its real factory, workers off, on a temporary SQLite state."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from replay.jobs.queue import JobSpec
from replay.jobs.sqlite_queue import SQLiteQueue
from replay.settings import Settings
from replay.web.app import create_app

Client = TestClient[web.Request, web.Application]
SAMPLE = re.compile(r'^(?P<name>[a-z_]+)(\{(?P<labels>[a-z_]+="[^"]*")\})? (?P<value>[0-9.e+-]+)$')


@pytest_asyncio.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    settings = Settings(data_dir=tmp_path, cpu_threads=1)
    queue = SQLiteQueue.open(settings.database_path)
    for task, name in (("analyse_recording", "media"), ("media_session", "media"),
                       ("publish_event", "publish")):
        await queue.enqueue(JobSpec(task, {}, queue=name))
    await queue.fetch(["publish"], "w", 30)
    await queue.close()
    (tmp_path / "site" / "ev").mkdir(parents=True)
    (tmp_path / "site" / "ev" / "index.html").write_text("<h1>Replays</h1>", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("not public")
    async with TestClient(TestServer(create_app(settings, run_workers=False))) as test_client:
        yield test_client


async def test_health_says_ok_with_the_queue_counts(client: Client) -> None:
    response = await client.get("/health")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok"
    assert body["database"] is True
    assert body["jobs"] == {"todo": 2, "doing": 1, "succeeded": 0, "failed": 0,
                            "cancelled": 0}


async def test_metrics_are_prometheus_text(client: Client) -> None:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, float] = {}
    types: dict[str, str] = {}
    for line in (await response.text()).splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
        elif not line.startswith("# HELP "):
            match = SAMPLE.match(line)
            assert match is not None, line
            samples[f"{match['name']}{{{match['labels'] or ''}}}"] = float(match["value"])
    assert types == {"replay_jobs": "gauge", "replay_queue_depth": "gauge",
                     "replay_stage_duration_seconds": "summary"}
    assert samples['replay_jobs{state="todo"}'] == 2
    assert samples['replay_jobs{state="doing"}'] == 1
    assert samples['replay_jobs{state="failed"}'] == 0
    assert samples['replay_queue_depth{queue="media"}'] == 2
    assert samples['replay_queue_depth{queue="speech"}'] == 0
    assert samples['replay_queue_depth{queue="publish"}'] == 0


async def test_the_published_site_is_served(client: Client) -> None:
    response = await client.get("/site/ev/index.html")
    assert response.status == 200
    assert "<h1>Replays</h1>" in await response.text()
    folder = await client.get("/site/ev/")
    assert folder.status == 200
    assert "Replays" in await folder.text()
    redirected = await client.get("/site/ev", allow_redirects=False)
    assert (redirected.status, redirected.headers["Location"]) == (301, "/site/ev/")


@pytest.mark.parametrize("path", [
    "/site/ev/missing.html",
    "/site/../secret.txt",
    "/site/%2e%2e/secret.txt",
    "/site/ev/%2e%2e/%2e%2e/secret.txt",
    "/site/%2e%2e/replay.sqlite3",
    "/secret.txt",
    "/nowhere",
])
async def test_nothing_outside_the_site_is_served(client: Client,
                                                  path: str) -> None:
    response = await client.get(path, allow_redirects=False)
    assert response.status == 404
