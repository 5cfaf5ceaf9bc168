"""The service verifier: an ``Authorization: Ticket`` token in, an :class:`Identity` out.

Checks follow RFC 4120 §3.2.3, each failure with its Kerberos error:

1. the ticket is for a principal this service is (``KRB_AP_ERR_NOT_US``; by default
   ``HTTP/<host name>``, not every principal of the keytab);
2. the keytab holds the ticket's key version (``KRB_AP_ERR_BADKEYVER``, naming both);
3. the ticket decrypts and authenticates (``KRB_AP_ERR_MODIFIED``);
4. the authenticator decrypts under the session key, for the AP usage (``MODIFIED``);
5. the ticket's times (``KRB_AP_ERR_TKT_NYV``, ``KRB_AP_ERR_TKT_EXPIRED``);
6. the KDC-signed authorization data is present and belongs to this ticket (``MODIFIED``;
   RFC 4120 §5.2.6, see :mod:`orthrus.authz`) — a stolen service key cannot add groups;
7. the authenticator names the ticket's client (``KRB_AP_ERR_BADMATCH``);
8. its time is within the allowed skew (``KRB_AP_ERR_SKEW``, giving both clocks);
9. its checksum binds the HTTP method and path (``MODIFIED``);
10. it was not seen before, and was made after the replay cache's memory starts
    (``KRB_AP_ERR_REPEAT``; a cache that lost entries refuses what it may have forgotten)
    — last, so a refused request never enters the replay cache.

The ticket's own checks (1-3, 5, 6) are :meth:`Verifier.checked_ticket`, which returns a
:class:`~service_lib.ticket_cache.CheckedTicket` (the opened ticket, its groups and its
session key) cached (:mod:`service_lib.ticket_cache`) until the ticket expires or the keytab
is reloaded; the authenticator's (4, 7-10) run on every request, after them. A session
re-opens its ticket the same way.
The mutual-authentication reply (RFC 4120 §3.2.4) is :meth:`Verifier.reply_token`.

``Authorization: Negotiate`` (RFC 4559) is :meth:`Verifier.verify_negotiate`: the same
checks in the same order on a DER AP-REQ (:mod:`orthrus.kerberos.gss`) with the keytab's
Kerberos keys, and the same replay cache.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orthrus.ap import (
    APRules,
    VerifiedAPReq,
    check_authenticator,
    check_opened_and_replay,
    make_ap_rep,
    open_ap_ticket,
)
from orthrus.authz import AuthzClaims
from orthrus.errors import APError, ConfigError, MalformedMessage, ProtocolError
from orthrus.forwarding import open_forwarded_tgt
from orthrus.httpauth import MAX_TOKEN_LENGTH, decode_ap_req, encode_ap_rep, http_binding
from orthrus.kerberos.gss import (
    InitiatorRequest,
    accept_reply,
    accept_with_ticket,
    open_initiator_ticket,
    read_initiator_token,
)
from orthrus.kerberos.names import principal_of
from orthrus.kerberos.tickets import kerberos_ticket_id
from orthrus.keys import Entropy, Key
from orthrus.messages import APReq, EncTicketPart, Ticket
from orthrus.principal import Principal
from orthrus.replay import ReplayCache
from orthrus.session_token import ticket_id
from orthrus.timecheck import check_ticket_times
from orthrus_io.errors import UNAVAILABLE, Unavailable
from orthrus_io.events import EventSink, ExchangeEvent
from service_lib.identity import Identity
from service_lib.keytab_source import KeySnapshot, KeytabSource, keytab_realms
from service_lib.lab import (
    NO_TIME_BOUND,
    NoReplayCache,
    confirm_lab_realm,
    open_maybe_clear_authenticator,
    ticket_alone,
    unverified_groups,
)
from service_lib.replay import open_replay_cache
from service_lib.settings import VerifierSettings
from service_lib.ticket_cache import (
    CheckedKerberosTicket,
    CheckedTicket,
    KerberosTicketCache,
    TicketCache,
    kerberos_ticket_cache_key,
    ticket_cache_key,
)

__all__ = ["RequestOrigin", "Verifier"]

log = logging.getLogger("orthrus.service")


Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class RequestOrigin:
    """Where a request came from, for the audit log."""

    address: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class _Attempt:
    """One verification being made, for its event: what came, from where, when it began."""

    token: str
    method: str | None
    path: str | None
    origin: RequestOrigin | None
    started: float
    wall: float


class Verifier:
    """Verifies AP-REQ tokens for the principals of a keytab.

    ``settings`` says how strict it is (skew, authorization data, request binding, ticket
    cache, lab switches); its keytab, principals and replay-cache fields are what
    :meth:`from_settings` opens, and are not read when ``keytab`` and ``replay_cache`` are
    given here. ``clock`` and ``entropy`` default to the system's (``time.time``,
    ``os.urandom``); tests pass their own. Safe to share between threads.
    """

    def __init__(
        self,
        keytab: KeytabSource,
        replay_cache: ReplayCache,
        settings: VerifierSettings | None = None,
        clock: Clock = time.time,
        entropy: Entropy = os.urandom,
        events: EventSink | None = None,
    ) -> None:
        self.keytab = keytab
        self.events = events
        self.replay_cache = replay_cache
        self.settings = VerifierSettings() if settings is None else settings
        self.clock = clock
        self.entropy = entropy
        self._tickets = TicketCache(self.settings.ticket_cache_size)
        self._kerberos_tickets = KerberosTicketCache(self.settings.ticket_cache_size)
        self._generation = keytab.generation
        snapshot = keytab.snapshot()
        # An MIT keytab alone serves Negotiate; its tickets' groups need the KDC's keys only
        # when they are to be checked (kdc_jwks), so require_authz asks for them with
        # Orthrus keys alone.
        if self.settings.require_authz and snapshot.keys and snapshot.kdc_jwks is None:
            raise ConfigError(
                "the keytab has no kdc_jwks (the KDC's public keys), so KDC-signed "
                "authorization data cannot be checked; export it again with "
                "'orthrus-kdc ktadd', or set require_authz = false"
            )
        realms = sorted({p.realm for p in snapshot.principals})
        self.realm = self.settings.realm or realms[0]
        if self.settings.lab_switches:
            confirm_lab_realm(self.settings.kdc_url, self.realm, self.settings.lab_switches)
        if self.settings.lab_replay_cache_off:
            self.replay_cache = NoReplayCache()

    @classmethod
    def from_settings(cls, settings: VerifierSettings, events: EventSink | None = None) -> Verifier:
        """A verifier with the keytab file, the principals and the replay cache ``settings``
        name (by default ``HTTP/<host name>`` and a file that survives restarts)."""
        if not settings.keytab:
            raise ConfigError("no keytab: set keytab in the verifier's settings (ORTHRUS_KEYTAB)")
        source = KeytabSource(
            settings.keytab_paths,
            settings.accepted_principals(keytab_realms(settings.keytab_paths)),
            check_interval=settings.reload_interval,
            kdc_jwks=read_jwks(settings.kdc_jwks) if settings.kdc_jwks else None,
        )
        return cls(source, open_replay_cache(settings), settings, events=events)

    @property
    def ticket_cache(self) -> TicketCache:
        return self._tickets

    @property
    def kerberos_ticket_cache(self) -> KerberosTicketCache:
        """The ``Negotiate`` tickets opened and checked (:meth:`verify_negotiate`)."""
        return self._kerberos_tickets

    def _snapshot(self) -> KeySnapshot:
        snapshot = self.keytab.snapshot()
        if snapshot.generation != self._generation:
            # New keys: tickets opened with the old ones are checked again from scratch.
            self._tickets.clear()
            self._kerberos_tickets.clear()
            self._generation = snapshot.generation
        return snapshot

    def verify(
        self,
        token: str,
        method: str | None = None,
        path: str | None = None,
        origin: RequestOrigin | None = None,
    ) -> Identity:
        """Check an ``Authorization: Ticket`` token; raise the failed check's error.

        Every verification, accepted or refused, is one ``AP`` event for the verifier's
        ``events`` sink (audit log, metrics, lab traces); ``origin`` says where it came from.
        One that could not be made (the replay cache is unreachable:
        :class:`~orthrus_io.errors.Unavailable`) is an event with error ``UNAVAILABLE``.

        With ``method`` and ``path`` (the percent-decoded path, plus ``?query`` when there
        is one), an authenticator checksum must equal :func:`orthrus.httpauth.http_binding`
        of them; ``bind_requests`` makes the checksum mandatory. Raises
        :class:`~orthrus.errors.MalformedMessage` for a token that does not decode and
        :class:`~orthrus.errors.APError` for a refused one.
        """
        if self.settings.bind_requests and (method is None or path is None):
            raise TypeError("bind_requests is on: verify() needs the method and path")
        return self._audited(
            lambda seen: self._verify(token, method, path, seen), token, method, path, origin
        )

    def verify_negotiate(
        self,
        token: bytes,
        method: str | None = None,
        path: str | None = None,
        origin: RequestOrigin | None = None,
    ) -> Identity:
        """Check the token of ``Authorization: Negotiate`` (RFC 4559: SPNEGO, RFC 4178, with
        a Kerberos AP-REQ, RFC 4121 §4.1) with the keytab's Kerberos keys; raise the failed
        check's error.

        The checks and their order are the ``Ticket`` scheme's (the module docstring), with
        the 0x8003 checksum of RFC 4121 §4.1.1 where the request binding would be read; the
        replay cache is the same one. Groups come from the KDC-signed authorization data
        when the KDC's public keys are known (an Orthrus keytab, or ``kdc_jwks``); a ticket
        of another KDC gives an identity without groups. The identity's ``ap_rep`` is the
        service's answer (NegTokenResp ``accept-completed``, with the AP-REP when the
        client asked for mutual authentication), for ``WWW-Authenticate: Negotiate``.
        ``method`` and ``path`` only go into recorded events. Events as :meth:`verify`.
        """
        return self._audited(
            lambda seen: self._verify_negotiate(token, seen), token, method, path, origin
        )

    def _audited(
        self,
        run: Callable[[dict[str, str]], Identity],
        token: str | bytes,
        method: str | None,
        path: str | None,
        origin: RequestOrigin | None,
    ) -> Identity:
        """``run(seen)``, and its ``AP`` event for the verifier's ``events`` sink; ``token``
        is recorded as sent (a Negotiate token's octets in base64, as its header carries
        them), made into text only when there is a sink."""
        if self.events is None:
            return run({})
        text = token if isinstance(token, str) else base64.b64encode(token).decode("ascii")
        attempt = _Attempt(text, method, path, origin, time.perf_counter(), time.time())
        # What a refusal's event can name: the ticket's server (clear text) once the token
        # decodes, its client once the ticket opened with our key.
        seen: dict[str, str] = {}
        try:
            identity = run(seen)
        except (ProtocolError, Unavailable) as exc:
            # Unavailable is not a verdict on the client: the check could not be made (503).
            self._emit(attempt, seen, exc)
            raise
        reply = None
        if self.settings.record_messages and identity.mutual_required:
            # Made now so that the trace shows the AP-REP the client gets (RFC 4120 §3.2.4).
            identity = dataclasses.replace(identity, ap_rep=self.reply_token(identity))
            reply = identity.ap_rep
        names = {"client": str(identity.principal), "server": str(identity.service)}
        self._emit(attempt, names, None, reply)
        return identity

    def _emit(
        self,
        attempt: _Attempt,
        seen: Mapping[str, str],
        error: ProtocolError | Unavailable | None,
        reply: str | None = None,
    ) -> None:
        """The ``AP`` event of ``attempt``: accepted when ``error`` is None, naming the
        client and server in ``seen``, built once with every field."""
        assert self.events is not None
        extra: dict[str, Any] = {}
        name: str | None = None
        message: str | None = None
        if isinstance(error, ProtocolError):
            name, message = error.name, error.message
            # A refusal because the replay cache lost entries says since when, in the audit
            # log too: an operator sees the loss and how long requests are refused for it.
            if "replay_cache_since" in error.data:
                extra["replay_cache_since"] = error.data["replay_cache_since"]
        elif error is not None:
            name, message = UNAVAILABLE, str(error)
        record = self.settings.record_messages
        if record:
            extra.update(method=attempt.method, path=attempt.path)
        origin = attempt.origin
        self.events.emit(
            ExchangeEvent(
                "AP",
                error is None,
                attempt.wall,
                duration=time.perf_counter() - attempt.started,
                client=seen.get("client"),
                server=seen.get("server"),
                error=name,
                message=message,
                client_address=origin.address if origin else None,
                request_id=origin.request_id if origin else None,
                realm=self.realm,
                request=attempt.token.encode() if record else None,
                reply=reply.encode() if reply else None,
                extra=extra,
            )
        )

    def _verify(
        self, token: str, method: str | None, path: str | None, seen: dict[str, str] | None = None
    ) -> Identity:
        seen = {} if seen is None else seen
        ap_req = decode_ap_req(token)
        seen["server"] = str(ap_req.ticket.server)
        now = self.clock()
        checked = self.checked_ticket(ap_req.ticket, now)
        part = checked.part
        seen["client"] = str(part.client)
        binding = http_binding(method, path) if method is not None and path is not None else None
        rules = APRules(
            self.replay_cache,
            max_skew=NO_TIME_BOUND if self.settings.lab_no_timestamp else self.settings.max_skew,
            expected_checksum=binding,
            require_checksum=self.settings.bind_requests,
        )
        verified = self._check_authenticator(ap_req, part, now, rules, checked.session_key)
        auth = verified.authenticator
        return Identity(
            principal=part.client,
            groups=checked.groups,
            auth_factors=checked.factors,
            delegated_by=checked.delegated_by,
            service=verified.server,
            authtime=part.authtime,
            starttime=part.starttime,
            endtime=part.endtime,
            auth_method="ticket",
            ticket_id=checked.ticket_id,
            ticket=ap_req.ticket,
            session_key=verified.session_key,
            subkey=auth.subkey.to_key() if auth.subkey else None,
            seq=auth.seq,
            mutual_required=verified.mutual_required,
            ap=verified,
        )

    def _check_authenticator(
        self, ap_req: APReq, part: EncTicketPart, now: float, rules: APRules, session_key: Key
    ) -> VerifiedAPReq:
        """The authenticator's checks (RFC 4120 §3.2.3: 4, 7-10), or what a lab switch leaves
        of them (:mod:`service_lib.lab`)."""
        if self.settings.lab_no_authenticator:
            return ticket_alone(ap_req, part, session_key, now)  # lab: a bearer ticket
        if self.settings.lab_no_session_key:
            # lab: an authenticator in the clear is believed, nothing ties it to the ticket
            opened = open_maybe_clear_authenticator(ap_req, part, rules.usage, session_key)
            check_opened_and_replay(opened, now, rules)
            return VerifiedAPReq(
                opened.server, part, opened.authenticator, session_key, opened.mutual_required
            )
        return check_authenticator(ap_req, part, now, rules, session_key)

    def with_forwarded_tgt(self, identity: Identity, token: str) -> Identity:
        """``identity`` with the TGT its client forwarded in ``token`` (the header
        ``Orthrus-Forwarded-TGT``, :mod:`orthrus.forwarding`), opened under the session key
        of the ticket it authenticated with; a session (no ticket) carries none."""
        if identity.session_key is None:
            raise MalformedMessage("a forwarded TGT goes with a ticket, not with a session")
        if len(token) > MAX_TOKEN_LENGTH:
            raise MalformedMessage("the forwarded TGT is too long", too_long=True)
        tgt = open_forwarded_tgt(
            token, identity.session_key, identity.principal, self.clock(), self.settings.max_skew
        )
        return dataclasses.replace(identity, forwarded_tgt=tgt)

    def _verify_negotiate(self, token: bytes, seen: dict[str, str]) -> Identity:
        request = read_initiator_token(token)
        now = self.clock()
        ticket = self._checked_kerberos_ticket(request, now, seen)
        checked, part = ticket.checked, ticket.checked.part
        seen["client"] = str(part.client)
        rules = APRules(self.replay_cache, max_skew=self.settings.max_skew)
        accepted = accept_with_ticket(request, ticket.server, part, checked.session_key, now, rules)
        return Identity(
            principal=part.client,
            groups=checked.groups,
            auth_factors=checked.factors,
            delegated_by=checked.delegated_by,
            service=accepted.opened.server,
            authtime=part.authtime,
            starttime=part.starttime,
            endtime=part.endtime,
            auth_method="negotiate",
            ticket_id=checked.ticket_id,
            seq=accepted.opened.authenticator.seq,
            mutual_required=True,
            ap_rep=base64.b64encode(accept_reply(accepted, self.entropy)).decode("ascii"),
        )

    def _checked_kerberos_ticket(
        self, request: InitiatorRequest, now: float, seen: dict[str, str]
    ) -> CheckedKerberosTicket:
        """The ``Negotiate`` ticket's own checks, as :meth:`checked_ticket` makes the
        ``Ticket`` scheme's (``NOT_US``, ``BADKEYVER``, ``MODIFIED``, the ticket times, the
        KDC-signed groups when the KDC's public keys are known), cached the same way, by the
        ticket's octets: it is decoded only when it is not in the cache. Its server goes
        into ``seen`` for the event."""
        snapshot = self._snapshot()
        key = kerberos_ticket_cache_key(request.ap_req.ticket)
        cached = self._kerberos_tickets.get(key, now)
        if cached is not None:
            seen["server"] = str(cached.server)
            return cached
        ticket = request.ticket()
        server = principal_of(ticket.sname, ticket.realm)
        seen["server"] = str(server)
        if not snapshot.kerberos_keys:
            raise APError(
                "KRB_AP_ERR_NOT_US",
                "this service holds no Kerberos keys (its keytab is Orthrus's): it takes "
                "'Authorization: Ticket' (orthrus fetch); for Negotiate its administrator "
                "adds an MIT keytab ('orthrus-kdc ktadd --format mit -k FILE SERVICE', or "
                "the realm's kadmin ktadd) to its keytab setting",
            )
        part = open_initiator_ticket(ticket, snapshot.kerberos_keys_for)
        check_ticket_times(part.starttime, part.endtime, now, self.settings.max_skew)
        # Without the KDC's public keys (a ticket of another KDC) an identity, no groups.
        claims = (
            AuthzClaims(())
            if snapshot.kdc_jwks is None
            else self._check_authz(snapshot, part, server, now)
        )
        expires_at = part.endtime + self.settings.max_skew
        entry = CheckedKerberosTicket(
            server,
            CheckedTicket(
                part,
                claims.groups,
                expires_at,
                kerberos_ticket_id(ticket),
                part.key.to_keyblock(),
                claims.factors,
                claims.delegated_by,
            ),
        )
        self._kerberos_tickets.put(key, entry)
        return entry

    def checked_ticket(self, ticket: Ticket, now: float) -> CheckedTicket[Key]:
        """``ticket`` opened and checked without an authenticator: RFC 4120 §3.2.3 steps 1-3
        (``NOT_US``, ``BADKEYVER``, ``MODIFIED``), 5 (``TKT_NYV``, ``TKT_EXPIRED``) and 6 (the
        KDC-signed authorization data, ``MODIFIED``). A session re-opens the ticket that
        started it this way (:mod:`service_lib.sessions`); cached like AP-REQs' tickets."""
        snapshot = self._snapshot()
        if not snapshot.keys:
            raise APError(
                "KRB_AP_ERR_NOT_US",
                "this service holds only Kerberos keys (an MIT keytab): it takes "
                "'Authorization: Negotiate' (kinit, then curl --negotiate); for the Ticket "
                "scheme its administrator exports the Orthrus keytab with 'orthrus-kdc "
                "ktadd -k FILE SERVICE' (without --format mit)",
            )
        cached = self._tickets.get(ticket_cache_key(ticket), now)
        part = cached.part if cached else open_ap_ticket(ticket, snapshot.keys_for)
        check_ticket_times(part.starttime, part.endtime, now, self.settings.max_skew)
        return cached or self._remember(ticket, part, snapshot, now)

    def _remember(
        self, ticket: Ticket, part: EncTicketPart, snapshot: KeySnapshot, now: float
    ) -> CheckedTicket[Key]:
        """Check the authorization data of an opened ticket and cache the verdict."""
        claims = self._check_authz(snapshot, part, ticket.server, now)
        expires_at = part.endtime + self.settings.max_skew
        entry = CheckedTicket(
            part,
            claims.groups,
            expires_at,
            ticket_id(ticket.enc_part),
            part.key.to_key(),
            claims.factors,
            claims.delegated_by,
        )
        self._tickets.put(ticket_cache_key(ticket), entry)
        return entry

    def _check_authz(
        self, snapshot: KeySnapshot, part: EncTicketPart, server: Principal, now: float
    ) -> AuthzClaims:
        if self.settings.lab_unsigned_authz:
            return AuthzClaims(unverified_groups(part))  # lab switch: the silver-ticket mistake
        if part.authorization_data is None and not self.settings.require_authz:
            return AuthzClaims(())
        authz = snapshot.authz_verifier(server.realm)
        if authz is None:
            raise APError(
                "KRB_AP_ERR_MODIFIED",
                "the ticket's authorization data cannot be checked: the keytab has no KDC "
                "public keys (kdc_jwks); the service administrator must export it again",
            )
        return authz.claims(part, server, self.settings.max_skew, now=now)

    def reply_token(self, identity: Identity, seq: int | None = None) -> str:
        """The ``Authentication-Info: Ticket <token>`` value proving this service read the
        authenticator (RFC 4120 §3.2.4); ``seq`` is the service's initial sequence number
        for KRB-PRIV messages, if it wants its own."""
        if seq is None and identity.ap_rep is not None:
            return identity.ap_rep
        if identity.ap is None:
            raise ValueError("mutual authentication needs an identity from an AP exchange")
        return encode_ap_rep(make_ap_rep(identity.ap, self.entropy, seq=seq))


def read_jwks(path: str) -> dict[str, Any]:
    """The KDC's public keys from the JWKS file at ``path`` (setting ``kdc_jwks``)."""
    try:
        jwks = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"kdc_jwks {path}: cannot read a JWKS from it ({exc})") from None
    if not isinstance(jwks, dict):
        raise ConfigError(f"kdc_jwks {path}: not a JWKS (a JSON object with 'keys')")
    return jwks
