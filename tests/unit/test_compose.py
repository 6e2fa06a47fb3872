"""docker-compose.yml, without a container engine: it follows the Compose specification's
JSON schema, and every replay command and setting it uses exists in the CLI and Settings.

The schema is vendored (tests/fixtures/compose/compose_spec.json) from the docker-compose
1.29.2 wheel on PyPI (compose/config/compose_spec.json, Apache-2.0), never fetched at run
time.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from replay.cli import build_parser
from replay.settings import ENV_PREFIX, load_settings, setting_names

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = ROOT / "tests" / "fixtures" / "compose" / "compose_spec.json"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "workers" / "Dockerfile"
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")
#: Services that run replay, and the two that are scaled with --scale.
SCALED = ("worker-media", "worker-speech")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def example_env() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and $$ (a literal $)."""
    def one(match: re.Match[str]) -> str:
        return env.get(match.group(1)) or (match.group(2) or "")
    return VARIABLE.sub(one, value).replace("$$", "$")


def replay_services() -> dict[str, dict[str, Any]]:
    return {name: service for name, service in compose()["services"].items()
            if service.get("image", "").startswith("replay")}


def validator() -> jsonschema.Draft201909Validator:
    """The schema says draft 2019-09 (spelt with a trailing "#" jsonschema does not know)."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"].startswith("http://json-schema.org/draft/2019-09/schema")
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)


def test_the_file_follows_the_compose_specification() -> None:
    errors = [f"{e.json_path}: {e.message}" for e in validator().iter_errors(compose())]
    assert errors == []


@pytest.mark.parametrize("mistake", ["service key", "healthcheck key", "top-level key"])
def test_the_schema_catches_mistakes(mistake: str) -> None:
    """The check above can fail: a misspelt key is refused."""
    broken = copy.deepcopy(compose())
    if mistake == "service key":
        broken["services"]["api"]["comand"] = ["replay"]
    elif mistake == "healthcheck key":
        broken["services"]["api"]["healthcheck"]["intervall"] = "5s"
    else:
        broken["service"] = {}
    assert list(validator().iter_errors(broken))


def test_the_topology() -> None:
    services = compose()["services"]
    assert {"postgres", "minio", "api", "worker-media", "worker-speech", "worker-publish",
            "live"} <= set(services)
    for name in SCALED:  # --scale needs no fixed name and no host port
        assert "container_name" not in services[name]
        assert "ports" not in services[name]
    for name, service in services.items():
        if name != "minio-bucket":  # a one-shot job
            assert "healthcheck" in service, name
    declared = set(compose()["volumes"])
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source in declared, source  # named volumes, no host paths


def test_every_replay_command_exists_in_the_cli() -> None:
    parser = build_parser()
    commands = {name: service["command"] for name, service in replay_services().items()}
    commands |= {f"Dockerfile CMD {n}": json.loads(cmd)
                 for n, cmd in enumerate(re.findall(r"^CMD (\[.*\])$",
                                                    DOCKERFILE.read_text(encoding="utf-8"),
                                                    re.MULTILINE))}
    assert len(commands) >= 8
    for name, command in commands.items():
        assert command[0] == "replay", name
        args = parser.parse_args(command[1:])  # exits (fails the test) on anything unknown
        assert args.config == Path("/etc/replay/replay.toml"), name
    queues = {c[c.index("--queue") + 1] for c in commands.values() if "--queue" in c}
    assert queues == {"media", "speech", "publish", "live"}
    api = replay_services()["api"]["command"]
    assert api[-2:] == ["serve", "--no-workers"]


def test_every_setting_it_uses_exists() -> None:
    env = example_env()
    known = set(setting_names())
    settings_file = compose()["configs"]["replay-settings"]["file"]
    config = ROOT / settings_file
    for name, service in replay_services().items():
        environment = {key: interpolate(str(value), env)
                       for key, value in service["environment"].items()}
        for key in environment:
            if key.startswith(ENV_PREFIX):
                assert key[len(ENV_PREFIX):].lower() in known, (name, key)
        assert [c["target"] for c in service["configs"]] == ["/etc/replay/replay.toml"]
        settings = load_settings(config, environ=environment)  # refuses unknown keys
        assert settings.uses_postgresql, name
        assert settings.object_store_url.startswith("s3://"), name
    assert (ROOT / "config" / "compose.toml").samefile(config)


def test_every_variable_comes_from_the_env_file_and_no_secret_is_committed() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    used = {match.group(1) for match in VARIABLE.finditer(text)
            if match.group(2) is None}  # those without a default must be given
    assert used <= set(example_env()), used - set(example_env())
    for service in compose()["services"].values():
        assert service.get("env_file", [".env"]) == [".env"]
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "/.env" in ignored
    assert load_settings(ROOT / "config" / "compose.toml", environ={}).database_url == ""
    for service in compose()["services"].values():  # secrets only as ${...} from .env
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|DATABASE_URL", key):
                assert VARIABLE.search(str(value)), key


def test_the_worker_healthcheck_reads_the_health_file_age(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("healthcheck", ROOT / "workers" /
                                                  "healthcheck.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    alive = tmp_path / "worker.alive"
    assert module.main([str(alive), "60"]) == 1  # never touched
    alive.touch()
    assert module.main([str(alive), "60"]) == 0
    old = time.time() - 120
    os.utime(alive, (old, old))
    assert module.main([str(alive), "60"]) == 1
    assert module.main(["http://127.0.0.1:9/health"]) == 1  # nothing answers
