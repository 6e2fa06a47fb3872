"""The CLI speaks French to people (help, errors, results) and JSON to scripts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from replay.cli import main
from replay.settings import Settings
from replay.store.db import Store

NBSP = "\u00a0"
HELPS = [[], ["process"], ["demo"], ["publish"], ["unpublish"], ["serve"], ["ingest"],
         ["user"], ["user", "add"], ["user", "token"]]
ENGLISH = re.compile(r"(?<![-\w])(usage|positional arguments|show this help|the|and|of|to|with)\b")


@pytest.mark.parametrize("command", HELPS, ids=lambda c: " ".join(c) or "replay")
def test_every_help_is_french_with_its_typography(command: list[str],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"utilisation{NBSP}: replay")
    assert f"options{NBSP}:" in text
    assert not ENGLISH.search(text), ENGLISH.findall(text)
    assert not re.search(r" [:;?!»]|« ", text)


def test_argparse_errors_are_french(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["process", "x.mp4"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"replay{NBSP}: erreur{NBSP}: arguments obligatoires manquants{NBSP}: " \
           "--schedule, --room" in err


def test_user_commands_answer_in_json_for_scripts(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("REPLAY_NEW_PASSWORD", "un mot de passe assez long")
    data = ["--data-dir", str(tmp_path)]
    assert main([*data, "user", "add", "orga@example.org", "--name", "Orga", "--role",
                 "organiser", "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert (added["email"], added["role"]) == ("orga@example.org", "organiser")
    assert main([*data, "user", "token", "orga@example.org", "--label", "script",
                 "--json"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)["token"]) >= 32
    assert captured.err == f"Conservez ce jeton{NBSP}: il ne sera plus affiché.\n"
    assert main([*data, "user", "token", "nobody@example.org", "--label", "x"]) == 2
    assert capsys.readouterr().err.startswith(f"replay{NBSP}: erreur{NBSP}: Aucun compte")


@pytest.mark.parametrize("public_url", ["", "https://replay.example.org/site/"])
def test_publishing_warns_when_the_podcast_would_link_relatively(
        public_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from tests.unit.test_dashboard import sample_event

    store = Store.open(Settings(data_dir=tmp_path).database_path)
    store.save_event(sample_event())
    store.close()
    monkeypatch.setenv("REPLAY_PUBLIC_URL", public_url)
    data = ["--data-dir", str(tmp_path)]
    assert main([*data, "publish", sample_event().slug]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"Publié{NBSP}: ")
    warning = ("Le podcast est publié avec des liens relatifs, faute d’adresse publique du "
               f"site (réglage «{NBSP}public_url{NBSP}»){NBSP}: les applications de podcast "
               "le refuseront.")
    assert lines[1:] == ([] if public_url else [f"Attention{NBSP}: {warning}"])
    assert main([*data, "publish", sample_event().slug, "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["warnings"] == ([] if public_url else [warning])
