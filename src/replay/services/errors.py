"""One error vocabulary for the application layer. Each carries a French message for
people; the adapters turn them into an HTTP status (`status`), a CLI exit, or a failed job.

They are `ReplayError`s, so the CLI reports them as one line with a non-zero exit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from replay.domain.errors import ReplayError


class ServiceError(ReplayError):
    """A use case refused; `message` is French and says what to do.

    `field`: the request field at fault, if one is. `correctable`: the input (a file) is
    fine, what was said about it (room, start) is not: correcting it may admit the input
    without sending it again. `details`: data for the answer beside the message (the
    doubts to confirm, for instance).
    """

    default_status: ClassVar[int] = 422

    def __init__(self, message: str, *, field: str | None = None, correctable: bool = False,
                 status: int | None = None, details: Mapping[str, object] | None = None,
                 ) -> None:
        super().__init__(message)
        self.message, self.field, self.correctable = message, field, correctable
        self.status = self.default_status if status is None else status
        self.details: Mapping[str, object] = details or {}


class Refused(ServiceError):
    """The input cannot be used (422 unless a more precise status is given: 413, 429, 507)."""


class NotFound(ServiceError):
    """What the request names does not exist."""

    default_status = 404


class Conflict(ServiceError):
    """The request does not fit the current state (not ready, nothing to do)."""

    default_status = 409
