"""Flask integration: ``TicketAuth`` and ``@auth.required`` (the Flask extension pattern).

::

    auth = TicketAuth(verifier=Verifier.from_settings(settings))   # or TicketAuth(app, ...)
    auth.init_app(app)

    @app.get("/notes")
    @auth.required
    def notes(): ...                       # flask.g.orthrus_identity is the Identity

    @app.get("/admin")
    @auth.required(groups=["admins"])     # 403 for a client outside the group
    def admin(): ...

    @app.get("/payroll")
    @auth.required(factors=["otp"])       # 403 unless the login gave a one-time code
    def payroll(): ...

A request carrying ``Authorization: Ticket <AP-REQ>`` is verified (RFC 4120 §3.2.3) with
the request's method and path as the binding; when the AP-REQ asks for mutual
authentication (``mutual-required``) the response, whatever the view answers (a 403
included), carries ``Authentication-Info: Ticket <AP-REP>`` (RFC 4120 §3.2.4, RFC 7615).
A request carrying ``Authorization: Negotiate <token>`` (RFC 4559: curl ``--negotiate``,
browsers, requests-gssapi) is verified the same way with the keytab's Kerberos keys, and the
response carries ``WWW-Authenticate: Negotiate <token>`` (the AP-REP when asked for).
With ``sessions=True`` a successful AP exchange whose request asks for one (``Prefer:
orthrus-session``, RFC 7240, as ``client_lib``'s auth classes send) also hands out a session
(:mod:`service_lib.sessions`): an ``Orthrus-Session`` token that later requests may present
instead, each with an ``Orthrus-Session-Proof`` of the ticket's session key, and
``Preference-Applied: orthrus-session``; a client that asks for none pays for none. With
``browser_sessions=True`` as well, a request over HTTPS also gets it as an ``orthrus_session``
cookie (``Secure; HttpOnly; SameSite=Strict``), taken back over HTTPS only.
Refusals are JSON errors (:mod:`service_lib.http`): 400, 401 with both challenges, or 403.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from flask import Flask, Response, current_app, g, request

from orthrus.errors import MalformedMessage, ProtocolError
from orthrus.forwarding import FORWARDED_TGT_HEADER
from orthrus.httpauth import (
    PREFER_HEADER,
    PREFERENCE_APPLIED_HEADER,
    SESSION_PREFERENCE,
    asks_for_session,
)
from orthrus.negotiate import parse_negotiate
from orthrus_io.errors import Unavailable
from service_lib.http import (
    SESSION_COOKIE,
    SESSION_HEADER,
    SESSION_PROOF_HEADER,
    ErrorResponse,
    error_response,
    forbidden,
    missing_factors,
    no_credentials,
    reply_header,
    request_target,
    ticket_token,
    unavailable_response,
)
from service_lib.identity import Identity
from service_lib.sessions import SessionTokens
from service_lib.settings import load_verifier_settings
from service_lib.verifier import RequestOrigin, Verifier

__all__ = ["G_IDENTITY", "TicketAuth", "current_identity", "current_verifier"]

log = logging.getLogger("orthrus.service")

#: The attribute of ``flask.g`` holding the request's :class:`Identity`.
G_IDENTITY = "orthrus_identity"
_G_REPLY = "_orthrus_ap_rep"
_G_SESSION = "_orthrus_new_session"
_G_COOKIE = "_orthrus_new_cookie"
_G_REQUEST_ID = "_orthrus_request_id"
REQUEST_ID_HEADER = "X-Request-Id"
_EXTENSION = "orthrus"

F = TypeVar("F", bound=Callable[..., Any])


def current_verifier() -> Verifier:
    """The verifier of the current app's :class:`TicketAuth` (``RuntimeError`` if none)."""
    state: _AppState | None = current_app.extensions.get(_EXTENSION)
    if state is None:
        raise RuntimeError("this Flask app has no TicketAuth: call TicketAuth(app) first")
    return state.verifier


def current_identity() -> Identity | None:
    """The identity of the current request, once ``@auth.required`` let it through."""
    identity: Identity | None = g.get(G_IDENTITY)
    return identity


@dataclass(frozen=True, slots=True)
class _AppState:
    verifier: Verifier
    sessions: SessionTokens | None
    browser_sessions: bool = False


class TicketAuth:
    """Protects Flask views with Orthrus tickets; see the module docstring."""

    def __init__(
        self,
        app: Flask | None = None,
        verifier: Verifier | None = None,
        *,
        sessions: bool = False,
        session_lifetime: int | None = None,
        browser_sessions: bool = False,
    ) -> None:
        if browser_sessions and not sessions:
            raise ValueError("browser_sessions=True needs sessions=True")
        self._verifier = verifier
        self._sessions = sessions
        self._session_lifetime = session_lifetime
        self._browser_sessions = browser_sessions
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, verifier: Verifier | None = None) -> None:
        """Attach to ``app``: its verifier, error handler and response headers."""
        verifier = verifier or self._verifier
        if verifier is None:
            # The settings from ORTHRUS_KEYTAB / the [service] table of ORTHRUS_CONFIG.
            verifier = Verifier.from_settings(load_verifier_settings())
        sessions = None
        if self._sessions:
            sessions = SessionTokens(verifier, self._session_lifetime)
        app.extensions[_EXTENSION] = _AppState(verifier, sessions, self._browser_sessions)
        app.register_error_handler(ProtocolError, _error_handler)
        app.register_error_handler(Unavailable, _unavailable_handler)
        app.after_request(_after_request)

    @staticmethod
    def _state() -> _AppState:
        state: _AppState = current_app.extensions[_EXTENSION]
        return state

    def authenticate(self) -> Identity:
        """Verify the current request's credential and return its identity.

        Raises the :class:`~orthrus.errors.ProtocolError` that refuses it; the extension's
        error handler turns it into a 400 or 401.
        """
        existing = current_identity()
        if existing is not None:
            return existing
        state = self._state()
        header = request.headers.get("Authorization")
        token = ticket_token(header)
        # In order of precedence: a ticket, a Negotiate token, a session header, a session
        # cookie; each is read only when none before it came.
        if token is not None:
            identity = self._verify_ticket(state, token)
        elif (negotiate := parse_negotiate(header)) is not None:
            origin = RequestOrigin(request.remote_addr, _request_id())
            identity = state.verifier.verify_negotiate(negotiate, request.method, _target(), origin)
            setattr(g, _G_REPLY, (identity, state.verifier.reply_token(identity)))
        elif state.sessions is not None and (session := request.headers.get(SESSION_HEADER)):
            proof = request.headers.get(SESSION_PROOF_HEADER)
            identity = state.sessions.verify(session, proof, request.method, _target())
        elif state.sessions is not None and (cookie := _browser_cookie(state)):
            identity = state.sessions.verify_browser(cookie)
        else:
            raise no_credentials(header, state.verifier.realm)
        setattr(g, G_IDENTITY, identity)
        return identity

    def _verify_ticket(self, state: _AppState, token: str) -> Identity:
        origin = RequestOrigin(request.remote_addr, _request_id())
        identity = state.verifier.verify(token, request.method, _target(), origin)
        forwarded = request.headers.get(FORWARDED_TGT_HEADER)
        if forwarded:
            identity = state.verifier.with_forwarded_tgt(identity, forwarded)
        if identity.mutual_required:
            setattr(g, _G_REPLY, (identity, state.verifier.reply_token(identity)))
        if state.sessions is not None:
            if asks_for_session(request.headers.getlist(PREFER_HEADER)):
                setattr(g, _G_SESSION, state.sessions.issue(identity))
            if state.browser_sessions and request.is_secure:
                setattr(g, _G_COOKIE, state.sessions.issue(identity, "browser"))
        return identity

    @overload
    def required(self, view: F) -> F: ...

    @overload
    def required(
        self, *, groups: Iterable[str] | None = None, factors: Iterable[str] | None = None
    ) -> Callable[[F], F]: ...

    def required(
        self,
        view: F | None = None,
        *,
        groups: Iterable[str] | None = None,
        factors: Iterable[str] | None = None,
    ) -> F | Callable[[F], F]:
        """Decorate a view so it runs only for an authenticated client (in ``groups``, and
        whose login proved ``factors``, e.g. ``["otp"]``: 403 ``missing_factors`` if not)."""
        needed = tuple(groups or ())
        needed_factors = tuple(factors or ())

        def decorate(func: F) -> F:
            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                identity = self.authenticate()
                if needed and not identity.in_groups(needed):
                    raise forbidden(identity, needed)
                if needed_factors and not identity.has_factors(needed_factors):
                    raise missing_factors(identity, needed_factors)
                return func(*args, **kwargs)

            return wrapper  # type: ignore[return-value]

        return decorate(view) if view is not None else decorate


def _request_id() -> str:
    """The proxy's ``X-Request-Id`` (at most 64 characters), else a new one; it goes into
    the audit log and back to the client in the response's ``X-Request-Id``."""
    request_id: str | None = g.get(_G_REQUEST_ID)
    if request_id is None:
        request_id = request.headers.get(REQUEST_ID_HEADER, "")[:64] or uuid.uuid4().hex
        setattr(g, _G_REQUEST_ID, request_id)
    return request_id


def _target() -> str:
    """The request target the AP authenticator and the session proof bind."""
    return request_target(
        request.script_root + request.path, request.query_string.decode("latin-1")
    )


def _browser_cookie(state: _AppState) -> str | None:
    """The session cookie, when browser sessions are on and it came over HTTPS (a ``Secure``
    cookie never travels in clear; one that did was not sent by the browser it was set in)."""
    if not (state.browser_sessions and request.is_secure):
        return None
    return request.cookies.get(SESSION_COOKIE) or None


def _error_handler(error: ProtocolError) -> Response:
    state: _AppState | None = current_app.extensions.get(_EXTENSION)
    realm = state.verifier.realm if state else "UNKNOWN"
    answer = error_response(error, realm)
    if not isinstance(error, MalformedMessage):
        log.info("refused %s %s: %s", request.method, request.path, error.name)
    return _response(answer)


def _unavailable_handler(error: Unavailable) -> Response:
    log.warning("refused %s %s: %s", request.method, request.path, error)
    return _response(unavailable_response(error))


def _response(answer: ErrorResponse) -> Response:
    # Given as a list, the two WWW-Authenticate challenges stay two header fields.
    return Response(answer.body, answer.status, headers=answer.headers)


def _after_request(response: Response) -> Response:
    request_id = g.pop(_G_REQUEST_ID, None)
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id
    reply = g.pop(_G_REPLY, None)
    if reply is not None:
        # Whatever the view answered (even 403 or 404), the AP exchange succeeded and the
        # client asked the service to prove itself: it gets the proof with the answer.
        response.headers.add(*reply_header(*reply))
    session = g.pop(_G_SESSION, None)
    cookie = g.pop(_G_COOKIE, None)
    if session is not None and response.status_code < 400:
        response.headers[SESSION_HEADER] = session[0]
        response.headers[PREFERENCE_APPLIED_HEADER] = SESSION_PREFERENCE
    if cookie is not None and response.status_code < 400:
        token, max_age = cookie
        response.set_cookie(
            SESSION_COOKIE, token, max_age=max_age, httponly=True, secure=True, samesite="Strict"
        )
    if (reply is not None or session is not None) and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "private"
    return response
