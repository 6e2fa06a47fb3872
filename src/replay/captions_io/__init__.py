"""Subtitle files through webvtt-py, behind the strict validator of `replay.domain`."""
