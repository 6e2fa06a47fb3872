"""One Settings object: documented defaults < config file (TOML) < REPLAY_* environment.

Only the CLI calls `load_settings`; everything else receives a `Settings`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from replay.domain.addresses import parse_networks
from replay.domain.errors import ReplayError
from replay.locale import _

ENV_PREFIX = "REPLAY_"
POSTGRESQL_SCHEMES = ("postgresql", "postgres")


def _default_threads() -> int:
    return max(1, os.cpu_count() or 1)


def _default_model_cache() -> Path:
    return Path.home() / ".cache" / "replay" / "models"


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting is documented in config/replay.toml (a test checks it)."""

    data_dir: Path = Path("replay-data")
    database_url: str = ""
    object_store_url: str = ""
    whisper_model: str = "base"
    translate_model: str = ""
    whisper_device: str = "cpu"
    whisper_compute_type: str = "int8"
    whisper_beam_size: int = 3
    whisper_temperature_fallback: bool = False
    whisper_previous_text: bool = False
    cpu_threads: int = field(default_factory=_default_threads)
    model_cache_dir: Path = field(default_factory=_default_model_cache)
    segment_seconds: float = 6.0
    ladder_passthrough: bool = True
    passthrough_max_bitrate_ratio: float = 1.6
    snap_window_before: float = 90.0
    snap_window_after: float = 300.0
    min_speech_gap: float = 2.5
    cut_padding: float = 1.0
    publish_drafts: bool = True
    job_timeout: float = 6 * 3600.0
    s3_endpoint_url: str = ""
    s3_region: str = ""
    public_url: str = ""
    upload_max_bytes: int = 20 * 2**30
    host: str = "127.0.0.1"
    port: int = 8080
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 10.0
    cookie_secure: bool = False
    session_hours: float = 12.0
    live_enabled: bool = True
    live_public_host: str = ""
    live_listen_host: str = "0.0.0.0"
    live_rtmp_port: int = 1935
    live_srt_port: int = 9000
    live_segment_seconds: float = 2.0
    live_window_segments: int = 6
    live_end_silence: float = 8.0
    live_reconnect_grace: float = 30.0
    live_player_delay: float = 6.0
    nginx_binary: str = "nginx"
    nginx_rtmp_module: Path = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
    token_days: float = 90.0
    trusted_proxies: str = ""
    login_failures_per_ip: int = 20
    uploads_in_flight_max: int = 4
    upload_quota_bytes: int = 80 * 2**30
    min_free_bytes: int = 2 * 2**30
    live_captions_enabled: bool = True
    live_caption_model: str = "base"
    live_caption_device: str = "cpu"
    live_caption_compute_type: str = "int8"
    live_caption_threads: int = 1
    live_caption_beam_size: int = 1
    live_captions_english: str = "auto"
    live_caption_step: float = 1.0
    live_caption_trim_after: float = 12.0
    live_caption_max_buffer: float = 24.0
    live_caption_commit_after: float = 4.0
    live_caption_encoder_padding: float = 2.0
    live_caption_max_lag: float = 12.0
    live_caption_niceness: int = 10

    @property
    def database_path(self) -> Path:
        """The SQLite file of the state and the jobs, unless ``database_url`` is
        PostgreSQL: ``sqlite:///PATH`` in ``database_url``, else in the data directory."""
        scheme, _, rest = self.database_url.partition("://")
        if scheme == "sqlite" and rest:
            return Path(rest).expanduser()
        return self.data_dir / "replay.sqlite3"

    @property
    def uses_postgresql(self) -> bool:
        """Whether the state store and the jobs (procrastinate) are in PostgreSQL
        (``database_url`` ``postgresql://…``) rather than in the SQLite file."""
        return self.database_url.partition("://")[0] in POSTGRESQL_SCHEMES

    @property
    def originals_dir(self) -> Path:
        return self.data_dir / "originals"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def work_dir(self) -> Path:
        return self.data_dir / "work"

    @property
    def site_dir(self) -> Path:
        return self.data_dir / "site"

    @property
    def live_dir(self) -> Path:
        return self.data_dir / "live"

    @property
    def effective_translate_model(self) -> str:
        return self.translate_model or self.whisper_model


def public_database_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.partition(":")[0]
    return f"{scheme}://{user}@{host}"


def setting_names() -> list[str]:
    return [f.name for f in fields(Settings)]


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Layer defaults, the config file, REPLAY_* variables, then explicit overrides."""
    values: dict[str, Any] = {}
    if config_file is not None:
        values.update(_read_config_file(config_file))
    values.update(_read_environment(os.environ if environ is None else environ))
    values.update({k: v for k, v in overrides.items() if v is not None})
    return _build(values)


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ReplayError(f"config file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ReplayError(f"config file {path} is not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - set(setting_names()))
    if unknown:
        raise ReplayError(f"config file {path}: unknown setting(s) {', '.join(unknown)}")
    return data


def _read_environment(environ: Mapping[str, str]) -> dict[str, str]:
    known = {name.upper(): name for name in setting_names()}
    found: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX):] in known:
            found[known[key[len(ENV_PREFIX):]]] = value
    return found


def _build(values: Mapping[str, Any]) -> Settings:
    defaults = Settings()
    converted = {
        f.name: _convert(f.name, values[f.name], type(getattr(defaults, f.name)))
        for f in fields(Settings)
        if f.name in values
    }
    settings = dataclasses.replace(defaults, **converted)
    if settings.cpu_threads < 1:
        raise ReplayError("setting cpu_threads must be at least 1")
    _check_limits(settings)
    if not 0 < settings.heartbeat_seconds < settings.lease_seconds:
        raise ReplayError("setting heartbeat_seconds must be above 0 and below lease_seconds "
                          f"(got {settings.heartbeat_seconds:g} and {settings.lease_seconds:g})")
    if settings.live_segment_seconds <= 0 or settings.live_window_segments < 3:
        raise ReplayError("settings live_segment_seconds must be above 0 and "
                          "live_window_segments at least 3")
    _check_live_captions(settings)
    _check_urls(settings)
    return settings


def _check_urls(settings: Settings) -> None:
    scheme, sep, rest = settings.database_url.partition("://")
    if settings.database_url and not (sep and rest and scheme in ("sqlite", *POSTGRESQL_SCHEMES)):
        raise ReplayError(_(
            "setting database_url: “{value}” is not recognised; write {postgresql}, {sqlite}, "
            "or nothing (the SQLite file of the data folder)").format(
                value=settings.database_url,
                postgresql=("postgresql://" + _("USER") + "@" + _("HOST") + ":5432/"
                            + _("DATABASE")),
                sqlite="sqlite:///" + _("PATH") + "/replay.sqlite3"))
    scheme, sep, rest = settings.object_store_url.partition("://")
    if settings.object_store_url and sep and scheme not in ("s3", "file"):
        raise ReplayError(_(
            "setting object_store_url: “{value}” is not recognised; write {s3} (with "
            "s3_endpoint_url for MinIO), a folder, or nothing ({default})").format(
                value=settings.object_store_url, s3=s3_example(), default="DATA_DIR/site"))
    if scheme == "s3" and not rest.strip("/"):
        raise ReplayError(_("setting object_store_url: the bucket's name is missing ({s3})"
                            ).format(s3=s3_example()))


def s3_example() -> str:
    """An S3 target as people write one, for the messages that ask for one."""
    return "s3://BUCKET/" + _("PREFIX")


def _check_limits(settings: Settings) -> None:
    try:
        parse_networks(settings.trusted_proxies)
    except ValueError as exc:
        raise ReplayError(f"setting trusted_proxies: {exc}; give IP addresses or networks "
                          "separated by commas, e.g. \"10.0.0.1, 192.168.0.0/16\"") from exc
    for name in ("token_days", "login_failures_per_ip", "uploads_in_flight_max",
                 "upload_quota_bytes"):
        if getattr(settings, name) <= 0:
            raise ReplayError(f"setting {name} must be above 0")
    if settings.min_free_bytes < 0:
        raise ReplayError("setting min_free_bytes cannot be negative")


def _check_live_captions(settings: Settings) -> None:
    if settings.live_captions_english not in {"auto", "on", "off"}:
        raise ReplayError("setting live_captions_english must be \"auto\", \"on\" or \"off\" "
                          f"(got {settings.live_captions_english!r})")
    if settings.live_caption_threads < 1:
        raise ReplayError("setting live_caption_threads must be at least 1")
    step, trim, top = (settings.live_caption_step, settings.live_caption_trim_after,
                       settings.live_caption_max_buffer)
    if not (0 < step < trim <= top <= 30):
        raise ReplayError("settings live_caption_step < live_caption_trim_after <= "
                          f"live_caption_max_buffer <= 30 seconds (got {step:g}, {trim:g}, "
                          f"{top:g})")
    if settings.live_caption_commit_after <= step:
        raise ReplayError("setting live_caption_commit_after must be above live_caption_step")
    if not 0 <= settings.live_caption_niceness <= 19:
        raise ReplayError("setting live_caption_niceness must be between 0 and 19 "
                          f"(got {settings.live_caption_niceness})")
    if settings.live_caption_max_lag <= 0:
        raise ReplayError("setting live_caption_max_lag must be above 0")
    if not 0 <= settings.live_caption_encoder_padding <= 30:
        raise ReplayError("setting live_caption_encoder_padding must be between 0 and 30 "
                          f"seconds (got {settings.live_caption_encoder_padding:g})")


def _convert(name: str, value: Any, kind: type) -> Any:
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    if not isinstance(value, str | int | float):
        raise ReplayError(f"setting {name}: {value!r} is not a valid {kind.__name__}")
    text = str(value).strip()
    try:
        if kind is bool:
            return _parse_bool(text)
        if issubclass(kind, Path):
            return Path(text).expanduser()
        convert: Callable[[str], Any] = kind
        return convert(text)
    except ValueError as exc:
        raise ReplayError(f"setting {name}: {value!r} is not a valid {kind.__name__}") from exc


def _parse_bool(text: str) -> bool:
    lowered = text.casefold()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(text)
