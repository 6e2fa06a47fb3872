"""Errors a user can act on. Every message says what is wrong and what to do.

`domain/` speaks English and never translates (it may not import `replay.locale`): an
error carries an English message, marked ``N_`` for the catalogue, and its named values;
the faces (web, CLI, jobs) show it in French with `replay.locale.describe`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

#: Turns an English message into the language it is shown in.
Translate = Callable[[str], str]
#: Writes a whole number as the language it is shown in writes it (20 000 in French).
Number = Callable[[int], str]


def N_(message: str) -> str:
    """Marks an English `message` for the catalogue; it is translated where it is shown.
    The one definition: `replay.locale` re-exports it. Being the identity, it is also
    what `ReplayError.render` translates with by default (the message as written)."""
    return message


class ReplayError(Exception):
    """Base of errors reported to the user as one line, with a non-zero exit.

    `msgid`: the message, with ``{name}`` holes for `values`; a value that is itself a
    `ReplayError` (a reason) is rendered in the same language.
    """

    def __init__(self, msgid: str, /, **values: object) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.values = values

    def render(self, translate: Translate = N_, number: Number = str) -> str:
        """The message in `translate`'s language (as written by default), values put in:
        a whole number as `number` writes it (digits by default)."""
        text = translate(self.msgid) if self.msgid else ""
        if not self.values:
            return text
        return text.format(**{name: _shown(value, translate, number)
                              for name, value in self.values.items()})

    def __str__(self) -> str:
        return self.render()

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled with its values (an error crosses to and from worker processes); the
        # default would call the subclass's __init__ with `args` alone.
        return _restored, (type(self), self.args, self.__dict__)


def _shown(value: object, translate: Translate, number: Number) -> object:
    if isinstance(value, ReplayError):
        return value.render(translate, number)
    if isinstance(value, int) and not isinstance(value, bool):
        return number(value)
    return value


def _restored(kind: type[ReplayError], args: tuple[object, ...],
              state: dict[str, object]) -> ReplayError:
    error = kind.__new__(kind, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class Listed(ReplayError):
    """Values said one after the other (a message's value): each `ReplayError` among them
    rendered in the message's language, joined by `separator`."""

    def __init__(self, items: Iterable[object], separator: str = ", ") -> None:
        super().__init__("")
        self.items = tuple(items)
        self.separator = separator

    def render(self, translate: Translate = N_, number: Number = str) -> str:
        return self.separator.join(str(_shown(item, translate, number)) for item in self.items)


class ProgrammeError(ReplayError):
    """The programme cannot be parsed or is inconsistent."""


class MediaError(ReplayError):
    """A recording cannot be processed (not media, no audio, empty, truncated...)."""


class PlanError(ReplayError):
    """The recording cannot be matched with the programme."""


class SubtitleError(ReplayError):
    """A subtitle file is malformed."""


def line_error(number: int, reason: str, /, **values: object) -> SubtitleError:
    """The error at line `number` of a subtitle file: `reason` (an English message) with
    its `values`."""
    return SubtitleError(N_("line {line}: {reason}"), line=number,
                         reason=SubtitleError(reason, **values))
