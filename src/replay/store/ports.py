"""The state store's ports: what the application layer needs of it, as Protocols.

`store.db.Store` (SQLite) implements them all; a PostgreSQL adapter implements the same
methods. Services take the narrowest of these they need, never the whole `Store`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from replay.domain.cutplan import Cut
from replay.domain.model import Event
from replay.domain.publication import Release
from replay.domain.stages import PlanReview, StageStatus
from replay.store.db import ImportSummary, Recording, StageState, Store

T = TypeVar("T")


class Transactional(Protocol):
    def transaction(self) -> AbstractContextManager[None]:
        """One transaction for a use case's writes; nested ones join the outer one."""
        ...


class EventRepository(Transactional, Protocol):
    def load_event(self, slug: str) -> Event | None: ...

    def save_event(self, event: Event) -> ImportSummary: ...

    def diff_event(self, event: Event) -> ImportSummary: ...


class RecordingRepository(Transactional, Protocol):
    def add_recording(self, *, event_slug: str, room: str, sha256: str, original: Path,
                      source_name: str, started_at: datetime) -> Recording: ...

    def recording(self, recording_id: int) -> Recording | None: ...

    def recordings_of(self, event_slug: str) -> list[Recording]: ...

    def set_probe(self, recording_id: int, duration: float, probe: dict[str, Any]) -> None: ...

    def probe(self, recording_id: int) -> dict[str, Any] | None: ...


class PlanRepository(Transactional, Protocol):
    def load_cuts(self, recording_id: int) -> list[Cut]: ...

    def save_cuts(self, recording_id: int, cuts: Sequence[Cut]) -> None: ...

    def stage(self, recording_id: int, guid: str, stage: str) -> StageState | None: ...

    def set_stage(self, recording_id: int, guid: str, stage: str, *, input_key: str,
                  status: StageStatus | Release, progress: float = 0.0,
                  error: str | None = None) -> None: ...

    def plan_review(self, recording_id: int) -> PlanReview | None: ...

    def set_plan_review(self, recording_id: int, review: PlanReview) -> None: ...


class StateStore(EventRepository, RecordingRepository, PlanRepository, Protocol):
    """Everything above: what an adapter of the whole store provides."""


class StoreRunner(Protocol):
    """Runs a use case's store work where the store's I/O belongs (off the event loop:
    `store.async_store.AsyncStore`; in place: `InPlace`, for the CLI and tests)."""

    async def run(self, use: Callable[[Store], T]) -> T: ...


class InPlace:
    """A `StoreRunner` that runs the work at once, on the caller's thread (the CLI, which
    has no event loop to keep free)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def run(self, use: Callable[[Store], T]) -> T:
        return use(self.store)
