"""The commands open the state store that REPLAY_DATABASE_URL names: `replay ingest`
and `replay publish` against PostgreSQL (a fresh schema), with no SQLite file made."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from replay.cli import main
from replay.jobs.procrastinate_queue import ProcrastinateQueue
from replay.settings import load_settings
from replay.store.factory import open_store
from tests.store_engines import PG_URL, fresh_pg_schema, in_schema

PROGRAMME = Path(__file__).parents[1] / "fixtures" / "programmes" / "sample.schedule.json"


def tiny_recording(path: Path) -> Path:
    """Three seconds of a test pattern with a tone (a few kilobytes)."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x90:rate=5:duration=3",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-shortest",
         "-c:v", "libx264", "-c:a", "aac", "-y", str(path)], check=True, timeout=60)
    return path


def test_ingest_and_publish_use_postgresql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    data, site = tmp_path / "data", tmp_path / "site"
    recording = tiny_recording(tmp_path / "salle.mp4")
    with fresh_pg_schema() as schema:
        url = in_schema(PG_URL, schema)
        monkeypatch.setenv("REPLAY_DATABASE_URL", url)
        assert main(["--data-dir", str(data), "ingest", str(recording), "--schedule",
                     str(PROGRAMME), "--room", "Plénière", "--started-at",
                     "2026-03-03T09:00:00+01:00", "--json"]) == 0, capsys.readouterr().err
        assert main(["--data-dir", str(data), "publish", "demo-2026", "--to", str(site)]) == 0
        settings = load_settings(environ={"REPLAY_DATABASE_URL": url}, data_dir=data)
        store = open_store(settings)
        try:
            (found,) = store.recordings_of("demo-2026")
            assert (found.room, found.source_name) == ("Plénière", "salle.mp4")
        finally:
            store.close()
    assert (site / "demo-2026" / "index.html").is_file()
    assert not settings.database_path.exists(), "nothing went to the SQLite file"


async def test_the_queue_and_the_store_share_the_database(tmp_path: Path) -> None:
    """Jobs (procrastinate) and state live in the one database the setting names."""
    with fresh_pg_schema() as schema:
        settings = load_settings(environ={"REPLAY_DATABASE_URL": in_schema(PG_URL, schema)},
                                 data_dir=tmp_path)
        store = open_store(settings)
        queue = await ProcrastinateQueue.open(settings.database_url)
        try:
            tables = {row[0] for row in store.db.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                (schema,))}
            assert {"recordings", "schema_version", "procrastinate_jobs"} <= tables
        finally:
            await queue.close()
            store.close()
