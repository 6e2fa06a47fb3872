"""The one error middleware, through the real factory: every error is French, as a page
of the pages' Jinja environment outside /api/ and as JSON under /api/, with the security
headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from xml.etree.ElementTree import Element

import html5lib
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from replay.settings import Settings
from replay.web.app import CONTENT_SECURITY_POLICY, create_app

Client = TestClient[web.Request, web.Application]
NS = "{http://www.w3.org/1999/xhtml}"
NBSP = "\u00a0"


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("secret detail of the failure")


@pytest_asyncio.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    app = create_app(Settings(data_dir=tmp_path, cpu_threads=1), run_workers=False)
    app.router.add_get("/en-panne", boom)
    app.router.add_get("/api/en-panne", boom)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def _page(text: str) -> Element:
    document: Element = html5lib.parse(text)
    return document


def _texts(document: Element) -> str:
    return " ".join(" ".join(node.itertext()) for node in document.iter(f"{NS}main"))


@pytest.mark.parametrize(("path", "status", "says", "back"), [
    ("/nulle-part", 404, f"Page introuvable{NBSP}:", "/connexion"),
    ("/organisateur/static/absent.js", 404, f"Page introuvable{NBSP}:", "/connexion"),
    ("/site/absent/", 404, f"Page introuvable{NBSP}:", "/site/"),
    ("/en-panne", 500, f"Erreur du serveur{NBSP}:", "/connexion"),
])
async def test_page_errors_are_french_pages(client: Client, path: str, status: int, says: str,
                                            back: str) -> None:
    response = await client.get(path)  # no Accept header: a page all the same
    assert response.status == status
    assert response.content_type == "text/html"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    text = await response.text()
    document = _page(text)
    assert document.get("lang") == "fr"
    heading = document.find(f".//{NS}h1")
    assert heading is not None
    assert heading.text is not None
    assert heading.text.startswith(says)
    assert f"Erreur {status}." in _texts(document)
    assert back in [a.get("href") for a in document.iter(f"{NS}a")]
    assert "secret detail" not in text
    assert "Not Found" not in text


async def test_the_public_site_error_page_shows_no_organiser_links(client: Client) -> None:
    document = _page(await (await client.get("/site/absent/")).text())
    links = [a.get("href") for a in document.iter(f"{NS}a")]
    assert "/organisateur/" not in links


async def test_a_wrong_method_on_a_page_keeps_allow(client: Client) -> None:
    response = await client.delete("/connexion")
    assert response.status == 405
    assert response.content_type == "text/html"
    assert "GET" in response.headers["Allow"]
    assert f"Action impossible sur cette page{NBSP}:" in await response.text()


@pytest.mark.parametrize(("method", "path", "status", "says"), [
    ("GET", "/api/nulle-part", 404, f"Ressource introuvable{NBSP}: vérifiez l’adresse."),
    ("DELETE", "/api/openapi.json", 405,
     f"Méthode non autorisée sur cette adresse{NBSP}: consultez /api/openapi.json."),
    ("GET", "/api/en-panne", 500, f"Erreur du serveur{NBSP}: réessayez dans un instant"
                                  f"{NBSP}; si elle se répète, prévenez l’administrateur."),
])
async def test_api_errors_are_french_json(client: Client, method: str, path: str, status: int,
                                          says: str) -> None:
    response = await client.request(method, path)
    assert response.status == status
    assert response.content_type == "application/json"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert await response.json() == {"error": says}
