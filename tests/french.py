"""Assertions on what people read: errors of `domain/` carry an English message, shown in
French through the catalogue (`replay.locale.describe`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from replay.domain.errors import ReplayError
from replay.locale import describe


@contextmanager
def raises_in_french(kind: type[ReplayError], match: str) -> Iterator[None]:
    """Like `pytest.raises(kind, match=match)`, matched on the error's French text."""
    with pytest.raises(kind) as caught:
        yield
    text = describe(caught.value)
    assert re.search(match, text), text
