"""HTTP clients that authenticate with tickets: ``httpx`` and ``requests`` auth classes.

The flow is HTTP authentication (RFC 9110 §11) with the ``Ticket`` scheme: the request goes
out; a ``401`` with ``WWW-Authenticate: Ticket realm="R"`` is answered by sending it again with
``Authorization: Ticket <AP-REQ>`` for ``HTTP/<host>@R`` (or the service named). The
authenticator binds the request's method and target; with ``mutual=True`` the service's
``Authentication-Info: Ticket <AP-REP>`` is checked (RFC 4120 §3.2.5) and a missing or wrong
one raises ``KRB_AP_ERR_MUT_FAIL``.

The same classes answer ``WWW-Authenticate: Negotiate`` (RFC 4559) when asked to
(``negotiate=True``, ``orthrus fetch --negotiate``) or when the client's KDC is a Kerberos
one (``krb5://``, whose tickets the ``Ticket`` scheme cannot carry): the request goes again
with ``Authorization: Negotiate <SPNEGO NegTokenInit>`` (RFC 4178, the Kerberos initial
context token of RFC 4121 §4.1, :mod:`orthrus.kerberos.gss`), and with ``mutual=True`` the
service's ``WWW-Authenticate: Negotiate <NegTokenResp>`` must hold an AP-REP that opens under
the session key and echoes our authenticator's time, else ``KRB_AP_ERR_MUT_FAIL``: a
missing, wrong or refused reply fails closed.

Each request carrying an AP-REQ asks the service for a session (``Prefer:
orthrus-session``, RFC 7240). When a service hands one out (``Orthrus-Session``, docs/http.md
§4) the authenticator keeps it, in memory, for that origin (scheme, host and port) until it
expires; later requests there send it with a fresh ``Orthrus-Session-Proof``
(:mod:`orthrus.session_proof`) instead of an AP-REQ, and a 401 to one drops it and answers
with an AP-REQ. A request that asks for mutual authentication always sends an AP-REQ (and asks
for no session): a session's answers prove nothing.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import httpx
import jwt
import requests
import requests.auth

from client_lib.aio import AsyncClient
from client_lib.api import Client
from client_lib.errors import ServiceRefused
from client_lib.transport import ErrorReply
from orthrus.ap import AuthenticatorFields, make_ap_req, read_ap_rep
from orthrus.codec import decode
from orthrus.credentials import Credential
from orthrus.der import EncAPRepPart as KerberosAPRepPart
from orthrus.errors import ERROR_CODES, APError, ConfigError, MalformedMessage, ProtocolError
from orthrus.forwarding import FORWARDED_TGT_HEADER, seal_forwarded_tgt
from orthrus.httpauth import (
    PREFER_HEADER,
    REPLY_HEADER,
    SCHEME,
    SESSION_HEADER,
    SESSION_PROOF_HEADER,
    decode_ap_rep,
    encode_ap_req,
    http_binding,
    parse_authorization,
    prefer_session,
)
from orthrus.kerberos.client import KerberosCredential
from orthrus.kerberos.gss import (
    DEFAULT_FLAGS,
    InitiatorContext,
    complete_security_context,
    initiate_security_context,
)
from orthrus.kerberos.gss_tokens import GSS_C_MUTUAL_FLAG
from orthrus.keys import Key
from orthrus.messages import Authenticator, EncAPRepPart
from orthrus.negotiate import NEGOTIATE, negotiate_header, parse_negotiate
from orthrus.principal import Principal
from orthrus.priv import PrivChannel, decode_priv, encode_priv
from orthrus.session_proof import ProofTarget, make_session_proof

__all__ = [
    "AuthOptions",
    "ClientSession",
    "HttpxTicketAuth",
    "NegotiatePending",
    "PlainRequest",
    "RequestsTicketAuth",
    "SealedReply",
    "TicketAuthenticator",
    "challenge_realm",
    "fetch_sealed",
    "forwarding_headers",
    "negotiate_token",
    "offers_negotiate",
    "raise_for_refusal",
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


def _challenges(headers: Mapping[str, str]) -> list[str]:
    """Every challenge of the ``WWW-Authenticate`` headers (several headers arrive joined
    with commas; a ``Negotiate`` token is base64, which has none)."""
    return [part.strip() for part in headers.get("WWW-Authenticate", "").split(",")]


def offers_negotiate(headers: Mapping[str, str]) -> bool:
    """Whether a response asks for ``Negotiate`` (RFC 4559 §4.1)."""
    return any(c.partition(" ")[0].lower() == NEGOTIATE.lower() for c in _challenges(headers))


def negotiate_token(headers: Mapping[str, str]) -> bytes | None:
    """The token of the service's ``WWW-Authenticate: Negotiate <token>`` (RFC 4559 §5),
    None when it sent none; ``MalformedMessage`` for one that is not base64."""
    for challenge in _challenges(headers):
        if challenge.partition(" ")[0].lower() == NEGOTIATE.lower() and " " in challenge:
            return parse_negotiate(challenge)
    return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _target(url: str) -> str:
    """What the service binds: the percent-decoded path, then ``?query`` if there is one."""
    parts = urlsplit(url)
    return unquote(parts.path or "/") + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True, slots=True)
class Pending:
    """What a sent request needs to check its response (and keep a session it opens)."""

    session_key: Key
    authenticator: Authenticator
    mutual: bool
    url: str = ""


@dataclass(frozen=True, slots=True)
class NegotiatePending:
    """What a request sent with ``Negotiate`` needs to check its response: the initiator's
    context (session key, authenticator time, flags asked)."""

    context: InitiatorContext
    mutual: bool


@dataclass(frozen=True, slots=True)
class ClientSession:
    """A session a service handed out: its token, the session key of the ticket it was
    opened with (to make proofs), and the token's end."""

    token: str = field(repr=False)
    session_key: Key = field(repr=False)
    expires_at: float


class TicketAuthenticator:
    """Makes ``Authorization: Ticket`` (or ``Negotiate``) values and checks
    mutual-authentication replies."""

    def __init__(
        self,
        client: Client,
        service: Principal | None = None,
        mutual: bool = False,
        bind: bool = True,
        negotiate: bool = False,
    ) -> None:
        self.client = client
        self.service = service
        self.mutual = mutual
        self.bind = bind
        self.negotiate = negotiate
        self._sessions: dict[str, ClientSession] = {}
        self._async_client: AsyncClient | None = None

    @property
    def uses_negotiate(self) -> bool:
        """``Negotiate`` rather than ``Ticket``: asked for, or the KDC is a Kerberos one."""
        return self.negotiate or self.client.kerberos is not None

    def challenged(self, headers: Mapping[str, str]) -> str | None:
        """The realm of the challenge this authenticator answers (``""``: none named, as
        ``Negotiate`` never names one), None when the response asks for no such scheme."""
        if self.uses_negotiate:
            return "" if offers_negotiate(headers) else None
        return challenge_realm(headers)

    def service_for(self, url: str, realm: str | None) -> Principal:
        """The service principal: as given, else ``HTTP/<host>@<realm>``."""
        if self.service is not None:
            return self.service
        host = urlsplit(url).hostname or "localhost"
        chosen = realm or self.client.settings.realm or self.client.ccache.principal().realm
        return Principal(("HTTP", host), chosen)

    @property
    def async_client(self) -> AsyncClient:
        """An :class:`AsyncClient` sharing this client's settings, cache, clock and entropy:
        what the async flows get their service tickets from."""
        if self._async_client is None:
            self._async_client = AsyncClient.sharing(self.client)
        return self._async_client

    async def aclose(self) -> None:
        """Close :attr:`async_client`'s connection to the KDC, if one was opened."""
        if self._async_client is not None:
            await self._async_client.aclose()

    def authorization(
        self, method: str, url: str, realm: str | None, channel: PrivChannel | None = None
    ) -> tuple[str, Pending | NegotiatePending]:
        """The header value for one request, and what to check its response with."""
        credential = self.client.get_service_ticket(self.service_for(url, realm))
        return self.ap_header(credential, method, url, channel)

    def ap_header(
        self, credential: Credential, method: str, url: str, channel: PrivChannel | None = None
    ) -> tuple[str, Pending | NegotiatePending]:
        """The ``Ticket`` header value for one request with ``credential`` (RFC 4120 §3.2.2),
        or the ``Negotiate`` one (:attr:`uses_negotiate`), and what to check its response
        with."""
        if self.uses_negotiate:
            if channel is not None:
                raise ConfigError(
                    "sealed messages (--encrypt) travel with the Ticket scheme, which needs an "
                    "Orthrus KDC's tickets: use an http(s):// ORTHRUS_KDC_URL, without --negotiate"
                )
            return self._negotiate_header(credential)
        fields = AuthenticatorFields(
            checksum=http_binding(method, _target(url)) if self.bind else None,
            subkey=channel.key if channel else None,
            seq=channel.initial_seq if channel else None,
            mutual=self.mutual,
        )
        ap_req, authenticator = make_ap_req(
            credential, self.client.now(), self.client.entropy, fields
        )
        pending = Pending(credential.session_key, authenticator, self.mutual, url)
        return f"{SCHEME} {encode_ap_req(ap_req)}", pending

    def _negotiate_header(self, credential: Credential) -> tuple[str, NegotiatePending]:
        """``Negotiate <SPNEGO NegTokenInit>`` for ``credential`` (RFC 4559 §4.2), asking
        for mutual authentication when it is required (RFC 4121 §4.1.1.1)."""
        flags = DEFAULT_FLAGS if self.mutual else DEFAULT_FLAGS & ~GSS_C_MUTUAL_FLAG
        context = initiate_security_context(
            KerberosCredential.from_credential(credential),
            self.client.now(),
            self.client.entropy,
            flags=flags,
        )
        return negotiate_header(context.token), NegotiatePending(context, self.mutual)

    def session_headers(self, method: str, url: str) -> dict[str, str] | None:
        """The session headers for one request (the token and a fresh proof), or None when
        no live session is held for the URL's origin or mutual authentication is asked."""
        session = self._sessions.get(_origin(url))
        now = self.client.now()
        if self.mutual or session is None or now >= session.expires_at:
            return None
        bound = ProofTarget(session.token, method, _target(url))
        proof = make_session_proof(session.session_key, bound, now, self.client.entropy)
        return {SESSION_HEADER: session.token, SESSION_PROOF_HEADER: proof}

    def ask_for_session(self, headers: MutableMapping[str, Any]) -> None:
        """Add ``Prefer: orthrus-session`` to the headers of a request carrying an AP-REQ,
        unless mutual authentication is asked for (a session's answers prove nothing) or the
        scheme is ``Negotiate`` (which has no sessions)."""
        if not self.mutual and not self.uses_negotiate:
            given = headers.get(PREFER_HEADER)
            headers[PREFER_HEADER] = prefer_session(given if isinstance(given, str) else None)

    def drop_session(self, url: str) -> None:
        """Forget the session of the URL's origin (the service refused it)."""
        self._sessions.pop(_origin(url), None)

    def check_response(
        self, headers: Mapping[str, str], pending: Pending | NegotiatePending
    ) -> EncAPRepPart | KerberosAPRepPart | None:
        """Check the service's AP-REP when mutual authentication was asked for, and keep the
        session the service handed out with the answer, if any."""
        if isinstance(pending, NegotiatePending):
            return _check_negotiate(headers, pending)
        reply = self._check_reply(headers, pending) if pending.mutual else None
        self._keep_session(headers, pending)
        return reply

    def _keep_session(self, headers: Mapping[str, str], pending: Pending) -> None:
        token = headers.get(SESSION_HEADER)
        if self.mutual or not token or not pending.url:
            return
        try:
            # Only to know when to stop sending it; the service checks the token itself.
            expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
        except (jwt.PyJWTError, KeyError, TypeError):
            return
        if isinstance(expires_at, int):
            self._sessions[_origin(pending.url)] = ClientSession(
                token, pending.session_key, expires_at
            )

    def _check_reply(self, headers: Mapping[str, str], pending: Pending) -> EncAPRepPart:
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


def forwarding_headers(client: Client, credential: Credential) -> dict[str, str]:
    """The header handing ``credential``'s service a forwarded TGT (:mod:`orthrus.forwarding`),
    or none when the realm does not trust that service with one: its ticket is not
    OK-AS-DELEGATE (RFC 4120 §2.8), as MIT's GSS-API clients decide with
    ``ok-as-delegate`` policy. The cached TGT must be forwardable (``orthrus kinit -f``),
    else the KDC answers ``KDC_ERR_BADOPTION``."""
    if "ok-as-delegate" not in credential.flags:
        return {}
    tgt = client.forwarded_tgt()
    sealed = seal_forwarded_tgt(tgt, credential.session_key, client.entropy)
    return {FORWARDED_TGT_HEADER: sealed}


def _check_negotiate(
    headers: Mapping[str, str], pending: NegotiatePending
) -> KerberosAPRepPart | None:
    """The service's ``Negotiate`` answer (RFC 4559 §5, RFC 4178 §4.2.2): when a token came,
    it must be accept-completed with an AP-REP that opens under the session key and echoes
    our time; none may come only when mutual authentication was not asked."""
    try:
        token = negotiate_token(headers)
        if token is None:
            if pending.mutual:
                raise MalformedMessage("no WWW-Authenticate: Negotiate token with the answer")
            return None
        return complete_security_context(pending.context, token)
    except ProtocolError as exc:
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
    authenticator.ask_for_session(headers)
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


@dataclass(frozen=True, slots=True)
class _NeedTicket:
    """A step of :meth:`HttpxTicketAuth._flow`: a service ticket for ``server`` is needed
    (fetched blocking or awaited: the only I/O besides the request that differs)."""

    server: Principal


_Step = httpx.Request | _NeedTicket


class HttpxTicketAuth(httpx.Auth):
    """``httpx`` auth: answers the ``Ticket`` challenge (or sends a ticket at once), or the
    ``Negotiate`` one (``negotiate=True``, or a ``krb5://`` KDC).

    ``HttpxTicketAuth()`` takes its defaults from the environment; it works with
    ``httpx.Client`` and, without blocking the event loop, with ``httpx.AsyncClient``.
    """

    def __init__(
        self,
        authenticator: TicketAuthenticator | None = None,
        preemptive: bool = False,
        *,
        mutual: bool = False,
        service: Principal | str | None = None,
        client: Client | None = None,
        negotiate: bool = False,
    ) -> None:
        options = AuthOptions(mutual, service, client, negotiate)
        self.authenticator = _authenticator(authenticator, options)
        self.preemptive = preemptive
        self.last_reply: EncAPRepPart | KerberosAPRepPart | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        flow = self._flow(request)
        step = next(flow)
        while True:
            if isinstance(step, _NeedTicket):
                answer: object = self.authenticator.client.get_service_ticket(step.server)
            else:
                answer = yield step
            try:
                step = flow.send(answer)
            except StopIteration:
                return

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow = self._flow(request)
        step = next(flow)
        while True:
            if isinstance(step, _NeedTicket):
                client = self.authenticator.async_client
                answer: object = await client.get_service_ticket(step.server)
            else:
                answer = yield step
            try:
                step = flow.send(answer)
            except StopIteration:
                return

    async def aclose(self) -> None:
        """Close the async client's connection to the KDC, if one was opened."""
        await self.authenticator.aclose()

    def _flow(self, request: httpx.Request) -> Generator[_Step, object, None]:
        """The flow of one request, written once for both ``auth_flow`` and
        ``async_auth_flow``: it yields requests to send and tickets it needs."""
        realm = None
        url = str(request.url)
        session = self.authenticator.session_headers(request.method, url)
        if session is not None or not self.preemptive:
            request.headers.update(session or {})
            response = cast(httpx.Response, (yield request))
            realm = self.authenticator.challenged(response.headers)
            if response.status_code != 401 or realm is None:
                if self.authenticator.mutual:
                    raise _unauthenticated_service()
                return
            if session is not None:  # refused (expired, or the service restarted): a ticket
                self.authenticator.drop_session(url)
                for name in session:
                    del request.headers[name]
        server = self.authenticator.service_for(url, realm or None)
        credential = cast(Credential, (yield _NeedTicket(server)))
        header, pending = self.authenticator.ap_header(credential, request.method, url)
        request.headers["Authorization"] = header
        self.authenticator.ask_for_session(request.headers)
        response = cast(httpx.Response, (yield request))
        if response.status_code < 400:
            self.last_reply = self.authenticator.check_response(response.headers, pending)


class RequestsTicketAuth(requests.auth.AuthBase):
    """``requests`` auth: answers the ``Ticket`` challenge (or sends a ticket at once), or the
    ``Negotiate`` one (``negotiate=True``, or a ``krb5://`` KDC).

    ``RequestsTicketAuth()`` takes its defaults from the environment; set on a
    ``requests.Session`` it serves every request of the session from one credential cache.
    """

    def __init__(
        self,
        authenticator: TicketAuthenticator | None = None,
        preemptive: bool = False,
        *,
        mutual: bool = False,
        service: Principal | str | None = None,
        client: Client | None = None,
        negotiate: bool = False,
    ) -> None:
        options = AuthOptions(mutual, service, client, negotiate)
        self.authenticator = _authenticator(authenticator, options)
        self.preemptive = preemptive

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        session = self.authenticator.session_headers(request.method or "GET", request.url or "/")
        if session is None and self.preemptive:
            pending = self._sign(request, None)
            request.register_hook("response", self._checker(pending))
        else:
            request.headers.update(session or {})
            request.register_hook("response", self._answer_challenge)
        return request

    def _sign(
        self, request: requests.PreparedRequest, realm: str | None
    ) -> Pending | NegotiatePending:
        header, pending = self.authenticator.authorization(
            request.method or "GET", request.url or "/", realm
        )
        request.headers["Authorization"] = header
        self.authenticator.ask_for_session(request.headers)
        return pending

    def _checker(self, pending: Pending | NegotiatePending) -> Callable[..., requests.Response]:
        def check(response: requests.Response, **_: Any) -> requests.Response:
            if response.status_code < 400:
                self.authenticator.check_response(response.headers, pending)
            return response

        return check

    def _answer_challenge(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        realm = self.authenticator.challenged(response.headers)
        if response.status_code != 401 or realm is None:
            if self.authenticator.mutual:
                raise _unauthenticated_service()
            return response
        response.content  # noqa: B018 - drain the body so the connection can be reused
        response.close()
        retry = response.request.copy()
        if retry.headers.pop(SESSION_HEADER, None) is not None:  # the session was refused
            retry.headers.pop(SESSION_PROOF_HEADER, None)
            self.authenticator.drop_session(retry.url or "/")
        pending = self._sign(retry, realm or None)
        answer: requests.Response = response.connection.send(retry, **kwargs)
        answer.history.append(response)
        answer.request = retry
        return self._checker(pending)(answer)


@dataclass(frozen=True, slots=True)
class AuthOptions:
    """The keyword options of the auth classes: mutual authentication, the service principal
    (default ``HTTP/<host>@<realm>``), and the client (default: from the environment)."""

    mutual: bool = False
    service: Principal | str | None = None
    client: Client | None = None
    negotiate: bool = False


def _authenticator(given: TicketAuthenticator | None, options: AuthOptions) -> TicketAuthenticator:
    """``given`` (the three-object form), else one made from the keyword options."""
    if given is not None:
        if options != AuthOptions():
            raise TypeError("give either a TicketAuthenticator or mutual=/service=/client=")
        return given
    client = options.client or Client.from_environment()
    service = options.service
    if isinstance(service, str):
        service = client.parse_principal(service)
    return TicketAuthenticator(client, service, options.mutual, negotiate=options.negotiate)


def raise_for_refusal(response: httpx.Response | requests.Response) -> None:
    """Raise :class:`ServiceRefused` with the service's Kerberos code when it refused the
    request (401 or 403, RFC 4120 §3.2.3); do nothing otherwise."""
    if response.status_code not in (401, 403):
        return
    try:
        error = decode(response.content, ErrorReply).error
    except MalformedMessage:
        error = None
    if error is None or error.name not in ERROR_CODES:
        raise ServiceRefused("KRB_ERR_GENERIC", f"the service answered HTTP {response.status_code}")
    raise ServiceRefused(error.name, error.message)


def _unauthenticated_service() -> APError:
    return APError(
        "KRB_AP_ERR_MUT_FAIL",
        "mutual authentication was required but the service answered without asking for a "
        "ticket, so it proved nothing; it may be an impostor",
    )
