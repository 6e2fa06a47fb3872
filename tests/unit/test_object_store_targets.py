"""Where `replay publish --to` goes: S3 URLs, directories, and the errors a user sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from replay.cli import main
from replay.domain.errors import ReplayError
from replay.settings import load_settings
from replay.storage.factory import object_store_for
from replay.storage.local import LocalDirectoryStore
from replay.storage.s3 import parse_s3_url


@pytest.mark.parametrize(("url", "expected"), [
    ("s3://replays", ("replays", "")),
    ("s3://replays/", ("replays", "")),
    ("s3://replays/site", ("replays", "site")),
    ("s3://replays/site/2026/", ("replays", "site/2026")),
    ("S3://my.bucket-1/a", ("my.bucket-1", "a")),
])
def test_parse_s3_url(url: str, expected: tuple[str, str]) -> None:
    assert parse_s3_url(url) == expected


@pytest.mark.parametrize(("url", "message"), [
    ("replays/site", "is not an S3 URL"),
    ("https://replays/site", "is not an S3 URL"),
    ("s3://", "is not a valid bucket name"),
    ("s3:///site", "is not a valid bucket name"),
    ("s3://Replays/site", "is not a valid bucket name"),
    ("s3://re/site", "is not a valid bucket name"),
    ("s3://-replays/site", "is not a valid bucket name"),
    ("s3://replays/a//b", "has an empty, '.' or '..' part"),
    ("s3://replays/../b", "has an empty, '.' or '..' part"),
    ("s3://replays/a?versionId=1", "takes no query"),
])
def test_parse_s3_url_errors(url: str, message: str) -> None:
    with pytest.raises(ReplayError, match="write s3://BUCKET") as caught:
        parse_s3_url(url)
    assert message in str(caught.value)


def test_object_store_for_directories(tmp_path: Path) -> None:
    settings = load_settings(environ={}, data_dir=tmp_path)
    default = object_store_for(None, settings)
    assert isinstance(default, LocalDirectoryStore)
    assert default.root == settings.site_dir
    elsewhere = object_store_for(str(tmp_path / "www"), settings)
    assert isinstance(elsewhere, LocalDirectoryStore)
    assert elsewhere.root == tmp_path / "www"
    as_url = object_store_for(f"file://{tmp_path}/www", settings)
    assert isinstance(as_url, LocalDirectoryStore)
    assert as_url.root == tmp_path / "www"


def test_object_store_for_refuses_other_schemes(tmp_path: Path) -> None:
    settings = load_settings(environ={}, data_dir=tmp_path)
    with pytest.raises(ReplayError, match="cannot publish to 'ftp://host/x'"):
        object_store_for("ftp://host/x", settings)


def test_s3_settings_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(environ={"REPLAY_S3_ENDPOINT_URL": "http://localhost:9000",
                                      "REPLAY_S3_REGION": "eu-west-3"})
    assert (settings.s3_endpoint_url, settings.s3_region) == ("http://localhost:9000",
                                                               "eu-west-3")


@pytest.mark.parametrize(("argv", "message"), [
    (["publish", "villes", "--to", "s3://"], "is not a valid bucket name"),
    (["publish", "villes", "--to", "gs://bucket/x"], "cannot publish to 'gs://bucket/x'"),
    (["unpublish", "villes", "g1", "--to", "s3://b/x"], "is not a valid bucket name"),
    (["publish", "villes"], "aucune donnée replay dans"),
])
def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 argv: list[str], message: str) -> None:
    assert main(["--data-dir", str(tmp_path / "data"), *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("replay\u00a0: erreur\u00a0: ")
    assert message in captured.err
    assert captured.err.count("\n") == 1
    assert not (tmp_path / "data").exists(), "a failed command creates nothing"
