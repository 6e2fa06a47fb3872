"""Who is asking, and may they: sessions, API tokens, roles, CSRF, the login page.

- `setup_auth(app)` adds `auth_middleware` and the routes ``GET/POST /connexion`` and
  ``POST /deconnexion``. ``app[USERS]`` must hold a `Users` repository before the first
  request (set it where the store is opened, e.g. in its ``cleanup_ctx``), and
  ``app[DB]`` the store's own thread: every account query runs there (`on_users`), with
  the lifetimes and clock of ``app[USERS]``, never on the event loop.
- The middleware resolves the user from ``Authorization: Bearer <token>`` or the
  ``replay_session`` cookie and stores an `Identity` under ``request[IDENTITY]``.
- Every state-changing request (POST, PUT, PATCH, DELETE) authenticated by the session
  cookie must carry the session's CSRF token, in the form field ``csrf_token`` or the
  header ``X-CSRF-Token``; pages get it from `csrf_token(request)`. Bearer requests are
  exempt: browsers never attach that header on their own.
- Pages declare who may call them with `require(Role.EDITOR)` and the like; API routes
  get the same guard from the role in their table (`replay.web.api_routes`). An
  organiser passes every role check. Anonymous visitors get 401 (API) or a redirect to
  the login page (HTML); a user whose role does not fit gets 403.
- Logins are rate-limited per account and client address, and per client address alone;
  each attempt is counted before its password is checked. The client address is the
  connection's, or what ``X-Forwarded-For`` says when the connection comes from one of
  the ``trusted_proxies``. Passwords are checked in threads, a few at a time (each scrypt
  takes 128 MiB); a hash made with weaker parameters is replaced on a successful login.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, Literal, TypeAlias, TypeVar

from aiohttp import web
from multidict import MultiDictProxy
from yarl import URL

from replay.domain.addresses import IPNetwork, client_address, parse_networks
from replay.domain.passwords import PasswordError, hash_password, needs_rehash, verify_password
from replay.locale import N_, _
from replay.settings import Settings
from replay.store.connection import Connection
from replay.store.db import Store
from replay.store.users import Role, User, Users, decoy_hash
from replay.web.errors import MALFORMED_BODY
from replay.web.keys import DB
from replay.web.pages import LOGIN_PATH, error_html, render_text, setup_pages

__all__ = [
    "AUTH_CONFIG", "IDENTITY", "LOGIN_LIMITER", "PASSWORD_SLOTS", "USERS", "AuthConfig",
    "Identity", "LoginLimiter", "Role", "User", "Users", "auth_middleware", "authorizer",
    "client_ip", "csrf_token", "current_user", "on_users", "require", "setup_auth", "users_for",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")

NBSP: Final = "\u00a0"
SESSION_COOKIE: Final = "replay_session"
LOGIN_CSRF_COOKIE: Final = "replay_connexion"
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"
LOGOUT_PATH: Final = "/deconnexion"
NEXT_PARAM: Final = "suivant"
#: Where a login leads when no page asked for it: the landing page, which sends each role
#: to its own home (organisers to their events, editors to the sessions to correct).
HOME: Final = "/"
UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPES: Final = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})

#: Messages of the French catalogue (`replay.locale`), said with ``_()``.
WRONG_CREDENTIALS: Final = N_("Wrong address or password.")
TOO_MANY_ATTEMPTS: Final = N_("Too many attempts: try again in {minutes} min. Failed logins "
                              "are limited to protect the accounts.")
CSRF_REFUSED: Final = N_("Security token missing or invalid: reload the page, then try again.")
LOGIN_EXPIRED: Final = N_("The form has expired: enter your credentials again.")
LOGIN_REQUIRED: Final = N_("Login required.")
ROLE_REFUSED: Final = N_("Your role does not allow this action.")


#: Passwords checked at once: each scrypt holds 128 MiB and a core.
PASSWORD_CHECKS: Final = 2


@dataclass(frozen=True, slots=True)
class AuthConfig:
    cookie_secure: bool = False  # also Secure whenever the request itself is HTTPS
    max_failures: int = 5  # per account and client address
    failure_window: float = 15 * 60.0
    failures_per_ip: int = 20  # per client address, whatever the account
    trusted_proxies: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthConfig:
        return cls(cookie_secure=settings.cookie_secure,
                   failures_per_ip=settings.login_failures_per_ip,
                   trusted_proxies=parse_networks(settings.trusted_proxies))


@dataclass(frozen=True, slots=True)
class Identity:
    user: User | None
    via: Literal["token", "session"] | None = None
    session_id: str = ""
    csrf: str = ""


ANONYMOUS: Final = Identity(None)


_Key: TypeAlias = tuple[str, ...]


class LoginLimiter:
    """Login attempts in a sliding window, in memory: at most `max_failures` per (email,
    client address) and `per_ip` per client address, whatever the email.

    `attempt` counts an attempt before its password is checked, with no await in
    between: concurrent attempts cannot all slip under the limit. A successful login
    forgives its own attempt (and the account's earlier ones from that address).
    """

    def __init__(self, max_failures: int, window: float,
                 clock: Callable[[], float] = time.monotonic, *, per_ip: int = 20) -> None:
        self.max_failures, self.window, self.clock = max_failures, window, clock
        self.per_ip = per_ip
        self._attempts: dict[_Key, deque[float]] = {}

    def attempt(self, email: str, ip: str) -> float:
        """Count an attempt and return 0, or return the seconds to wait (not counted)."""
        limits = ((("account", email, ip), self.max_failures), (("ip", ip), self.per_ip))
        wait = max(self._wait(key, limit) for key, limit in limits)
        if wait:
            return wait
        for key, _limit in limits:
            self._recent(key).append(self.clock())
        self._forget_stale()
        return 0.0

    def succeeded(self, email: str, ip: str) -> None:
        self._attempts.pop(("account", email, ip), None)
        per_ip = self._attempts.get(("ip", ip))
        if per_ip:
            per_ip.pop()

    def _wait(self, key: _Key, limit: int) -> float:
        recent = self._recent(key)
        if len(recent) < limit:
            return 0.0
        return max(1.0, recent[-limit] + self.window - self.clock())

    def _recent(self, key: _Key) -> deque[float]:
        times = self._attempts.setdefault(key, deque())
        while times and times[0] <= self.clock() - self.window:
            times.popleft()
        return times

    def _forget_stale(self) -> None:
        if len(self._attempts) > 10_000:
            for stale in [k for k in self._attempts if not self._recent(k)]:
                del self._attempts[stale]


USERS: Final = web.AppKey("replay_users", Users)
AUTH_CONFIG: Final = web.AppKey("replay_auth_config", AuthConfig)
LOGIN_LIMITER: Final = web.AppKey("replay_login_limiter", LoginLimiter)
PASSWORD_SLOTS: Final = web.AppKey("replay_password_slots", asyncio.Semaphore)
IDENTITY: Final = web.RequestKey("replay_identity", Identity)


def setup_auth(app: web.Application, config: AuthConfig | None = None, *,
               users: Users | None = None,
               clock: Callable[[], float] = time.monotonic) -> None:
    """Add the middleware and the login routes; `users` may also be set later."""
    config = config or AuthConfig()
    app[AUTH_CONFIG] = config
    app[LOGIN_LIMITER] = LoginLimiter(config.max_failures, config.failure_window, clock,
                                      per_ip=config.failures_per_ip)
    app[PASSWORD_SLOTS] = asyncio.Semaphore(PASSWORD_CHECKS)
    if users is not None:
        app[USERS] = users
    setup_pages(app)
    app.middlewares.append(auth_middleware)
    app.router.add_get(LOGIN_PATH, login_page, name="connexion")
    app.router.add_post(LOGIN_PATH, login_submit)
    app.router.add_post(LOGOUT_PATH, logout, name="deconnexion")


# -- identity and CSRF -------------------------------------------------------------------


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    identity = await _identify(request)
    request[IDENTITY] = identity
    if _needs_csrf(request, identity) and not await _csrf_ok(request, identity.csrf):
        return _refusal(request, 403, _(CSRF_REFUSED))
    return await handler(request)


def _needs_csrf(request: web.Request, identity: Identity) -> bool:
    """Cookie-authenticated state changes; the login form has its own token."""
    unsafe = request.method in UNSAFE_METHODS and identity.via == "session"
    return unsafe and request.match_info.handler is not login_submit


async def _identify(request: web.Request) -> Identity:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        secret = token.strip()
        user = await on_users(request, lambda users: users.user_for_token(secret)
                              ) if secret else None
        return ANONYMOUS if user is None else Identity(user, "token")
    session_id = request.cookies.get(SESSION_COOKIE, "")
    session = await on_users(request, lambda users: users.session(session_id)
                             ) if session_id else None
    if session is None:
        return ANONYMOUS
    return Identity(session.user, "session", session_id, session.csrf_token)


async def _csrf_ok(request: web.Request, expected: str) -> bool:
    supplied: object = request.headers.get(CSRF_HEADER)
    if supplied is None and request.content_type in FORM_TYPES:
        try:
            supplied = (await request.post()).get(CSRF_FIELD)
        except MALFORMED_BODY:
            return False
    return isinstance(supplied, str) and _same(supplied, expected)


def _same(a: str, b: str) -> bool:
    return bool(a) and hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def identity(request: web.Request) -> Identity:
    found = request.get(IDENTITY)
    return found if isinstance(found, Identity) else ANONYMOUS


def current_user(request: web.Request) -> User | None:
    return identity(request).user


def csrf_token(request: web.Request) -> str:
    """The token a page must put in its forms (field ``csrf_token``); empty if anonymous."""
    return identity(request).csrf


# -- roles -------------------------------------------------------------------------------


def _roles(roles: Role | Iterable[Role]) -> frozenset[Role]:
    return frozenset({roles} if isinstance(roles, Role) else roles)


def check_role(request: web.Request, roles: Role | Iterable[Role]) -> User:
    """The current user if their role fits (organisers always do); else raise 401/403."""
    user = current_user(request)
    if user is None:
        raise _unauthenticated(request)
    if user.role is not Role.ORGANISER and user.role not in _roles(roles):
        raise _http_error(request, web.HTTPForbidden, _(ROLE_REFUSED))
    return user


def require(roles: Role | Iterable[Role]) -> Callable[[Handler], Handler]:
    """Decorate a handler so only these roles (and organisers) reach it."""
    allowed = _roles(roles)

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            check_role(request, allowed)
            return await handler(request)

        return guarded

    return decorate


def authorizer(roles: Role | Iterable[Role]) -> Callable[[web.Request], Awaitable[None]]:
    """The same check as a callable, e.g. for ``create_tus_app(authorize=...)``."""
    allowed = _roles(roles)

    async def authorize(request: web.Request) -> None:
        check_role(request, allowed)

    return authorize


def wants_html(request: web.Request) -> bool:
    if request.path.startswith("/api/") or "Authorization" in request.headers:
        return False
    return "text/html" in request.headers.get("Accept", "")


def _unauthenticated(request: web.Request) -> web.HTTPException:
    if wants_html(request):
        target = request.path_qs if request.method in {"GET", "HEAD"} else HOME
        return web.HTTPSeeOther(location=str(URL(LOGIN_PATH).with_query({NEXT_PARAM: target})))
    error = _http_error(request, web.HTTPUnauthorized, _(LOGIN_REQUIRED))
    error.headers["WWW-Authenticate"] = 'Bearer realm="replay"'
    return error


def _http_error(request: web.Request, kind: type[web.HTTPException],
                message: str) -> web.HTTPException:
    if wants_html(request):
        return kind(text=_error_html(request, kind.status_code, message),
                    content_type="text/html")
    return kind(text=json.dumps({"error": message}, ensure_ascii=False),
                content_type="application/json")


def _refusal(request: web.Request, status: int, message: str) -> web.Response:
    if wants_html(request):
        return web.Response(status=status, content_type="text/html", charset="utf-8",
                            text=_error_html(request, status, message))
    return web.json_response({"error": message}, status=status,
                             dumps=functools.partial(json.dumps, ensure_ascii=False))


def _error_html(request: web.Request, status: int, message: str) -> str:
    return error_html(request, status, message, user=current_user(request),
                      csrf=csrf_token(request))


# -- login and logout ----------------------------------------------------------------------


async def login_page(request: web.Request) -> web.Response:
    suivant = safe_next(request.query.get(NEXT_PARAM, HOME))
    return _login_form(request, 200, suivant=suivant)


async def login_submit(request: web.Request) -> web.Response:
    try:
        form = await request.post()
    except MALFORMED_BODY:
        return _login_form(request, 400, suivant=HOME, error=_(LOGIN_EXPIRED))
    email, password = _field(form, "email").strip(), _field(form, "password")
    suivant = safe_next(_field(form, NEXT_PARAM))
    if not _same(_field(form, CSRF_FIELD), request.cookies.get(LOGIN_CSRF_COOKIE, "")):
        return _login_form(request, 403, suivant=suivant, email=email, error=_(LOGIN_EXPIRED))
    address = client_ip(request)
    limiter = request.config_dict[LOGIN_LIMITER]
    wait = limiter.attempt(email.casefold(), address)
    if wait:
        response = _login_form(request, 429, suivant=suivant, email=email,
                               error=_(TOO_MANY_ATTEMPTS).format(minutes=-int(-wait // 60)))
        response.headers["Retry-After"] = str(int(wait))
        return response
    async with request.config_dict[PASSWORD_SLOTS]:
        user = await _authenticate(request, email, password)
    if user is None:
        return _login_form(request, 200, suivant=suivant, email=email, error=_(WRONG_CREDENTIALS))
    limiter.succeeded(email.casefold(), address)
    return await _signed_in(request, user, suivant)


def client_ip(request: web.Request) -> str:
    """The client's address: the connection's, or the forwarded one behind a trusted
    proxy (setting ``trusted_proxies``)."""
    trusted = request.config_dict[AUTH_CONFIG].trusted_proxies
    return client_address(request.remote or "", request.headers.getall("X-Forwarded-For", []),
                          trusted)


async def _authenticate(request: web.Request, email: str, password: str) -> User | None:
    """The database on the store's thread, scrypt in another; a hash made with weaker
    parameters than today's is replaced by a new one."""
    found = await on_users(request, lambda users: users.credentials(email)) if email else None
    encoded = decoy_hash() if found is None else found[1]
    matches = await asyncio.to_thread(verify_password, password, encoded)
    if not matches or found is None:
        return None
    if needs_rehash(encoded):
        try:
            stronger = await asyncio.to_thread(hash_password, password)
        except PasswordError:  # an old password the rules of today refuse: keep its hash
            return found[0]
        user_id = found[0].id
        await on_users(request, lambda users: users.set_password_hash(user_id, stronger))
    return found[0]


async def _signed_in(request: web.Request, user: User, suivant: str) -> web.Response:
    previous = request.cookies.get(SESSION_COOKIE)
    session_id = await on_users(request, partial(_new_session, user_id=user.id,
                                                 previous=previous))
    response = web.Response(status=303, headers={"Location": suivant})
    response.set_cookie(SESSION_COOKIE, session_id,
                        max_age=int(request.config_dict[USERS].session_seconds),
                        **_cookie_flags(request))
    response.del_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
    return response


async def logout(request: web.Request) -> web.Response:
    current = identity(request)
    if current.via == "session":
        await on_users(request, lambda users: users.delete_session(current.session_id))
    response = web.Response(status=303, headers={"Location": LOGIN_PATH})
    response.del_cookie(SESSION_COOKIE, path="/", **_cookie_flags(request, with_path=False))
    return response


def _new_session(users: Users, *, user_id: int, previous: str | None) -> str:
    """A new login session of the user, the one the browser held before closed."""
    if previous:
        users.delete_session(previous)
    return users.create_session(user_id)


def _cookie_flags(request: web.Request, *, with_path: bool = True) -> dict[str, Any]:
    secure = request.config_dict[AUTH_CONFIG].cookie_secure or request.secure
    flags: dict[str, Any] = {"httponly": True, "samesite": "Lax", "secure": secure}
    if with_path:
        flags["path"] = "/"
    return flags


def _login_form(request: web.Request, status: int, *, suivant: str, email: str = "",
                error: str = "") -> web.Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if len(token) != 43:
        token = secrets.token_urlsafe(32)
    html = render_text(request, "login.html", {
        "title": _("Login"), "csrf": token, "suivant": suivant, "email": email,
        "error": error, "action": LOGIN_PATH})
    response = web.Response(status=status, text=html, content_type="text/html",
                            charset="utf-8", headers={"Cache-Control": "no-store"})
    flags = _cookie_flags(request, with_path=False)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, path=LOGIN_PATH, **flags)
    return response


def safe_next(target: str) -> str:
    """A local path to go to after login; anything else (another site...) becomes ``/``."""
    local = target.startswith("/") and not target.startswith("//")
    if local and "\\" not in target and target.isprintable():
        return target
    return "/"


def _field(form: MultiDictProxy[Any], name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


async def on_users(request: web.Request, use: Callable[[Users], T]) -> T:
    """``use(users)`` on the store's thread (`AsyncStore.run`), never on the event loop:
    the accounts repository of ``app[USERS]`` (its lifetimes, its clock) over that
    thread's connection."""
    users = request.config_dict[USERS]

    def over(store: Store) -> T:
        return use(Users(store.db, session_seconds=users.session_seconds,
                         token_seconds=users.token_seconds, clock=users.clock))

    return await request.config_dict[DB].run(over)


def users_for(connection: Connection, settings: Settings) -> Users:
    """The repository with the configured lifetimes (``session_hours``, ``token_days``)."""
    return Users(connection, session_seconds=settings.session_hours * 3600.0,
                 token_seconds=settings.token_days * 86400.0)
