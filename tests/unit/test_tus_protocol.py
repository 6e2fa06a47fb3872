"""The pure parts of the tus server: header parsing, metadata checks, upload ids."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from replay.web.tus import (
    Checksum,
    check_metadata,
    display_filename,
    encode_metadata,
    format_size,
    parse_checksum,
    parse_length,
    parse_metadata,
)
from replay.web.uploads_store import UploadNotFound, UploadStore, is_upload_id, new_upload_id


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


SHA1_ABC = base64.b64encode(hashlib.sha1(b"abc").digest()).decode()
SHA256_ABC = hashlib.sha256(b"abc").hexdigest()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, {}),
        ("", {}),
        (f"filename {b64('séance plénière.mp4')}", {"filename": "séance plénière.mp4"}),
        (f"event {b64('nice-2024')},room {b64('A')}", {"event": "nice-2024", "room": "A"}),
        (f"event {b64('e')}, room {b64('r')}", {"event": "e", "room": "r"}),  # space after comma
        ("is_confidential", {"is_confidential": ""}),  # a key without a value
        ("empty ", {"empty": ""}),
    ],
)
def test_parse_metadata(header: str | None, expected: dict[str, str]) -> None:
    assert parse_metadata(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        "filename not-base64!",
        f"filename {b64('a')},filename {b64('b')}",  # duplicate key
        f"event {b64('a')},,room {b64('b')}",  # empty pair
        f"ev\tent {b64('a')}",  # a control character in the key
        f",event {b64('a')}",  # empty pair
        "filename " + base64.b64encode(b"\xff\xfe").decode(),  # not UTF-8
        f"filename {b64('a')} extra",
        f"clé {b64('a')}",  # a key outside printable ASCII
    ],
)
def test_parse_metadata_refuses(header: str) -> None:
    with pytest.raises(ValueError, match="Upload-Metadata invalide\u00a0:"):
        parse_metadata(header)


def test_metadata_round_trips() -> None:
    metadata = {"filename": "a,b c.mp4", "flag": ""}
    assert parse_metadata(encode_metadata(metadata)) == metadata


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        (f"sha1 {SHA1_ABC}", Checksum("sha1", hashlib.sha1(b"abc").digest())),
        (f" sha1 {SHA1_ABC} ", Checksum("sha1", hashlib.sha1(b"abc").digest())),
    ],
)
def test_parse_checksum(header: str | None, expected: Checksum | None) -> None:
    assert parse_checksum(header) == expected


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (f"md5 {SHA1_ABC}", "non pris en charge"),
        (f"SHA1 {SHA1_ABC}", "non pris en charge"),
        (f"sha256 {SHA1_ABC}", "non pris en charge"),
        ("sha1", "invalide"),
        ("sha1 !!!!", "invalide"),
        (f"sha1 {base64.b64encode(b'short').decode()}", "invalide"),
    ],
)
def test_parse_checksum_refuses(header: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_checksum(header)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0), ("1", 1), ("52428800", 52428800), ("007", 7)],
)
def test_parse_length(value: str, expected: int) -> None:
    assert parse_length(value) == expected


@pytest.mark.parametrize("value", [None, "", "-1", "+1", " 1", "1.0", "1e6", "١٢", "9" * 20])
def test_parse_length_refuses(value: str | None) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (the handler supplies the message)
        parse_length(value)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("table ronde.mp4", "table ronde.mp4"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\salle A.mov", "salle A.mov"),
        ("a\x00b\nc.mp4", "abc.mp4"),
        ("..", ".."),  # harmless: a display name, never a path
        ("dir/", "fichier"),
        ("x" * 300, "x" * 255),
    ],
)
def test_display_filename(name: str, expected: str) -> None:
    assert display_filename(name) == expected


def test_check_metadata_keeps_a_display_name_and_normalises_the_digest() -> None:
    metadata = {"event": "e", "room": "r", "filename": "../x.mp4", "sha256": SHA256_ABC.upper()}
    assert check_metadata(metadata, ("event", "room")) == {
        "event": "e",
        "room": "r",
        "filename": "x.mp4",
        "sha256": SHA256_ABC,
    }


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"room": "r"}, "Métadonnée manquante\u00a0: «\u00a0event\u00a0»"),
        ({"event": " ", "room": "r"}, "Métadonnée manquante\u00a0: «\u00a0event\u00a0»"),
        ({"event": "e", "room": "r", "sha256": "abc"}, "«\u00a0sha256\u00a0» invalide"),
        ({"event": "e", "room": "r", "sha256": "g" * 64}, "«\u00a0sha256\u00a0» invalide"),
        ({"event": "e", "room": "r", "started_at": "mardi"}, "«\u00a0started_at\u00a0» invalide"),
    ],
)
def test_check_metadata_refuses(metadata: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_metadata(metadata, ("event", "room"))


def test_started_at_is_iso_8601() -> None:
    metadata = {"event": "e", "room": "r", "started_at": "2024-05-21T09:30:00+02:00"}
    assert check_metadata(metadata, ("event", "room")) == metadata


def test_format_size_uses_french_grouping() -> None:
    assert format_size(21474836480) == "21\u202f474\u202f836\u202f480\u00a0octets"


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (new_upload_id(), True),
        ("A" * 32, True),
        ("a-b_" * 8, True),
        ("A" * 31, False),
        ("A" * 33, False),
        ("../etc/passwd", False),
        ("..%2F..%2Fetc%2Fpasswd" + "A" * 10, False),
        ("A" * 31 + "/", False),
        ("A" * 31 + ".", False),
        ("A" * 32 + "\n", False),
        ("", False),
    ],
)
def test_upload_ids(value: str, valid: bool) -> None:
    assert is_upload_id(value) is valid


@pytest.mark.parametrize("upload_id", ["../etc/passwd", "..", "/etc/passwd", "A" * 31 + "/"])
async def test_the_store_refuses_ids_that_are_not_ids(tmp_path: Path, upload_id: str) -> None:
    store = UploadStore(tmp_path / "uploads")
    with pytest.raises(UploadNotFound):
        await store.get(upload_id)
    with pytest.raises(UploadNotFound):
        await store.remove(upload_id)
    assert not (tmp_path / "uploads").exists()
