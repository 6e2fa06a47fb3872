"""The /metrics exposition, read back with prometheus-client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from replay.jobs.metrics import StageDurations
from replay.jobs.queue import JobStatus
from replay.web.metrics import render_metrics


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_the_exposition_parses_with_every_figure() -> None:
    durations = StageDurations()
    durations.observe("transcribe", 2.5)
    durations.observe("transcribe", 1.5)
    durations.observe("ladder", 4.0)
    counts = dict.fromkeys(JobStatus, 0) | {JobStatus.TODO: 3, JobStatus.FAILED: 1}
    text = render_metrics(counts, {"media": 2, "speech": 1, "publish": 0}, durations).decode()
    families = {family.name: family.type for family in text_string_to_metric_families(text)}
    assert families == {"replay_jobs": "gauge", "replay_queue_depth": "gauge",
                        "replay_stage_duration_seconds": "summary"}
    samples = _samples(text)
    assert samples[("replay_jobs", (("state", "todo"),))] == 3
    assert samples[("replay_jobs", (("state", "failed"),))] == 1
    assert samples[("replay_jobs", (("state", "doing"),))] == 0
    assert samples[("replay_queue_depth", (("queue", "media"),))] == 2
    assert samples[("replay_queue_depth", (("queue", "publish"),))] == 0
    stage = (("stage", "transcribe"),)
    assert samples[("replay_stage_duration_seconds_count", stage)] == 2
    assert samples[("replay_stage_duration_seconds_sum", stage)] == 4.0
    assert samples[("replay_stage_duration_seconds_count", (("stage", "ladder"),))] == 1


def test_labels_are_escaped() -> None:
    durations = StageDurations()
    durations.observe('odd "stage"\\\n', 1.0)
    text = render_metrics({}, {}, durations).decode()
    stage = (("stage", 'odd "stage"\\\n'),)
    assert _samples(text)[("replay_stage_duration_seconds_count", stage)] == 1
