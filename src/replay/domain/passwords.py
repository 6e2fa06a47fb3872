"""Password hashing with scrypt (stdlib), encoded as ``scrypt$n$r$p$salt$hash``.

Salt and hash are unpadded URL-safe base64. Verification is constant-time and never
raises: a malformed or tampered encoding simply does not match. Parameters read from an
encoding are bounded, so a tampered row cannot make a login burn gigabytes of memory.

New hashes use N=2^17, r=8, p=1 (the OWASP minimum for scrypt: about 128 MiB and a
fraction of a second each). Hashes made with weaker parameters still verify, and
`needs_rehash` tells the login to replace them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Final

from replay.domain.errors import N_, ReplayError

MIN_LENGTH: Final = 12
MAX_LENGTH: Final = 1024  # scrypt cost does not depend on length, but keep inputs sane
SALT_BYTES: Final = 16
HASH_BYTES: Final = 32
SCHEME: Final = "scrypt"
NBSP: Final = "\u00a0"

_MAX_N: Final = 1 << 20
_MAX_R: Final = 32
_MAX_P: Final = 16
_NUMBER: Final = re.compile(r"[0-9]{1,8}")
_BASE64: Final = re.compile(r"[A-Za-z0-9_-]+")


class PasswordError(ReplayError):
    """A new password is refused (too short, too long, or the two entries differ)."""


@dataclass(frozen=True, slots=True)
class ScryptParams:
    n: int = 1 << 17
    r: int = 8
    p: int = 1

    def acceptable(self) -> bool:
        power_of_two = self.n > 1 and self.n & (self.n - 1) == 0
        return power_of_two and self.n <= _MAX_N and 0 < self.r <= _MAX_R and 0 < self.p <= _MAX_P

    def maxmem(self) -> int:
        return 128 * self.r * (self.n + self.p + 2) + (1 << 20)

    def weaker_than(self, other: ScryptParams) -> bool:
        return self.n < other.n or self.r < other.r or self.p < other.p


#: What new hashes use. Read at each call (never bound as a default argument) so that a
#: test suite may lower it, as test suites do for password hashers.
DEFAULT_PARAMS = ScryptParams()
#: The parameters of hashes made before N=2^17; they verify, and are re-hashed on login.
LEGACY_PARAMS: Final = ScryptParams(n=1 << 14)


def check_new_password(password: str) -> None:
    """Raise `PasswordError` (a message for people) when a new password is not acceptable."""
    if len(password) < MIN_LENGTH:
        raise PasswordError(
            N_("The password must have at least {minimum} characters (it has {length}). A "
               "sentence of a few words does well."), minimum=MIN_LENGTH, length=len(password))
    if len(password) > MAX_LENGTH:
        raise PasswordError(N_("The password must not exceed {maximum} characters."),
                            maximum=MAX_LENGTH)


def hash_password(password: str, *, params: ScryptParams | None = None,
                  salt: bytes | None = None) -> str:
    """Hash a new password (checked with `check_new_password` first)."""
    check_new_password(password)
    params = DEFAULT_PARAMS if params is None else params
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = _scrypt(password, salt, params, HASH_BYTES)
    return "$".join((SCHEME, str(params.n), str(params.r), str(params.p),
                     _b64(salt), _b64(digest)))


def verify_password(password: str, encoded: str) -> bool:
    """Whether `password` matches `encoded`; False for anything malformed."""
    parsed = _parse(encoded)
    if parsed is None or len(password) > MAX_LENGTH:
        return False
    params, salt, expected = parsed
    actual = _scrypt(password, salt, params, len(expected))
    return hmac.compare_digest(actual, expected)


def needs_rehash(encoded: str) -> bool:
    """Whether a stored hash (that just verified) was made with weaker parameters than
    new hashes get."""
    parsed = _parse(encoded)
    return parsed is not None and parsed[0].weaker_than(DEFAULT_PARAMS)


def _scrypt(password: str, salt: bytes, params: ScryptParams, length: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=params.n, r=params.r,
                          p=params.p, maxmem=params.maxmem(), dklen=length)


def _parse(encoded: str) -> tuple[ScryptParams, bytes, bytes] | None:
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != SCHEME or not all(_NUMBER.fullmatch(p) for p in parts[1:4]):
        return None
    params = ScryptParams(int(parts[1]), int(parts[2]), int(parts[3]))
    salt, digest = _unb64(parts[4]), _unb64(parts[5])
    if not params.acceptable() or salt is None or digest is None:
        return None
    if len(salt) < 8 or not 16 <= len(digest) <= 64:
        return None
    return params, salt, digest


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes | None:
    if not _BASE64.fullmatch(text):
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
