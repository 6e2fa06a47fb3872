"""A worker process killed with SIGKILL mid-job loses nothing: once its lease runs out a
second worker process takes the job again, finishes it once, and the dead attempt can no
longer write."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path

from replay.jobs.queue import JobSpec, JobStatus
from replay.jobs.sqlite_queue import SQLiteQueue

#: A worker process on the SQLite queue. Its task marks each attempt's start, works for a
#: while (slowly on the first attempt, which gets killed), then publishes its output only
#: if its attempt is still the current one.
WORKER = textwrap.dedent("""
    import asyncio, os, sys
    from pathlib import Path
    from replay.jobs.sqlite_queue import SQLiteQueue
    from replay.jobs.worker import JobContext, Worker, install_signal_handlers

    DB, WORK, NAME = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

    async def transcode(ctx: JobContext) -> None:
        (WORK / f"started.{ctx.attempt}").write_text(str(os.getpid()))
        for step in range(10):
            ctx.report_progress(step / 10, None)
            await asyncio.sleep(1.0 if ctx.attempt == 1 else 0.05)
        partial = WORK / f"out.partial.{ctx.attempt}"
        partial.write_text(f"attempt {ctx.attempt}")
        if await ctx.still_current():
            os.replace(partial, WORK / "out.txt")

    async def main() -> None:
        queue = SQLiteQueue.open(DB)
        stop = asyncio.Event()
        install_signal_handlers(stop)
        worker = Worker(queue, {"transcode": transcode}, ["media"], worker_id=NAME,
                        lease_seconds=2.0, heartbeat_every=0.5, poll_interval=0.1,
                        requeue_every=0.25, shutdown_grace=5.0)
        await worker.run(stop)
        await queue.close()

    asyncio.run(main())
""")


async def start_worker(tmp_path: Path, name: str) -> asyncio.subprocess.Process:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    return await asyncio.create_subprocess_exec(
        sys.executable, str(script), str(tmp_path / "state.sqlite3"), str(tmp_path), name)


async def until(condition: Callable[[], Awaitable[bool]], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while True:
            if await condition():
                return
            await asyncio.sleep(0.05)


async def test_a_killed_worker_loses_nothing(tmp_path: Path) -> None:
    queue = SQLiteQueue.open(tmp_path / "state.sqlite3")
    job_id = await queue.enqueue(JobSpec("transcode", {"guid": "a"}, queue="media",
                                         lock="media:1:a"))

    async def started(attempt: int) -> bool:
        return (tmp_path / f"started.{attempt}").exists()

    async def succeeded() -> bool:
        job = await queue.get(job_id)
        return job is not None and job.status == JobStatus.SUCCEEDED

    first = await start_worker(tmp_path, "first")
    second = None
    try:
        await until(lambda: started(1), 10)
        first.kill()
        assert await first.wait() == -signal.SIGKILL
        killed = await queue.get(job_id)
        assert killed is not None
        assert (killed.status, killed.attempt, killed.worker_id) == ("doing", 1, "first")

        second = await start_worker(tmp_path, "second")
        await until(succeeded, 15)
        second.send_signal(signal.SIGTERM)  # graceful shutdown
        assert await asyncio.wait_for(second.wait(), 10) == 0
    finally:
        for process in (first, second):
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()

    done = await queue.get(job_id)
    assert done is not None
    assert (done.status, done.attempt, done.worker_id, done.error) == (
        "succeeded", 2, "second", None)
    assert (tmp_path / "out.txt").read_text() == "attempt 2"
    assert not (tmp_path / "started.3").exists()
    # The dead attempt, were it to wake up, is refused everywhere and changes nothing.
    assert not await queue.heartbeat(job_id, 1, progress=0.9, eta=None, lease_seconds=2.0)
    assert not await queue.succeed(job_id, 1)
    assert not await queue.fail(job_id, 1, "late", retry_at=None, permanent=True)
    assert await queue.get(job_id) == done
    await queue.close()
