"""Accounts, login sessions and API tokens over the connection of `Store`.

Session ids and API tokens are random secrets handed out once; only their SHA-256 is
stored, so a copy of the database does not let anyone sign in. Tokens expire
(``token_seconds`` after their creation) and can be revoked; a disabled account can
neither sign in nor use its tokens, and its login sessions are closed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from replay.domain.errors import ReplayError
from replay.domain.passwords import hash_password, verify_password
from replay.locale import N_, _
from replay.store.connection import Connection, IntegrityError, Row

SESSION_SECONDS: Final = 12 * 3600.0
TOKEN_SECONDS: Final = 90 * 86400.0
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+")


class Role(StrEnum):
    """Organisers may do everything (on their events); editors correct subtitles."""

    ORGANISER = "organiser"
    EDITOR = "editor"


class AccountError(ReplayError):
    """An account cannot be created or found; the message is French, for the user."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    name: str
    role: Role
    event_slugs: tuple[str, ...] = ()  # empty: every event
    disabled: bool = False

    def may_access_event(self, slug: str) -> bool:
        return not self.event_slugs or slug in self.event_slugs

    @property
    def manages_accounts(self) -> bool:
        """Organisers of every event manage the accounts (disable, enable)."""
        return self.role is Role.ORGANISER and not self.event_slugs


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An API token as listed: never its secret, which is not kept."""

    id: int
    user_id: int
    label: str
    created_at: float
    expires_at: float
    revoked_at: float | None

    def state(self, now: float) -> str:
        """"active", "revoked" or "expired" (a catalogue message: `_` says it in French)."""
        if self.revoked_at is not None:
            return N_("revoked")
        return N_("active") if self.expires_at > now else N_("expired")


@dataclass(frozen=True, slots=True)
class LoginSession:
    user: User
    csrf_token: str
    expires_at: float


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@functools.cache
def decoy_hash() -> str:
    """Checked when the address is unknown, so both cases take as long."""
    return hash_password(secrets.token_urlsafe(16))


class Users:
    """Repository of accounts; `clock` is wall-clock seconds (sessions expire on it)."""

    def __init__(self, db: Connection, *, session_seconds: float = SESSION_SECONDS,
                 token_seconds: float = TOKEN_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.session_seconds = session_seconds
        self.token_seconds = token_seconds
        self.clock = clock

    # -- accounts ------------------------------------------------------------------

    def add(self, email: str, name: str, role: Role | str, password: str, *,
            event_slugs: Iterable[str] = ()) -> User:
        email = _checked_email(email)
        encoded = hash_password(password)
        try:
            # fetchall, not fetchone: SQLite commits once the statement has run to its end
            (row,) = self.db.execute(
                "INSERT INTO users (email, name, role, password_hash, event_slugs, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (email, name.strip(), Role(role).value, encoded,
                 json.dumps(sorted(set(event_slugs))), self.clock())).fetchall()
        except IntegrityError as exc:
            raise AccountError(_("An account already exists for the address {email}.").format(
                email=email)) from exc
        user = self.get(int(row["id"]))
        assert user is not None
        return user

    def get(self, user_id: int) -> User | None:
        row = self.db.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        return None if row is None else _user(row)

    def by_email(self, email: str) -> User | None:
        found = self.credentials(email)
        return None if found is None else found[0]

    def credentials(self, email: str) -> tuple[User, str] | None:
        """The account and its password hash, for verifying off the event loop; None for
        an unknown or disabled account."""
        row = self.db.execute("SELECT * FROM users WHERE lower(email) = lower(?) AND "
                              "disabled_at IS NULL", (email.strip(),)).fetchone()
        return None if row is None else (_user(row), row["password_hash"])

    def set_password_hash(self, user_id: int, encoded: str) -> None:
        """Replace a hash (re-hashing with stronger parameters after a login)."""
        self.db.execute("UPDATE users SET password_hash = ? WHERE id = ?", (encoded, user_id))

    def all(self) -> list[User]:
        return [_user(row) for row in self.db.execute("SELECT * FROM users ORDER BY lower(email)")]

    def set_disabled(self, user_id: int, disabled: bool) -> bool:
        """Disable (closing its login sessions) or enable an account; False if none."""
        with self.db.transaction():
            changed = self.db.execute("UPDATE users SET disabled_at = ? WHERE id = ?",
                                      (self.clock() if disabled else None, user_id)).rowcount
            if disabled:
                self.db.execute("DELETE FROM login_sessions WHERE user_id = ?", (user_id,))
        return changed == 1

    def authenticate(self, email: str, password: str) -> User | None:
        found = self.credentials(email)
        encoded = decoy_hash() if found is None else found[1]
        matches = verify_password(password, encoded)
        return found[0] if matches and found is not None else None

    # -- API tokens ----------------------------------------------------------------

    def create_token(self, user_id: int, label: str, *, seconds: float | None = None) -> str:
        """A new token for the account, valid `seconds` (default `token_seconds`)."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        lifetime = self.token_seconds if seconds is None else seconds
        self.db.execute(
            "INSERT INTO api_tokens (token_sha256, user_id, label, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)", (_sha256(token), user_id, label.strip(), now, now + lifetime))
        return token

    def user_for_token(self, token: str) -> User | None:
        row = self.db.execute(
            "SELECT u.* FROM api_tokens t JOIN users u ON u.id = t.user_id "
            "WHERE t.token_sha256 = ? AND t.revoked_at IS NULL AND t.expires_at > ? "
            "AND u.disabled_at IS NULL", (_sha256(token), self.clock())).fetchone()
        return None if row is None else _user(row)

    def tokens_of(self, user_id: int) -> list[TokenInfo]:
        rows = self.db.execute("SELECT * FROM api_tokens WHERE user_id = ? ORDER BY id",
                               (user_id,))
        return [_token(row) for row in rows]

    def token(self, token_id: int) -> TokenInfo | None:
        row = self.db.execute("SELECT * FROM api_tokens WHERE id = ?", (token_id,)).fetchone()
        return None if row is None else _token(row)

    def revoke_token(self, token_id: int) -> bool:
        """Revoke a token for good; False when there is none or it already was."""
        return self.db.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (self.clock(), token_id)).rowcount == 1

    # -- login sessions --------------------------------------------------------------

    def create_session(self, user_id: int) -> str:
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        self.db.execute("DELETE FROM login_sessions WHERE expires_at <= ?", (now,))
        self.db.execute("INSERT INTO login_sessions VALUES (?, ?, ?, ?, ?)",
                        (_sha256(session_id), user_id, secrets.token_urlsafe(32), now,
                         now + self.session_seconds))
        return session_id

    def session(self, session_id: str) -> LoginSession | None:
        row = self.db.execute(
            "SELECT u.*, s.csrf_token, s.expires_at FROM login_sessions s "
            "JOIN users u ON u.id = s.user_id WHERE s.id_sha256 = ? AND s.expires_at > ? "
            "AND u.disabled_at IS NULL", (_sha256(session_id), self.clock())).fetchone()
        if row is None:
            return None
        return LoginSession(_user(row), row["csrf_token"], row["expires_at"])

    def user_for_session(self, session_id: str) -> User | None:
        found = self.session(session_id)
        return None if found is None else found.user

    def delete_session(self, session_id: str) -> None:
        self.db.execute("DELETE FROM login_sessions WHERE id_sha256 = ?", (_sha256(session_id),))


def _checked_email(email: str) -> str:
    email = email.strip()
    if not _EMAIL.fullmatch(email):
        raise AccountError(_("Invalid email address: “{email}”.").format(email=email))
    return email


def _user(row: Row) -> User:
    return User(id=row["id"], email=row["email"], name=row["name"], role=Role(row["role"]),
                event_slugs=tuple(json.loads(row["event_slugs"])),
                disabled=row["disabled_at"] is not None)


def _token(row: Row) -> TokenInfo:
    return TokenInfo(id=row["id"], user_id=row["user_id"], label=row["label"],
                     created_at=row["created_at"], expires_at=row["expires_at"],
                     revoked_at=row["revoked_at"])
