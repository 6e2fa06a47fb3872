"""`replay worker` as its own process, on the adapters the settings choose: the state
store and the jobs (procrastinate) in this machine's PostgreSQL (a schema of the test's
own), the site to the moto S3 server."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

import pytest

from replay.domain.errors import ReplayError
from replay.domain.programme import parse_programme
from replay.jobs.factory import open_queue
from replay.jobs.procrastinate_queue import ProcrastinateQueue
from replay.jobs.sqlite_queue import SQLiteQueue
from replay.jobs.tasks import publish_job
from replay.settings import load_settings
from replay.store.factory import open_store
from tests.integration.conftest import MotoS3
from tests.integration.test_queue_acceptance import PG_URL, fresh_schema

PROGRAMME = Path(__file__).parents[1] / "fixtures" / "programmes" / "sample.schedule.json"


def schema_url(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


async def test_the_settings_choose_the_queue(tmp_path: Path) -> None:
    default = await open_queue(load_settings(environ={}, data_dir=tmp_path))
    try:
        assert isinstance(default, SQLiteQueue)
        assert (tmp_path / "replay.sqlite3").is_file()
    finally:
        await default.close()
    async with fresh_schema() as (schema, _):
        settings = load_settings(environ={"REPLAY_DATABASE_URL": schema_url(schema)},
                                 data_dir=tmp_path)
        queue = await open_queue(settings)
        try:
            assert isinstance(queue, ProcrastinateQueue)
        finally:
            await queue.close()


async def test_an_unreachable_postgresql_is_a_french_error(tmp_path: Path) -> None:
    settings = load_settings(
        environ={"REPLAY_DATABASE_URL": "postgresql://replay:secret@127.0.0.1:1/replay"},
        data_dir=tmp_path)
    with pytest.raises(ReplayError, match="PostgreSQL injoignable") as caught:
        await open_queue(settings)
    assert "secret" not in str(caught.value)  # the password is never shown


async def test_replay_worker_publishes_a_job_from_postgresql_to_s3(
        tmp_path: Path, moto_s3: MotoS3) -> None:
    data = tmp_path / "data"
    event = parse_programme(PROGRAMME.read_bytes(), filename=PROGRAMME.name)
    prefix = f"w/{uuid.uuid4().hex}"
    async with fresh_schema() as (schema, _):
        environ = {
            "REPLAY_DATA_DIR": str(data), "REPLAY_DATABASE_URL": schema_url(schema),
            "REPLAY_OBJECT_STORE_URL": f"s3://{moto_s3.bucket}/{prefix}",
            "REPLAY_S3_ENDPOINT_URL": moto_s3.endpoint, "REPLAY_S3_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        settings = load_settings(environ=environ)
        store = open_store(settings)  # the worker finds the event there, not in a file
        assert store.db.engine == "postgresql"
        store.save_event(event)
        store.close()
        queue = await open_queue(settings)
        health = tmp_path / "worker.alive"
        env = {k: v for k, v in os.environ.items() if not k.startswith("REPLAY_")} | environ
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "replay", "worker", "--queue", "publish",
            "--health-file", str(health), env=env, stderr=asyncio.subprocess.PIPE)
        try:
            job_id = await queue.enqueue(publish_job(event.slug))
            async with asyncio.timeout(120):
                while True:
                    job = await queue.get(job_id)
                    assert job is not None
                    if job.status in ("succeeded", "failed"):
                        break
                    await asyncio.sleep(0.2)
            assert (job.status, job.error) == ("succeeded", None)
            index = moto_s3.client.get_object(Bucket=moto_s3.bucket,
                                              Key=f"{prefix}/{event.slug}/index.html")
            assert event.title in index["Body"].read().decode()
            assert health.is_file()
        finally:
            worker.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(worker.communicate(), 60)
            await queue.close()
        assert worker.returncode == 0, stderr.decode()
        assert "replay worker publish" in stderr.decode()
