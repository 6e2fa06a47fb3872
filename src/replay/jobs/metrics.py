"""What this process measured while running jobs, for the metrics page."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Summary:
    count: int = 0
    total: float = 0.0


@dataclass
class StageDurations:
    """Seconds spent per pipeline stage (runs that did work, not skipped ones), since
    this process started."""

    by_stage: dict[str, Summary] = field(default_factory=dict)

    def observe(self, stage: str, seconds: float) -> None:
        before = self.by_stage.get(stage, Summary())
        self.by_stage[stage] = Summary(before.count + 1, before.total + seconds)
