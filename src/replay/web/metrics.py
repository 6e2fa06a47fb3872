"""``GET /metrics``: the Prometheus exposition, rendered by prometheus-client.

Each request builds a registry of its own from a snapshot of the job queue (jobs by state,
waiting jobs per queue) and this process's `StageDurations` collector; nothing is
registered in prometheus-client's global registry, so several applications (tests, a web
node beside a worker) never share or clash on metrics.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from aiohttp import web
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from replay.jobs.queue import JobStatus
from replay.services.work import QUEUES
from replay.web.keys import DURATIONS, QUEUE

CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4


class QueueSnapshot(Collector):
    """The queue's counts at one moment, as two gauges."""

    def __init__(self, counts: Mapping[JobStatus, int], waiting: Mapping[str, int]) -> None:
        self.counts = dict(counts)
        self.waiting = dict(waiting)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily("replay_jobs", "Jobs in the queue, by state.",
                                 labels=["state"])
        for status, n in sorted(self.counts.items()):
            jobs.add_metric([str(status)], n)
        yield jobs
        depth = GaugeMetricFamily("replay_queue_depth", "Jobs waiting to run (todo), by queue.",
                                  labels=["queue"])
        for name, n in sorted(self.waiting.items()):
            depth.add_metric([name], n)
        yield depth


def render_metrics(counts: Mapping[JobStatus, int], waiting: Mapping[str, int],
                   durations: Collector) -> bytes:
    """The text exposition (format 0.0.4) of these figures."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QueueSnapshot(counts, waiting))
    registry.register(durations)
    return generate_latest(registry)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition: jobs by state, waiting jobs per queue, and the
    durations of the stages this process ran."""
    queue = request.app[QUEUE]
    counts = await queue.counts()
    waiting = dict.fromkeys(QUEUES, 0)
    for job in await queue.list(status=JobStatus.TODO):
        waiting[job.queue] = waiting.get(job.queue, 0) + 1
    body = render_metrics(counts, waiting, request.app[DURATIONS])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
