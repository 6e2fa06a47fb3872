"""Errors a user can act on. Every message says what is wrong and what to do."""


class ReplayError(Exception):
    """Base of errors reported to the user as one line, with a non-zero exit."""


class ProgrammeError(ReplayError):
    """The programme cannot be parsed or is inconsistent."""


class MediaError(ReplayError):
    """A recording cannot be processed (not media, no audio, empty, truncated...)."""


class PlanError(ReplayError):
    """The recording cannot be matched with the programme."""


class SubtitleError(ReplayError):
    """A subtitle file is malformed."""
