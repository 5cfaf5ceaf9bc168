"""Plain WSGI middleware (PEP 3333) for frameworks other than Flask.

Wraps an application so that each request must carry ``Authorization: Ticket <AP-REQ>``,
verified (RFC 4120 §3.2.3) against the request's method and path, or ``Authorization:
Negotiate <token>`` (RFC 4559), verified with the keytab's Kerberos keys. A refused request is
answered here (400/401, JSON, :mod:`service_lib.http`) and never reaches the application.
An accepted one reaches it with:

- ``environ["orthrus.identity"]``: the :class:`~service_lib.identity.Identity`;
- ``environ["REMOTE_USER"]``: the client principal (``alice@EXAMPLE.COM``);
- ``environ["AUTH_TYPE"]``: ``"Ticket"`` or ``"Negotiate"``;

and, when the client asked for mutual authentication, the application's response (whatever
its status) gets ``Authentication-Info: Ticket <AP-REP>``; a ``Negotiate`` client always
gets ``WWW-Authenticate: Negotiate <token>`` (RFC 4559 §5). Paths in ``public_paths`` pass
through unchecked (e.g. ``/livez``). With ``required=False`` a request without the header
passes through too, with no identity, and the application decides.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any

from orthrus.errors import ProtocolError
from orthrus.httpauth import SCHEME
from orthrus.negotiate import NEGOTIATE, parse_negotiate
from orthrus_io.errors import Unavailable
from service_lib.http import (
    ENVIRON_IDENTITY,
    ErrorResponse,
    error_response,
    no_credentials,
    reply_header,
    request_target,
    ticket_token,
    unavailable_response,
)
from service_lib.verifier import RequestOrigin, Verifier

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["TicketAuthMiddleware", "environ_target"]

log = logging.getLogger("orthrus.service")


def _wsgi_str(value: str) -> str:
    # PEP 3333 gives paths as bytes decoded with latin-1; recover the UTF-8 text.
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def environ_target(environ: WSGIEnvironment) -> str:
    """The request target bound by the authenticator (see :func:`request_target`)."""
    path = _wsgi_str(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
    return request_target(path, environ.get("QUERY_STRING", ""))


class TicketAuthMiddleware:
    """WSGI middleware that requires an Orthrus ticket; see the module docstring."""

    def __init__(
        self,
        app: WSGIApplication,
        verifier: Verifier,
        public_paths: Collection[str] = (),
        required: bool = True,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.public_paths = frozenset(public_paths)
        self.required = required

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in self.public_paths:
            return self.app(environ, start_response)
        header = environ.get("HTTP_AUTHORIZATION")
        try:
            token = ticket_token(header)
            negotiate = parse_negotiate(header)
            if token is None and negotiate is None:
                if not self.required:
                    return self.app(environ, start_response)
                raise no_credentials(header, self.verifier.realm)
            request_id = environ.get("HTTP_X_REQUEST_ID", "")[:64] or uuid.uuid4().hex
            origin = RequestOrigin(environ.get("REMOTE_ADDR"), request_id)
            method, target = environ.get("REQUEST_METHOD", "GET"), environ_target(environ)
            if negotiate is not None:
                identity = self.verifier.verify_negotiate(negotiate, method, target, origin)
            else:
                assert token is not None
                identity = self.verifier.verify(token, method, target, origin)
        except ProtocolError as error:
            log.info("refused %s %s: %s", environ.get("REQUEST_METHOD"), path, error.name)
            return _refuse(error_response(error, self.verifier.realm), start_response)
        except Unavailable as error:
            log.warning("refused %s %s: %s", environ.get("REQUEST_METHOD"), path, error)
            return _refuse(unavailable_response(error), start_response)
        environ[ENVIRON_IDENTITY] = identity
        environ["REMOTE_USER"] = identity.name
        environ["AUTH_TYPE"] = NEGOTIATE if identity.auth_method == "negotiate" else SCHEME
        if not identity.mutual_required:
            return self.app(environ, start_response)
        reply = reply_header(identity, self.verifier.reply_token(identity))

        def start_with_reply(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            return start_response(status, [*headers, reply], exc_info)

        return self.app(environ, start_with_reply)


def _refuse(answer: ErrorResponse, start_response: StartResponse) -> Iterable[bytes]:
    headers = [*answer.headers, ("Content-Length", str(len(answer.body)))]
    start_response(answer.status_line, headers)
    return [answer.body]
