"""HTTP clients that authenticate with tickets: ``httpx`` and ``requests`` auth classes.

The flow is HTTP authentication (RFC 9110 §11) with the ``Ticket`` scheme: the request goes
out; a ``401`` with ``WWW-Authenticate: Ticket realm="R"`` is answered by sending it again with
``Authorization: Ticket <AP-REQ>`` for ``HTTP/<host>@R`` (or the service named). The
authenticator binds the request's method and target; with ``mutual=True`` the service's
``Authentication-Info: Ticket <AP-REP>`` is checked (RFC 4120 §3.2.5) and a missing or wrong
one raises ``KRB_AP_ERR_MUT_FAIL``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import requests
import requests.auth

from client_lib.api import Client
from orthrus.ap import AuthenticatorFields, make_ap_req, read_ap_rep
from orthrus.errors import APError, MalformedMessage
from orthrus.httpauth import (
    REPLY_HEADER,
    SCHEME,
    decode_ap_rep,
    encode_ap_req,
    http_binding,
    parse_authorization,
)
from orthrus.keys import Key
from orthrus.messages import Authenticator, EncAPRepPart
from orthrus.principal import Principal
from orthrus.priv import PrivChannel, decode_priv, encode_priv

__all__ = [
    "HttpxTicketAuth",
    "PlainRequest",
    "RequestsTicketAuth",
    "SealedReply",
    "TicketAuthenticator",
    "challenge_realm",
    "fetch_sealed",
]

_REALM = re.compile(r'realm="([^"]{1,128})"')


def challenge_realm(headers: Mapping[str, str]) -> str | None:
    """The realm of a ``WWW-Authenticate: Ticket realm="R"`` challenge, None if there is none."""
    value = headers.get("WWW-Authenticate", "")
    scheme, _, params = value.strip().partition(" ")
    if scheme.lower() != SCHEME.lower():
        return None
    match = _REALM.search(params)
    return match.group(1) if match else ""


@dataclass(frozen=True, slots=True)
class Pending:
    """What a sent request needs to check its response."""

    session_key: Key
    authenticator: Authenticator
    mutual: bool


class TicketAuthenticator:
    """Makes ``Authorization: Ticket`` values and checks mutual-authentication replies."""

    def __init__(
        self,
        client: Client,
        service: Principal | None = None,
        mutual: bool = False,
        bind: bool = True,
    ) -> None:
        self.client = client
        self.service = service
        self.mutual = mutual
        self.bind = bind

    def service_for(self, url: str, realm: str | None) -> Principal:
        """The service principal: as given, else ``HTTP/<host>@<realm>``."""
        if self.service is not None:
            return self.service
        host = urlsplit(url).hostname or "localhost"
        chosen = realm or self.client.settings.realm or self.client.ccache.principal().realm
        return Principal(("HTTP", host), chosen)

    def authorization(
        self, method: str, url: str, realm: str | None, channel: PrivChannel | None = None
    ) -> tuple[str, Pending]:
        """The header value for one request, and what to check its response with."""
        credential = self.client.get_service_ticket(self.service_for(url, realm))
        parts = urlsplit(url)
        target = unquote(parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        fields = AuthenticatorFields(
            checksum=http_binding(method, target) if self.bind else None,
            subkey=channel.key if channel else None,
            seq=channel.initial_seq if channel else None,
            mutual=self.mutual,
        )
        ap_req, authenticator = make_ap_req(
            credential, self.client.now(), self.client.entropy, fields
        )
        pending = Pending(credential.session_key, authenticator, self.mutual)
        return f"{SCHEME} {encode_ap_req(ap_req)}", pending

    def check_response(self, headers: Mapping[str, str], pending: Pending) -> EncAPRepPart | None:
        """Check the service's AP-REP when mutual authentication was asked for."""
        if not pending.mutual:
            return None
        try:
            token = parse_authorization(headers.get(REPLY_HEADER))
            if token is None:
                raise MalformedMessage(f"no {REPLY_HEADER}: {SCHEME} header")
            return read_ap_rep(decode_ap_rep(token), pending.session_key, pending.authenticator)
        except MalformedMessage as exc:
            raise APError(
                "KRB_AP_ERR_MUT_FAIL",
                f"the service did not prove its identity ({exc.message}); it may be an impostor",
            ) from None


PRIV_CONTENT_TYPE = "application/orthrus-priv"


@dataclass(frozen=True, slots=True)
class SealedReply:
    """A response to a sealed request, with its body opened when the service sealed it."""

    response: httpx.Response
    body: bytes


@dataclass(frozen=True, slots=True)
class PlainRequest:
    """What to send sealed: method, URL, body and extra headers."""

    method: str
    url: str
    data: bytes
    headers: Mapping[str, str]


def fetch_sealed(
    http: httpx.Client, authenticator: TicketAuthenticator, plain: PlainRequest
) -> SealedReply:
    """Send ``data`` sealed under a fresh subkey (KRB-PRIV, RFC 4120 §5.7.1; docs/http.md §5).

    The ticket goes with the first request (a challenge round trip would send the body in
    clear); the reply is opened with the same channel. Errors come back unsealed.
    """
    client = authenticator.client
    channel = PrivChannel.initiator(client.entropy)
    header, pending = authenticator.authorization(plain.method, plain.url, None, channel)
    sealed = encode_priv(channel.seal(plain.data, client.now(), client.entropy))
    headers = {**plain.headers, "Authorization": header, "Content-Type": PRIV_CONTENT_TYPE}
    response = http.request(plain.method, plain.url, content=sealed, headers=headers)
    if response.status_code >= 400:
        return SealedReply(response, response.content)
    authenticator.check_response(response.headers, pending)
    if not response.headers.get("Content-Type", "").startswith(PRIV_CONTENT_TYPE):
        raise APError(
            "KRB_AP_ERR_MODIFIED",
            "the service answered a sealed request in clear; its reply cannot be trusted",
        )
    return SealedReply(response, channel.open(decode_priv(response.content), client.now()))


class HttpxTicketAuth(httpx.Auth):
    """``httpx`` auth: answers the ``Ticket`` challenge (or sends a ticket at once)."""

    def __init__(self, authenticator: TicketAuthenticator, preemptive: bool = False) -> None:
        self.authenticator = authenticator
        self.preemptive = preemptive
        self.last_reply: EncAPRepPart | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        realm = None
        if not self.preemptive:
            response = yield request
            realm = challenge_realm(response.headers)
            if response.status_code != 401 or realm is None:
                if self.authenticator.mutual:
                    raise _unauthenticated_service()
                return
        header, pending = self.authenticator.authorization(
            request.method, str(request.url), realm or None
        )
        request.headers["Authorization"] = header
        response = yield request
        if response.status_code < 400:
            self.last_reply = self.authenticator.check_response(response.headers, pending)


class RequestsTicketAuth(requests.auth.AuthBase):
    """``requests`` auth: answers the ``Ticket`` challenge (or sends a ticket at once)."""

    def __init__(self, authenticator: TicketAuthenticator, preemptive: bool = False) -> None:
        self.authenticator = authenticator
        self.preemptive = preemptive

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.preemptive:
            pending = self._sign(request, None)
            request.register_hook("response", self._checker(pending))
        else:
            request.register_hook("response", self._answer_challenge)
        return request

    def _sign(self, request: requests.PreparedRequest, realm: str | None) -> Pending:
        header, pending = self.authenticator.authorization(
            request.method or "GET", request.url or "/", realm
        )
        request.headers["Authorization"] = header
        return pending

    def _checker(self, pending: Pending) -> Callable[..., requests.Response]:
        def check(response: requests.Response, **_: Any) -> requests.Response:
            if response.status_code < 400:
                self.authenticator.check_response(response.headers, pending)
            return response

        return check

    def _answer_challenge(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        realm = challenge_realm(response.headers)
        if response.status_code != 401 or realm is None:
            if self.authenticator.mutual:
                raise _unauthenticated_service()
            return response
        response.content  # noqa: B018 - drain the body so the connection can be reused
        response.close()
        retry = response.request.copy()
        pending = self._sign(retry, realm or None)
        answer: requests.Response = response.connection.send(retry, **kwargs)
        answer.history.append(response)
        answer.request = retry
        return self._checker(pending)(answer)


def _unauthenticated_service() -> APError:
    return APError(
        "KRB_AP_ERR_MUT_FAIL",
        "mutual authentication was required but the service answered without asking for a "
        "ticket, so it proved nothing; it may be an impostor",
    )
