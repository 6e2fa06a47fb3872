"""Settings: defaults < config file < REPLAY_* environment < explicit overrides, and docs."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from replay.domain.errors import ReplayError
from replay.settings import Settings, load_settings, setting_names

CONFIG = Path(__file__).resolve().parents[2] / "config" / "replay.toml"
#: A key line of the documented config file, set or commented out (« # cpu_threads = 2 »).
KEY_LINE = re.compile(r"^(#\s*)?([a-z][a-z0-9_]*)\s*=\s*\S")


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "replay.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- precedence -----------------------------------------------------------------------


def test_defaults_without_file_or_environment() -> None:
    assert load_settings(environ={}) == Settings()


def test_defaults_are_what_the_class_says() -> None:
    settings = load_settings(environ={})
    assert settings.data_dir == Path("replay-data")
    assert settings.whisper_model == "base"
    assert settings.effective_translate_model == "base"
    assert settings.cpu_threads >= 1
    assert settings.publish_drafts is True
    assert settings.database_path == Path("replay-data") / "replay.sqlite3"


def test_file_overrides_defaults(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'whisper_model = "small"\nsegment_seconds = 4.0\n')
    settings = load_settings(path, environ={})
    assert settings.whisper_model == "small"
    assert settings.segment_seconds == 4.0
    assert settings.whisper_device == "cpu"


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'whisper_model = "small"\nwhisper_beam_size = 3\n')
    settings = load_settings(path, environ={"REPLAY_WHISPER_MODEL": "medium"})
    assert settings.whisper_model == "medium"
    assert settings.whisper_beam_size == 3


def test_overrides_beat_everything(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'whisper_model = "small"\n')
    settings = load_settings(path, environ={"REPLAY_WHISPER_MODEL": "medium"},
                             whisper_model="large-v3", data_dir=None)
    assert settings.whisper_model == "large-v3"
    assert settings.data_dir == Path("replay-data"), "an override of None is no override"


def test_process_environment_is_read_when_none_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLAY_WHISPER_DEVICE", "cuda")
    assert load_settings().whisper_device == "cuda"


@pytest.mark.parametrize(
    "environ",
    [
        pytest.param({"REPLAY_NOT_A_SETTING": "x"}, id="unknown-name"),
        pytest.param({"replay_whisper_model": "small"}, id="lower-case"),
        pytest.param({"WHISPER_MODEL": "small"}, id="no-prefix"),
        pytest.param({"REPLAY_whisper_model": "small"}, id="lower-case-name"),
    ],
)
def test_other_variables_are_ignored(environ: dict[str, str]) -> None:
    assert load_settings(environ=environ) == Settings()


# --- conversions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("whisper_beam_size", "5", 5),
        ("whisper_beam_size", " 2 ", 2),
        ("cpu_threads", "3", 3),
        ("segment_seconds", "4", 4.0),
        ("segment_seconds", "2.5", 2.5),
        ("job_timeout", "60", 60.0),
        ("translate_model", "large-v3", "large-v3"),
        ("data_dir", "/srv/replay", Path("/srv/replay")),
        ("publish_drafts", "false", False),
        ("publish_drafts", "0", False),
        ("publish_drafts", "No", False),
        ("publish_drafts", "off", False),
        ("publish_drafts", "TRUE", True),
        ("publish_drafts", "1", True),
        ("publish_drafts", "yes", True),
        ("publish_drafts", "on", True),
    ],
)
def test_environment_values_are_converted(name: str, raw: str, expected: object) -> None:
    settings = load_settings(environ={f"REPLAY_{name.upper()}": raw})
    value = getattr(settings, name)
    assert value == expected
    assert type(value) is type(expected)


def test_paths_expand_the_home_directory(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = load_settings(environ={"REPLAY_DATA_DIR": "~/replays"})
    assert settings.data_dir == tmp_path / "replays"
    assert settings.site_dir == tmp_path / "replays" / "site"


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        ("whisper_beam_size = 4", "whisper_beam_size", 4),
        ('whisper_beam_size = "4"', "whisper_beam_size", 4),
        ("segment_seconds = 4", "segment_seconds", 4.0),
        ("publish_drafts = false", "publish_drafts", False),
        ('publish_drafts = "no"', "publish_drafts", False),
        ('data_dir = "/srv/replay"', "data_dir", Path("/srv/replay")),
    ],
)
def test_file_values_are_converted(tmp_path: Path, text: str, name: str,
                                   expected: object) -> None:
    settings = load_settings(write_config(tmp_path, text + "\n"), environ={})
    value = getattr(settings, name)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"REPLAY_WHISPER_BEAM_SIZE": "many"}, "whisper_beam_size"),
        ({"REPLAY_WHISPER_BEAM_SIZE": "1.5"}, "whisper_beam_size"),
        ({"REPLAY_CPU_THREADS": "0"}, "cpu_threads must be at least 1"),
        ({"REPLAY_CPU_THREADS": "-2"}, "cpu_threads must be at least 1"),
        ({"REPLAY_SEGMENT_SECONDS": "six"}, "segment_seconds"),
        ({"REPLAY_PUBLISH_DRAFTS": "maybe"}, "publish_drafts"),
        ({"REPLAY_PUBLISH_DRAFTS": ""}, "publish_drafts"),
    ],
)
def test_bad_environment_values(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ReplayError, match=message):
        load_settings(environ=environ)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("whisper_beam_size = 1.5", "whisper_beam_size", id="float-for-int"),
        pytest.param("cpu_threads = true", "cpu_threads", id="bool-for-int"),
        pytest.param("cpu_threads = 0", "cpu_threads", id="zero-threads"),
        pytest.param('job_timeout = "long"', "job_timeout", id="text-for-float"),
        pytest.param('publish_drafts = "perhaps"', "publish_drafts", id="text-for-bool"),
        pytest.param('whisper_model = ["base", "small"]', "whisper_model", id="list-for-str"),
        pytest.param("data_dir = { path = 'x' }", "data_dir", id="table-for-path"),
        pytest.param("whisper_model = ", "not valid TOML", id="not-toml"),
        pytest.param('whisper_modle = "small"', "unknown setting.*whisper_modle",
                     id="unknown-key"),
        pytest.param('[replay]\nwhisper_model = "small"', "unknown setting.*replay",
                     id="unknown-table"),
    ],
)
def test_bad_config_files(tmp_path: Path, text: str, message: str) -> None:
    path = write_config(tmp_path, text + "\n")
    with pytest.raises(ReplayError, match=message):
        load_settings(path, environ={})


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="does not exist"):
        load_settings(tmp_path / "absent.toml", environ={})


def test_overrides_are_checked_too() -> None:
    with pytest.raises(ReplayError, match="cpu_threads"):
        load_settings(environ={}, cpu_threads="lots")


# --- the documented config file -------------------------------------------------------


def documented_keys(text: str) -> dict[str, bool]:
    """Each key of the config file, set or commented out, and whether a comment documents
    it: a comment line right above it, or above the block of keys it belongs to."""
    lines = text.splitlines()
    found: dict[str, bool] = {}
    for number, line in enumerate(lines):
        match = KEY_LINE.match(line)
        if match is None:
            continue
        above = number - 1
        while above >= 0 and KEY_LINE.match(lines[above]):
            above -= 1
        found[match.group(2)] = above >= 0 and lines[above].startswith("#")
    return found


def test_documented_keys_helper_needs_a_comment(tmp_path: Path) -> None:
    text = "# The model.\nwhisper_model = 'base'\n\nwhisper_device = 'cpu'\n# cpu_threads = 2\n"
    assert documented_keys(text) == {
        "whisper_model": True, "whisper_device": False, "cpu_threads": False}


def test_every_setting_is_documented_in_the_config_file() -> None:
    keys = documented_keys(CONFIG.read_text(encoding="utf-8"))
    missing = [name for name in setting_names() if name not in keys]
    assert not missing, f"settings missing from {CONFIG.name}: {missing}"
    undocumented = [name for name, documented in keys.items() if not documented]
    assert not undocumented, f"keys without a comment above them: {undocumented}"


def test_every_key_of_the_config_file_is_a_setting() -> None:
    text = CONFIG.read_text(encoding="utf-8")
    unknown = sorted(set(documented_keys(text)) - set(setting_names()))
    assert not unknown, f"{CONFIG.name} documents settings that do not exist: {unknown}"
    assert set(tomllib.loads(text)) <= set(setting_names())


def test_the_config_file_gives_the_defaults() -> None:
    assert load_settings(CONFIG, environ={}) == Settings()


def test_the_config_file_states_the_defaults() -> None:
    """Every key set in the file has the default's value (a drifted doc fails here)."""
    defaults = Settings()
    data: dict[str, Any] = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    for name, value in data.items():
        default = getattr(defaults, name)
        assert (str(default) if isinstance(default, Path) else default) == value, name


def test_setting_names_are_the_fields() -> None:
    assert setting_names() == [f.name for f in fields(Settings)]
