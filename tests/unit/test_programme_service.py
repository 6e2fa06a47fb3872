"""Importing a programme through `services.programmes`: French refusals, one transaction
for a new event and its rule, previews that change nothing. Real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from replay.domain.publication import PublicationRule
from replay.services import programmes
from replay.services.captions import default_options
from replay.services.errors import Conflict, Refused
from replay.settings import Settings
from replay.store.captions import Captions
from replay.store.db import Store

FIXTURES = Path(__file__).parent.parent / "fixtures" / "programmes"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "replay.db")


def test_an_unreadable_programme_is_refused_in_french() -> None:
    with pytest.raises(Refused) as refused:
        programmes.read_programme(b"{not json", "p.json")
    assert refused.value.message.startswith(
        "Programme illisible\u00a0: p.json\u00a0: ligne 1, colonne 2\u00a0: JSON invalide (")
    assert refused.value.status == 400
    assert refused.value.field == "programme"


def test_a_new_event_keeps_its_rule_and_a_second_one_conflicts(store: Store,
                                                                tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    event = programmes.read_programme((FIXTURES / "sample.schedule.json").read_bytes())
    programmes.create_event(store, settings, event, PublicationRule.AUTOMATIQUE)
    options = Captions(store.db).options(event.slug, default_options(settings))
    assert options.publication_rule is PublicationRule.AUTOMATIQUE
    with pytest.raises(Conflict, match="existe déjà"):
        programmes.create_event(store, settings, event, PublicationRule.SOUS_TITRES)
    again = Captions(store.db).options(event.slug, default_options(settings))
    assert again.publication_rule is PublicationRule.AUTOMATIQUE


def test_a_preview_changes_nothing(store: Store) -> None:
    event = programmes.read_programme((FIXTURES / "sample.schedule.json").read_bytes())
    preview = programmes.import_programme(store, event, apply=False)
    assert preview.added
    assert store.load_event(event.slug) is None
    applied = programmes.import_programme(store, event, apply=True)
    assert applied.added == preview.added
    assert store.load_event(event.slug) is not None
