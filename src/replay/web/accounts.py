"""The « Votre compte » page: one's own API tokens, with a button to revoke each; for the
organisers of every event (`User.manages_accounts`), every account too, with a button to
disable or enable it. Plain forms (POST, CSRF token, then back to the page): no script.

`setup_accounts(app)` adds ``GET /compte`` and the two form actions, for editors and
organisers (after `setup_auth` and `setup_dashboard`, whose templates and static files
it uses).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Final

from aiohttp import web

from replay.locale import N_, _
from replay.store.users import TokenInfo, User, Users
from replay.web.api_common import parse_id
from replay.web.auth import Role, current_user, on_users, require
from replay.web.dashboard import local_time, page_error, render, zone

ACCOUNT_PAGE: Final = "/compte"
#: Where the dates on the page are shown (accounts belong to no event).
TIMEZONE: Final = "Europe/Paris"
DONE: Final = {
    "revoque": N_("Token revoked: the scripts that used it are refused."),
    "desactive": N_("Account deactivated: its sessions are closed and its tokens refused."),
    "reactive": N_("Account reactivated."),
}

_member: Final = require(Role.EDITOR)  # editors and organisers


def setup_accounts(app: web.Application) -> None:
    app.router.add_get(ACCOUNT_PAGE, account_page, name="compte")
    app.router.add_post(ACCOUNT_PAGE + "/jetons/{id}/revoquer", revoke_token)
    app.router.add_post(ACCOUNT_PAGE + "/comptes/{id}/{action:desactiver|reactiver}",
                        set_disabled)


@dataclass(frozen=True, slots=True)
class TokenView:
    id: int
    label: str
    created: str
    expires: str
    state: str
    active: bool


@dataclass(frozen=True, slots=True)
class AccountView:
    id: int
    name: str
    email: str
    role: str
    events: str
    disabled: bool


def _when(timestamp: float) -> str:
    return local_time(datetime.fromtimestamp(timestamp).astimezone(), zone(TIMEZONE))


def token_view(token: TokenInfo, now: float) -> TokenView:
    state = token.state(now)
    return TokenView(token.id, token.label, _when(token.created_at), _when(token.expires_at),
                     _(state), state == "active")


def account_view(user: User) -> AccountView:
    role = _("organiser") if user.role is Role.ORGANISER else _("editor")
    events = ", ".join(user.event_slugs) or _("all")
    return AccountView(user.id, user.name, user.email, role, events, user.disabled)


@_member
async def account_page(request: web.Request) -> web.Response:
    user = _user(request)
    found, everyone = await on_users(request, lambda users: (
        users.tokens_of(user.id), users.all() if user.manages_accounts else []))
    now = time.time()
    tokens = [token_view(t, now) for t in found]
    accounts = [account_view(u) for u in everyone]
    done = DONE.get(request.query.get("fait", ""))
    done = _(done) if done else ""
    return render(request, "accounts.html", title=_("Your account"), tokens=tokens,
                  accounts=accounts, done=done)


@_member
async def revoke_token(request: web.Request) -> web.Response:
    """One's own tokens; any token for those who manage the accounts."""
    user = _user(request)
    number = parse_id(request.match_info["id"])
    revoked = number is not None and await on_users(request, partial(
        _revoke, token_id=number, user=user))
    if not revoked:
        raise _not_found(request)
    raise web.HTTPSeeOther(f"{ACCOUNT_PAGE}?fait=revoque")


@_member
async def set_disabled(request: web.Request) -> web.Response:
    user = _user(request)
    number = parse_id(request.match_info["id"])
    if not user.manages_accounts:
        raise page_error(request, web.HTTPForbidden,
                         _("Your role does not allow this action: only the organisers of "
                           "every event manage the accounts."))
    if number is None or number == user.id:
        raise _not_found(request)
    disable = request.match_info["action"] == "desactiver"
    if not await on_users(request, lambda users: users.set_disabled(number, disable)):
        raise _not_found(request)
    raise web.HTTPSeeOther(f"{ACCOUNT_PAGE}?fait={'desactive' if disable else 'reactive'}")


def _revoke(users: Users, *, token_id: int, user: User) -> bool:
    """Revoke the token if `user` may: one's own tokens; any for those who manage the
    accounts. False when it is not there for them."""
    token = users.token(token_id)
    if token is None or (token.user_id != user.id and not user.manages_accounts):
        return False
    users.revoke_token(token.id)
    return True


def _user(request: web.Request) -> User:
    user = current_user(request)
    assert user is not None  # the role check came first
    return user


def _not_found(request: web.Request) -> web.HTTPException:
    return page_error(request, web.HTTPNotFound,
                      _("Not found: go back to your account's page."))
