"""What this process measured while running jobs, for the metrics page.

`StageDurations` is a prometheus-client collector: the metrics page registers it, beside
the queue's counts, in the registry it renders (`replay.web.metrics`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import SummaryMetricFamily
from prometheus_client.registry import Collector

STAGE_DURATION: str = "replay_stage_duration_seconds"


@dataclass(frozen=True, slots=True)
class Summary:
    count: int = 0
    total: float = 0.0


@dataclass(eq=False)  # hashed by identity, as a registry's collectors are
class StageDurations(Collector):
    """Seconds spent per pipeline stage (runs that did work, not skipped ones), since
    this process started."""

    by_stage: dict[str, Summary] = field(default_factory=dict)

    def observe(self, stage: str, seconds: float) -> None:
        before = self.by_stage.get(stage, Summary())
        self.by_stage[stage] = Summary(before.count + 1, before.total + seconds)

    def collect(self) -> Iterator[SummaryMetricFamily]:
        family = SummaryMetricFamily(
            STAGE_DURATION,
            "Time spent in pipeline stages that did work in this process since it started.",
            labels=["stage"])
        for stage, summary in sorted(self.by_stage.items()):
            family.add_metric([stage], count_value=summary.count, sum_value=summary.total)
        yield family
