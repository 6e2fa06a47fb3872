"""The RTMP ingest: Debian's nginx with its RTMP module, run unprivileged by `replay serve`.

`nginx_config` writes the whole configuration from settings (a pure function): one
`live` application whose `on_publish` asks the service about the stream key (a 403
refuses the publisher before any byte is kept) and whose `on_publish_done` ends the take.
Only this machine may play the streams: the service pulls each accepted stream from here.
nginx runs as one process (`master_process off`), so that it dies with `replay serve`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

APPLICATION = "live"
_SAFE = re.compile(r"^[A-Za-z0-9_./:-]+$")


@dataclass(frozen=True, slots=True)
class NginxConfig:
    rtmp_host: str
    rtmp_port: int
    hook_base: str
    prefix: Path
    module: Path
    #: Seconds of silence from a publisher before nginx drops it (a dead Wi-Fi link).
    idle_timeout: int = 10
    #: Seconds between `on_update` calls, which re-check the key (a revoked key is cut).
    update_every: int = 10


def _checked(value: str, what: str) -> str:
    if not _SAFE.match(value):
        raise ValueError(f"{what} must be letters, digits and ._/:- only: {value!r}")
    return value


def nginx_config(config: NginxConfig) -> str:
    """The configuration text for ``nginx -c FILE -p PREFIX``."""
    hook = _checked(config.hook_base.rstrip("/"), "hook URL")
    prefix = _checked(str(config.prefix), "nginx prefix")
    module = _checked(str(config.module), "RTMP module path")
    host = _checked(config.rtmp_host, "RTMP host")
    if not 0 < config.rtmp_port < 65536:
        raise ValueError(f"RTMP port out of range: {config.rtmp_port}")
    return f"""load_module {module};
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{
    worker_connections 1024;
}}
rtmp {{
    server {{
        listen {host}:{config.rtmp_port};
        chunk_size 4096;
        notify_method post;
        application {APPLICATION} {{
            live on;
            record off;
            allow publish all;
            allow play 127.0.0.1;
            deny play all;
            drop_idle_publisher {config.idle_timeout}s;
            idle_streams on;
            wait_key on;
            on_publish {hook}/publish;
            on_publish_done {hook}/publish_done;
            on_update {hook}/update;
            notify_update_timeout {config.update_every}s;
        }}
    }}
}}
"""


def nginx_argv(binary: str, conf: Path, prefix: Path) -> list[str]:
    return [binary, "-c", str(conf), "-p", str(prefix), "-e", str(prefix / "error.log")]


def pull_url(port: int, stream_key: str) -> str:
    """Where the service reads an accepted stream back from nginx (this machine only)."""
    return f"rtmp://127.0.0.1:{port}/{APPLICATION}/{stream_key}"
