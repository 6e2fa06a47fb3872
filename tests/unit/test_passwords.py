"""scrypt password hashes: round trips, wrong passwords, tampered encodings, length rules."""

from __future__ import annotations

import pytest

from replay.domain import passwords
from replay.domain.passwords import (
    MIN_LENGTH,
    NBSP,
    PasswordError,
    ScryptParams,
    check_new_password,
    hash_password,
    verify_password,
)
from replay.locale import describe

FAST = ScryptParams(n=1 << 4, r=8, p=1)  # tests only; production uses the defaults
SALT = bytes(range(16))


@pytest.mark.parametrize(
    "password",
    ["correct horse battery", "douze carac.", "mot de passe très sûr", "🔑" * 12, "x" * 1024],
)
def test_hash_then_verify(password: str) -> None:
    encoded = hash_password(password, params=FAST)
    assert verify_password(password, encoded)


def test_default_parameters_and_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "DEFAULT_PARAMS", ScryptParams())  # undo tests/conftest.py
    encoded = hash_password("correct horse battery")
    scheme, n, r, p, salt, digest = encoded.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(1 << 17), "8", "1")  # the OWASP minimum
    assert len(salt) == 22  # 16 bytes, unpadded base64
    assert len(digest) == 43  # 32 bytes
    assert verify_password("correct horse battery", encoded)


def test_each_hash_has_its_own_salt() -> None:
    assert hash_password("correct horse battery", params=FAST) != hash_password(
        "correct horse battery", params=FAST)


def test_same_salt_same_hash() -> None:
    first = hash_password("correct horse battery", params=FAST, salt=SALT)
    assert first == hash_password("correct horse battery", params=FAST, salt=SALT)


@pytest.mark.parametrize(
    "attempt",
    ["correct horse batterY", "correct horse battery ", "", "Correct horse battery",
     "correct horse battery" * 100],
)
def test_wrong_password(attempt: str) -> None:
    assert not verify_password(attempt, hash_password("correct horse battery", params=FAST))


def _tampered(field: int, value: str) -> str:
    parts = hash_password("correct horse battery", params=FAST, salt=SALT).split("$")
    parts[field] = value
    return "$".join(parts)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "plain text",
        "scrypt$16$8$1$AAAA",
        _tampered(0, "bcrypt"),
        _tampered(1, "32"),  # other cost: another hash
        _tampered(1, "17"),  # not a power of two
        _tampered(1, str(1 << 30)),  # would need gigabytes
        _tampered(1, "²"),  # a Unicode digit
        _tampered(2, "0"),
        _tampered(3, "99"),
        _tampered(4, "AAAAAAAAAAAAAAAAAAAAAA"),  # other salt
        _tampered(4, "not base64!"),
        _tampered(4, "AA"),  # salt too short
        _tampered(5, "A" * 43),  # other digest
        _tampered(5, "A" * 4),  # digest too short
        _tampered(5, "é" * 43),
    ],
)
def test_tampered_or_malformed_hash_never_matches(encoded: str) -> None:
    assert not verify_password("correct horse battery", encoded)


@pytest.mark.parametrize("password", ["", "court", "x" * (MIN_LENGTH - 1), "onze  chars"])
def test_too_short_is_refused_in_french(password: str) -> None:
    with pytest.raises(PasswordError) as caught:
        hash_password(password, params=FAST)
    message = describe(caught.value)
    assert f"au moins {MIN_LENGTH}{NBSP}caractères" in message
    assert f"il en compte {len(password)}" in message


def test_twelve_characters_are_enough() -> None:
    check_new_password("x" * MIN_LENGTH)


def test_too_long_is_refused() -> None:
    with pytest.raises(PasswordError) as caught:
        check_new_password("x" * 1025)
    assert "dépasser" in describe(caught.value)
