"""replay: turn event room recordings into published replays."""

__version__ = "0.1.0"
