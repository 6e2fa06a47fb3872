"""`replay worker` and `replay serve --no-workers`, and the settings that choose the job
queue and the object store: French help and errors, bad values refused before anything
runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from replay.cli import main
from replay.domain.errors import ReplayError
from replay.settings import load_settings
from replay.storage.factory import object_store_for
from replay.storage.local import LocalDirectoryStore
from replay.web.app import WORKERS

NBSP = "\u00a0"
ENGLISH = re.compile(r"(?<![-\w])(usage|positional arguments|show this help|the|and|of|to|with)\b")


@pytest.mark.parametrize("command", [["worker"], ["serve"]])
def test_the_help_is_french_and_says_where_the_state_stays(
        command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    text = re.sub(r"[ \n]+", " ", capsys.readouterr().out)
    assert text.startswith(f"utilisation{NBSP}: replay {command[0]}")
    assert not ENGLISH.search(text), ENGLISH.findall(text)
    assert not re.search(r" [:;?!»]|« ", text)
    assert "REPLAY_DATABASE_URL" in text
    assert "fichier SQLite du dossier de données par défaut, ou PostgreSQL" in text


@pytest.mark.parametrize(("argv", "message"), [
    (["worker"], "arguments obligatoires manquants"),
    (["worker", "--queue", "gpu"], "choix invalide"),
    (["worker", "--queue", "media", "--concurrency", "0"], "au moins 1 travail"),
    (["worker", "--queue", "media", "--concurrency", "deux"], "n’est pas un nombre"),
])
def test_bad_worker_arguments_are_refused_in_french(
        argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"replay{NBSP}: erreur{NBSP}:" in err
    assert message in err


@pytest.mark.parametrize(("name", "value", "message"), [
    ("DATABASE_URL", "mysql://db/replay", "database_url"),
    ("DATABASE_URL", "postgresql://", "database_url"),
    ("OBJECT_STORE_URL", "ftp://host/site", "object_store_url"),
    ("OBJECT_STORE_URL", "s3://", "il manque le nom du bucket"),
])
def test_bad_urls_are_clear_french_errors(tmp_path: Path, name: str, value: str,
                                          message: str, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ReplayError, match=message):
        load_settings(environ={f"REPLAY_{name}": value})
    # and through the CLI: exit 2, one French line, nothing created
    monkeypatch.setenv(f"REPLAY_{name}", value)
    assert main(["--data-dir", str(tmp_path / "data"), "worker", "--queue", "media"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"replay{NBSP}: erreur{NBSP}: réglage ")
    assert message in err
    assert not (tmp_path / "data").exists()


def test_database_url_chooses_the_files(tmp_path: Path) -> None:
    assert load_settings(environ={}, data_dir=tmp_path).database_path == \
        tmp_path / "replay.sqlite3"
    elsewhere = load_settings(
        environ={"REPLAY_DATABASE_URL": f"sqlite://{tmp_path}/state.sqlite3"})
    assert elsewhere.database_path == tmp_path / "state.sqlite3"
    assert not elsewhere.uses_postgresql
    pg = load_settings(environ={"REPLAY_DATABASE_URL": "postgresql://replay@db:5432/replay"},
                       data_dir=tmp_path)
    assert pg.uses_postgresql


def test_object_store_url_is_the_default_target(tmp_path: Path) -> None:
    settings = load_settings(environ={}, data_dir=tmp_path)
    default = object_store_for(None, settings)
    assert isinstance(default, LocalDirectoryStore)
    assert default.root == settings.site_dir
    other = load_settings(environ={"REPLAY_OBJECT_STORE_URL": str(tmp_path / "pub")})
    chosen = object_store_for(None, other)
    assert isinstance(chosen, LocalDirectoryStore)
    assert chosen.root == tmp_path / "pub"
    given = object_store_for(str(tmp_path / "given"), other)  # --to wins
    assert isinstance(given, LocalDirectoryStore)
    assert given.root == tmp_path / "given"


def test_serve_no_workers_serves_the_api_only(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[web.Application] = []

    def run_app(app: web.Application, **options: Any) -> None:
        served.append(app)

    monkeypatch.setattr(web, "run_app", run_app)
    assert main(["--data-dir", str(tmp_path), "serve", "--no-workers"]) == 0
    assert main(["--data-dir", str(tmp_path), "serve"]) == 0
    api_only, embedded = served
    names = [getattr(ctx, "__name__", "") for ctx in api_only.cleanup_ctx]
    assert "_workers" not in names
    assert "live_context" not in names
    assert "_queue" in names  # the API still queues jobs for the workers
    embedded_names = [getattr(ctx, "__name__", "") for ctx in embedded.cleanup_ctx]
    assert {"_workers", "live_context", "_queue"} <= set(embedded_names)
    assert api_only[WORKERS] == []
