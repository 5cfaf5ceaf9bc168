"""Calling a back end as the client: constrained delegation (MS-SFU §3.1.5.2 S4U2Proxy),
or with the TGT the client forwarded (RFC 4120 §2.6, :func:`forwarded_session`).

A service that an administrator allowed to delegate to a back end (``orthrus-kdc modprinc
--allowed-to-delegate-to HTTP/backend@R HTTP/front@R``) hands the KDC the client's ticket
to itself (the evidence) with its own TGT, and gets a ticket to the back end in the
client's name; the back end sees both names (``identity.principal``,
``identity.delegated_by``). In a Flask view::

    with delegated_session(current_identity(), "HTTP/backend@R") as backend:
        reply = backend.get("https://backend.example/notes")

The service's own TGT comes from its keytab key (an AS exchange, RFC 4120 §3.1) and is
kept until shortly before it ends; the KDC is ``kdc_url`` of the verifier's settings.
Every request of the session carries a fresh ``Authorization: Ticket`` AP-REQ bound to its
method and path (RFC 4120 §3.2.2). A KDC that cannot be reached is ``Unavailable`` (503 in a
:class:`~service_lib.TicketAuth` app); one that answers something else, ``TransportError``.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from typing import Any, TypeVar
from urllib.parse import unquote

import httpx
import msgspec

from orthrus.ap import AuthenticatorFields, make_ap_req
from orthrus.as_exchange import ASOptions, make_as_req, read_as_rep
from orthrus.codec import decode, encode
from orthrus.credentials import Credential
from orthrus.errors import ERROR_CODES, ConfigError, TransportError, error_class_for
from orthrus.httpauth import SCHEME, encode_ap_req, http_binding
from orthrus.messages import ASRep, TGSRep
from orthrus.principal import Principal
from orthrus.tgs_exchange import make_proxy_req, make_tgs_req, read_tgs_rep
from orthrus_io.errors import Unavailable
from service_lib.identity import Identity
from service_lib.verifier import Verifier

__all__ = ["DelegatedAuth", "Delegator", "delegated_session", "forwarded_session"]

T = TypeVar("T")

#: A service TGT this close to its end is replaced before use.
_TGT_MARGIN = 60
_EXTENSION = "orthrus_delegation"


class _KDCError(msgspec.Struct):
    code: int
    name: str
    message: str
    data: dict[str, Any] = {}


class _ErrorBody(msgspec.Struct):
    error: _KDCError


class Delegator:
    """Tickets to back ends in a client's name, for the services of one verifier."""

    def __init__(self, verifier: Verifier, kdc_url: str, http: httpx.Client | None = None):
        if not kdc_url:
            raise ConfigError(
                "delegation needs the realm's KDC: set kdc_url in the service settings "
                "(or ORTHRUS_KDC_URL, --kdc-url)"
            )
        self.verifier = verifier
        self.kdc_url = kdc_url.rstrip("/")
        self._http = http or httpx.Client(timeout=10.0)
        self._tgts: dict[Principal, Credential] = {}
        self._lock = threading.Lock()

    def credential(self, identity: Identity, backend: Principal | str) -> Credential:
        """A ticket to ``backend`` in ``identity``'s name (S4U2Proxy): the KDC refuses with
        ``KDC_ERR_BADOPTION`` unless this service may delegate to it and the client's
        ticket is forwardable."""
        if identity.ticket is None:
            raise ConfigError("the identity carries no ticket to present as evidence")
        target = backend if isinstance(backend, Principal) else Principal.parse(backend)
        verifier = self.verifier
        now = verifier.clock()
        tgt = self._service_tgt(identity.service, now)
        request = make_proxy_req(
            tgt, identity.ticket, identity.principal, target, now, verifier.entropy
        )
        rep = self._call("/v1/tgs", request.message, TGSRep)
        return read_tgs_rep(rep, request, verifier.clock())

    def session(self, identity: Identity, backend: Principal | str) -> httpx.Client:
        """An ``httpx.Client`` whose requests reach ``backend`` as ``identity``."""
        return self._client_for(self.credential(identity, backend))

    def forwarded_credential(self, identity: Identity, backend: Principal | str) -> Credential:
        """A ticket to ``backend`` got with the TGT ``identity``'s client forwarded (RFC 4120
        §2.6, unconstrained: the KDC sees the client itself asking)."""
        if identity.forwarded_tgt is None:
            raise ConfigError(
                f"{identity.principal} forwarded no TGT with this request (the client forwards "
                "one only to a service marked OK-AS-DELEGATE: orthrus-kdc modprinc "
                "--ok-as-delegate, and only with 'orthrus fetch --forward')"
            )
        target = backend if isinstance(backend, Principal) else Principal.parse(backend)
        now = self.verifier.clock()
        request = make_tgs_req(identity.forwarded_tgt, target, now, self.verifier.entropy)
        rep = self._call("/v1/tgs", request.message, TGSRep)
        return read_tgs_rep(rep, request, self.verifier.clock())

    def forwarded_session(self, identity: Identity, backend: Principal | str) -> httpx.Client:
        """An ``httpx.Client`` reaching ``backend`` with the client's forwarded TGT."""
        return self._client_for(self.forwarded_credential(identity, backend))

    def _client_for(self, credential: Credential) -> httpx.Client:
        return httpx.Client(auth=DelegatedAuth(credential, self.verifier), timeout=10.0)

    def _service_tgt(self, service: Principal, now: float) -> Credential:
        """This service's TGT, from its newest keytab key, kept while it lasts."""
        with self._lock:
            tgt = self._tgts.get(service)
            if tgt is not None and tgt.is_valid(now + _TGT_MARGIN):
                return tgt
        key = self.verifier.keytab.snapshot().current_key(service)
        if key is None:
            raise ConfigError(f"the keytab holds no key for {service}, the service delegating")
        req = make_as_req(service, now, self.verifier.entropy, ASOptions(), key)
        tgt = read_as_rep(self._call("/v1/as", req, ASRep), req, key, self.verifier.clock())
        with self._lock:
            self._tgts[service] = tgt
        return tgt

    def _call(self, path: str, message: object, reply_type: type[T]) -> T:
        url = f"{self.kdc_url}{path}"
        try:
            response = self._http.post(
                url, content=encode(message), headers={"Content-Type": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise Unavailable(f"cannot reach the KDC at {self.kdc_url}: {exc}") from None
        if response.status_code == 200:
            return decode(response.content, reply_type)
        try:
            error = msgspec.json.decode(response.content, type=_ErrorBody).error
        except msgspec.MsgspecError:
            error = None
        if error is None or error.name not in ERROR_CODES:
            raise TransportError(f"{url} answered HTTP {response.status_code}, not the KDC")
        raise error_class_for(error.name)(error.name, error.message, error.data)


class DelegatedAuth(httpx.Auth):
    """``Authorization: Ticket`` with a delegated ticket, one fresh AP-REQ per request,
    bound to its method and path (RFC 4120 §3.2.2)."""

    def __init__(self, credential: Credential, verifier: Verifier) -> None:
        self._credential = credential
        self._verifier = verifier

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        url = request.url
        target = unquote(url.path or "/") + (f"?{url.query.decode()}" if url.query else "")
        fields = AuthenticatorFields(checksum=http_binding(request.method, target))
        verifier = self._verifier
        ap_req, _ = make_ap_req(self._credential, verifier.clock(), verifier.entropy, fields)
        request.headers["Authorization"] = f"{SCHEME} {encode_ap_req(ap_req)}"
        yield request


def delegated_session(
    identity: Identity, backend: Principal | str, delegator: Delegator | None = None
) -> httpx.Client:
    """An ``httpx.Client`` calling ``backend`` as ``identity`` (S4U2Proxy). In a Flask app
    protected by :class:`~service_lib.TicketAuth`, ``delegator`` defaults to one made on
    first use from the app's verifier and its ``kdc_url``."""
    if delegator is None:
        delegator = _app_delegator()
    return delegator.session(identity, backend)


def forwarded_session(
    identity: Identity, backend: Principal | str, delegator: Delegator | None = None
) -> httpx.Client:
    """An ``httpx.Client`` calling ``backend`` with the TGT ``identity``'s client forwarded
    (unconstrained delegation, RFC 4120 §2.6); ``delegator`` as for
    :func:`delegated_session`."""
    if delegator is None:
        delegator = _app_delegator()
    return delegator.forwarded_session(identity, backend)


def _app_delegator() -> Delegator:
    from flask import current_app

    from service_lib.flask_ext import current_verifier

    delegator: Delegator | None = current_app.extensions.get(_EXTENSION)
    if delegator is None:
        verifier = current_verifier()
        made = Delegator(verifier, verifier.settings.kdc_url)
        delegator = current_app.extensions.setdefault(_EXTENSION, made)
    return delegator
