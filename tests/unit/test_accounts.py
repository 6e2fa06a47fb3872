"""Logins, tokens and accounts through the real factory: the limiter counts before it
checks, per account and address and per address; X-Forwarded-For only from trusted
proxies; tokens expire and can be revoked, accounts disabled, from the CLI and the
« Votre compte » page; old password hashes are replaced on login."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import html5lib
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from replay.cli import main
from replay.domain import passwords
from replay.domain.passwords import LEGACY_PARAMS, ScryptParams, hash_password
from replay.locale import _
from replay.settings import Settings
from replay.store.db import MIGRATIONS, Store
from replay.store.factory import open_store
from replay.store.users import Role, Users
from replay.web import auth
from replay.web.app import create_app
from replay.web.auth import USERS

PASSWORD = "un mot de passe sûr"
WRONG = "pas le bon mot de passe"
HTML = {"Accept": "text/html"}
NBSP = "\u00a0"

Client = TestClient[web.Request, web.Application]


@dataclass
class Site:
    client: Client
    app: web.Application
    settings: Settings

    @property
    def users(self) -> Users:
        return self.app[USERS]

    async def form(self) -> dict[str, str]:
        page = await self.client.get("/connexion")
        form = parse(await page.text()).find(".//form")
        return {i.get("name"): i.get("value", "") for i in form.iter("input")}

    async def login(self, email: str, password: str, fields: dict[str, str] | None = None,
                    **headers: str) -> Any:
        data = {**(fields or await self.form()), "email": email, "password": password}
        return await self.client.post("/connexion", data=data, headers=headers,
                                      allow_redirects=False)


def parse(text: str) -> Any:
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(text)


async def start(tmp_path: Path, trusted_proxies: str = "",
                database_url: str = "") -> AsyncIterator[Site]:
    config = Settings(data_dir=tmp_path / "data", cpu_threads=1,
                      trusted_proxies=trusted_proxies, database_url=database_url)
    app = create_app(config, run_workers=False)
    async with TestClient(TestServer(app)) as client:
        users = app[USERS]
        users.add("orga@example.org", "Orga", Role.ORGANISER, PASSWORD)
        users.add("limitee@example.org", "Limitée", Role.ORGANISER, PASSWORD,
                  event_slugs=["autre"])
        users.add("edit@example.org", "Édith", Role.EDITOR, PASSWORD)
        yield Site(client, app, config)


@pytest_asyncio.fixture
async def site(tmp_path: Path, engine_url: str) -> AsyncIterator[Site]:
    """The site on each engine of the state store (the accounts' acceptance suite)."""
    async for found in start(tmp_path, database_url=engine_url):
        yield found


# -- the login limiter ---------------------------------------------------------------------


async def test_concurrent_wrong_passwords_are_counted_before_they_are_checked(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    real = passwords.verify_password

    def counting(password: str, encoded: str) -> bool:
        checked.append(password)
        return real(password, encoded)

    monkeypatch.setattr(auth, "verify_password", counting)
    fields = await site.form()
    responses = await asyncio.gather(*(site.login("orga@example.org", f"{WRONG} {n}", fields)
                                       for n in range(30)))
    statuses = sorted(r.status for r in responses)
    assert statuses == [200] * 5 + [429] * 25
    assert len(checked) == 5
    assert (await site.login("orga@example.org", PASSWORD, fields)).status == 429


async def test_one_address_spraying_many_accounts_is_limited(site: Site) -> None:
    fields = await site.form()
    statuses = [(await site.login(f"inconnu{n}@example.org", WRONG, fields)).status
                for n in range(25)]
    assert statuses == [200] * 20 + [429] * 5
    blocked = await site.login("orga@example.org", PASSWORD, fields)
    assert blocked.status == 429
    assert f"Trop de tentatives{NBSP}:" in await blocked.text()


async def test_a_forwarded_header_from_a_client_is_ignored(site: Site) -> None:
    fields = await site.form()
    statuses = [(await site.login(f"inconnu{n}@example.org", WRONG, fields,
                                  **{"X-Forwarded-For": f"198.51.100.{n}"})).status
                for n in range(21)]
    assert statuses[-1] == 429  # one address, whatever the header says


async def test_behind_a_trusted_proxy_each_client_is_limited_alone(tmp_path: Path) -> None:
    async for site in start(tmp_path, trusted_proxies="127.0.0.1"):
        fields = await site.form()
        attacker = {"X-Forwarded-For": "198.51.100.66"}
        for _attempt in range(5):
            assert (await site.login("orga@example.org", WRONG, fields, **attacker)).status == 200
        locked = await site.login("orga@example.org", PASSWORD, fields, **attacker)
        assert locked.status == 429
        organiser = await site.login("orga@example.org", PASSWORD, fields,
                                     **{"X-Forwarded-For": "1.2.3.4, 203.0.113.7"})
        assert organiser.status == 303  # not locked out by someone else's failures
        spoofed = await site.login("orga@example.org", PASSWORD, None,
                                   **{"X-Forwarded-For": "203.0.113.8, 198.51.100.66"})
        assert spoofed.status == 429  # the proxy's hop is what counts, not the client's


def test_a_bad_trusted_proxies_setting_is_refused() -> None:
    from replay.domain.errors import ReplayError
    from replay.settings import load_settings

    with pytest.raises(ReplayError, match="trusted_proxies"):
        load_settings(environ={"REPLAY_TRUSTED_PROXIES": "proxy.local"})


# -- re-hashing --------------------------------------------------------------------------------


async def test_an_old_hash_still_works_and_is_replaced_at_login(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "DEFAULT_PARAMS", ScryptParams())  # production
    user = site.users.by_email("edit@example.org")
    assert user is not None
    site.users.set_password_hash(user.id, hash_password(PASSWORD, params=LEGACY_PARAMS))
    assert (await site.login("edit@example.org", PASSWORD)).status == 303
    found = site.users.credentials("edit@example.org")
    assert found is not None
    assert found[1].split("$")[1:4] == [str(1 << 17), "8", "1"]
    assert site.users.authenticate("edit@example.org", PASSWORD) == user


# -- tokens ---------------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_tokens_expire(site: Site) -> None:
    user = site.users.by_email("orga@example.org")
    assert user is not None
    fresh = site.users.create_token(user.id, "script")
    stale = site.users.create_token(user.id, "ancien", seconds=0)
    assert (await site.client.get("/api/events", headers=bearer(fresh))).status == 200
    assert (await site.client.get("/api/events", headers=bearer(stale))).status == 401
    states = {t.label: _(t.state(site.users.clock())) for t in site.users.tokens_of(user.id)}
    assert states == {"script": "actif", "ancien": "expiré"}
    assert site.users.token_seconds == 90 * 86400


def test_token_lifetime_follows_the_clock(engine_url: str) -> None:
    store = open_store(Settings(database_url=engine_url))
    try:
        now = [1000.0]
        users = Users(store.db, token_seconds=60, clock=lambda: now[0])
        user = users.add("a@example.org", "A", "editor", PASSWORD)
        token = users.create_token(user.id, "t")
        now[0] = 1059.0
        assert users.user_for_token(token) == user
        now[0] = 1060.0
        assert users.user_for_token(token) is None
    finally:
        store.close()


def cli(site: Site, *args: str) -> int:
    """`replay user …` on the site's store, which the CLI finds from REPLAY_DATABASE_URL."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REPLAY_DATABASE_URL", site.settings.database_url)
        return main(["--data-dir", str(site.settings.data_dir), "user", *args])


async def test_the_cli_lists_and_revokes_tokens(
        site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(site, "token", "orga@example.org", "--label", "import", "--days", "2") == 0
    token = capsys.readouterr().out.strip()
    assert (await site.client.get("/api/events", headers=bearer(token))).status == 200
    assert cli(site, "tokens", "ORGA@example.org") == 0
    listed = capsys.readouterr().out
    assert f"«{NBSP}import{NBSP}»" in listed
    assert "actif" in listed
    (info,) = site.users.tokens_of(1)
    assert info.expires_at - info.created_at == pytest.approx(2 * 86400)
    assert cli(site, "revoke", str(info.id)) == 0
    assert f"n°{NBSP}{info.id}" in capsys.readouterr().out
    assert (await site.client.get("/api/events", headers=bearer(token))).status == 401
    assert cli(site, "tokens", "orga@example.org") == 0
    assert "révoqué" in capsys.readouterr().out
    assert cli(site, "revoke", "999") == 2
    assert f"Aucun jeton n°{NBSP}999" in capsys.readouterr().err


async def test_the_cli_disables_an_account(
        site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    user = site.users.by_email("edit@example.org")
    assert user is not None
    token = site.users.create_token(user.id, "script")
    assert (await site.login("edit@example.org", PASSWORD)).status == 303
    assert (await site.client.get("/compte", headers=HTML)).status == 200  # signed in
    assert cli(site, "disable", "edit@example.org") == 0
    assert "désactivé" in capsys.readouterr().out
    assert (await site.client.get("/api/events", headers=bearer(token))).status == 401
    page = await site.client.get("/compte", headers=HTML, allow_redirects=False)
    assert page.status == 303  # the session ended: back to the login page
    refused = await site.login("edit@example.org", PASSWORD)
    assert refused.status == 200
    assert "Adresse ou mot de passe incorrect." in await refused.text()
    assert cli(site, "disable", "edit@example.org", "--undo") == 0
    assert (await site.client.get("/api/events", headers=bearer(token))).status == 200
    assert (await site.login("edit@example.org", PASSWORD)).status == 303
    assert cli(site, "disable", "personne@example.org") == 2


# -- the account page ---------------------------------------------------------------------


async def signed_in(site: Site, email: str) -> None:
    assert (await site.login(email, PASSWORD)).status == 303


async def page(site: Site, path: str = "/compte") -> Any:
    response = await site.client.get(path, headers=HTML)
    assert response.status == 200, await response.text()
    document = parse(await response.text())
    for node in document.iter():
        assert "style" not in node.attrib
        assert not any(name.startswith("on") for name in node.attrib)
        if node.tag == "script":
            assert node.get("src")
    assert document.find(".//style") is None
    return document


def post_form(document: Any, action: str) -> dict[str, str]:
    form = next(f for f in document.iter("form") if f.get("action") == action)
    return {i.get("name"): i.get("value", "") for i in form.iter("input")}


async def test_an_editor_revokes_their_own_tokens_only(site: Site) -> None:
    editor, organiser = site.users.by_email("edit@example.org"), site.users.by_email(
        "orga@example.org")
    assert editor is not None
    assert organiser is not None
    mine = site.users.create_token(editor.id, "mon script")
    theirs = site.users.create_token(organiser.id, "le leur")
    await signed_in(site, "edit@example.org")
    document = await page(site)
    assert document.find(".//h2[@id='comptes']") is None
    labels = [row.findall("td")[1].text for row in document.iter("tr") if row.findall("td")]
    assert labels == ["mon script"]
    (info,) = site.users.tokens_of(editor.id)
    action = f"/compte/jetons/{info.id}/revoquer"
    fields = post_form(document, action)
    done = await site.client.post(action, data=fields, allow_redirects=False)
    assert (done.status, done.headers["Location"]) == (303, "/compte?fait=revoque")
    assert (await site.client.get("/api/events", headers=bearer(mine))).status == 401
    (other,) = site.users.tokens_of(organiser.id)
    refused = await site.client.post(f"/compte/jetons/{other.id}/revoquer", data=fields,
                                     headers=HTML)
    assert refused.status == 404
    assert (await site.client.get("/api/events", headers=bearer(theirs))).status == 200
    no_csrf = await site.client.post(action, data={}, headers=HTML)
    assert no_csrf.status == 403


async def test_an_organiser_of_every_event_disables_and_enables_accounts(site: Site) -> None:
    await signed_in(site, "orga@example.org")
    document = await page(site)
    rows = {row.findall("td")[1].text: row for row in document.iter("tr")
            if len(row.findall("td")) == 6 and "@" in (row.findall("td")[1].text or "")}
    assert set(rows) == {"orga@example.org", "limitee@example.org", "edit@example.org"}
    assert rows["orga@example.org"].find(".//form") is None  # not oneself
    editor = site.users.by_email("edit@example.org")
    assert editor is not None
    action = f"/compte/comptes/{editor.id}/desactiver"
    done = await site.client.post(action, data=post_form(document, action),
                                  allow_redirects=False)
    assert (done.status, done.headers["Location"]) == (303, "/compte?fait=desactive")
    assert site.users.credentials("edit@example.org") is None
    again = await page(site, done.headers["Location"])
    assert f"Compte désactivé{NBSP}:" in "".join(again.find(".//main").itertext())
    enable = f"/compte/comptes/{editor.id}/reactiver"
    await site.client.post(enable, data=post_form(again, enable))
    assert site.users.credentials("edit@example.org") is not None
    myself = await site.client.post("/compte/comptes/1/desactiver",
                                    data=post_form(again, enable), headers=HTML)
    assert myself.status == 404


async def test_an_organiser_limited_to_some_events_does_not_manage_accounts(
        site: Site) -> None:
    await signed_in(site, "limitee@example.org")
    document = await page(site)
    assert document.find(".//h2[@id='comptes']") is None
    csrf = document.find(".//meta[@name='csrf-token']").get("content")
    refused = await site.client.post("/compte/comptes/3/desactiver", headers=HTML,
                                     data={"csrf_token": csrf})
    assert refused.status == 403
    assert site.users.credentials("edit@example.org") is not None


# -- the migration -----------------------------------------------------------------------------


def test_tokens_made_before_the_migration_keep_working_for_a_while(tmp_path: Path) -> None:
    path = tmp_path / "replay.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:3], start=1):
        old.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
    old.execute("INSERT INTO users (email, name, role, password_hash, created_at) "
                "VALUES ('a@example.org', 'A', 'editor', 'x', 0)")
    old.execute("INSERT INTO api_tokens VALUES (?, 1, 'ancien', 0)",
                ("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",))
    old.close()
    store = Store.open(path)
    try:
        users = Users(store.db)
        found = users.user_for_token("test")  # sha256("test") is the row above
        assert found is not None
        assert found.email == "a@example.org"
        (info,) = users.tokens_of(found.id)
        assert info.expires_at - users.clock() == pytest.approx(90 * 86400, abs=60)
    finally:
        store.close()
