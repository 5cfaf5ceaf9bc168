"""The Authentication Service exchange (RFC 4120 §3.1): login, for a ticket-granting ticket.

Both sides are here. The KDC side, :func:`handle_as_req`, is a pure function of the request,
the realm (lookups, replay cache, entropy) and the time. The client side builds the request
(:func:`make_as_req`) and checks the reply (:func:`read_as_rep`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import msgspec

from orthrus.codec import decode, encode
from orthrus.credentials import Credential
from orthrus.errors import APError, KDCError, MalformedMessage
from orthrus.kdcrep import (
    ReplyExpectation,
    TicketTerms,
    grant_times,
    issue_ticket,
    read_kdc_reply,
    reply_checksum,
    seal_reply,
)
from orthrus.keys import Entropy, Key, KeyUsage
from orthrus.messages import ASRep, ASReq, KDCOption, KDCReqBody, PAData, PAEncTimestamp
from orthrus.principal import Principal, krbtgt
from orthrus.realm import KDCContext, PrincipalEntry, select_key, ticket_server
from orthrus.seal import open_sealed, peek_header, seal
from orthrus.timecheck import check_skew

K = TypeVar("K")
K_co = TypeVar("K_co", covariant=True)

__all__ = [
    "ASOptions",
    "Preauth",
    "as_entries",
    "as_terms",
    "check_preauth",
    "handle_as_req",
    "make_as_req",
    "preauth_hint",
    "read_as_rep",
]


def as_entries(
    client_name: Principal, server_name: Principal, ctx: KDCContext
) -> tuple[PrincipalEntry, PrincipalEntry]:
    """The client and server of an AS-REQ, if the KDC may issue that ticket at all
    (RFC 4120 §3.1.3: realm, unknown client, server, policy)."""
    realm = ctx.policy.realm
    if client_name.realm != realm or server_name.realm != realm:
        raise KDCError(
            "KDC_ERR_WRONG_REALM",
            f"this KDC serves realm {realm}; ask the KDC of {client_name.realm} instead",
        )
    client = ctx.lookup(client_name)
    if client is None:
        raise KDCError(
            "KDC_ERR_C_PRINCIPAL_UNKNOWN",
            f"client {client_name} is not in the database; check the name or ask an "
            "administrator to create it (orthrus-kdc addprinc)",
        )
    server = ticket_server(server_name, ctx.lookup(server_name), ctx.policy)
    for entry in (client, server):
        if not entry.allow_tickets:
            raise KDCError(
                "KDC_ERR_POLICY",
                f"{entry.principal} is not allowed tickets; ask an administrator",
            )
    return client, server


def preauth_hint(client: PrincipalEntry) -> dict[str, object]:
    """Public data a client needs to pre-authenticate: current kvno, salt and KDF parameters."""
    hint: dict[str, object] = {"kvno": client.kvno}
    if client.kdf is not None:
        hint["kdf"] = msgspec.to_builtins(client.kdf)
    return hint


class Preauth(Protocol[K_co]):
    """How one wire format carries PA-ENC-TIMESTAMP (RFC 4120 §5.2.7.2) and its hints."""

    def offered(self) -> bool:
        """Whether the request carries an encrypted timestamp at all."""
        ...

    def hint(self, client: PrincipalEntry) -> Mapping[str, Any]:
        """The data of ``KDC_ERR_PREAUTH_REQUIRED`` and ``_FAILED``: salt, KDF, kvno."""
        ...

    def open(self, client: PrincipalEntry) -> tuple[float, K_co]:
        """The client's time and the key that opened the timestamp; raises
        ``APError``/``MalformedMessage``/``ValueError`` if it does not open."""
        ...


def check_preauth(client: PrincipalEntry, preauth: Preauth[K], ctx: KDCContext, now: float) -> K:
    """Check PA-ENC-TIMESTAMP (RFC 4120 §5.2.7.2) with lockout; return the key it proved.

    The lockout guard reserves the attempt before the key is tried, and counts a failure
    whatever the wire: one limit per principal, however the guesses arrive.
    """
    if not preauth.offered():
        raise KDCError(
            "KDC_ERR_PREAUTH_REQUIRED",
            f"{client.principal} must pre-authenticate: send an encrypted timestamp "
            "made with the key derived from the password (the data gives salt and KDF)",
            preauth.hint(client),
        )
    guard = ctx.guard
    if guard is not None and not guard.admit(client.principal, now):
        raise KDCError(
            "KDC_ERR_CLIENT_REVOKED",
            f"{client.principal} is locked out after too many failed logins; wait for the "
            "lockout to end or ask an administrator (orthrus-kdc modprinc --unlock)",
        )
    try:
        client_time, key = preauth.open(client)
    except (APError, MalformedMessage, ValueError) as exc:
        if guard is not None:
            guard.failed(client.principal, now)
        raise KDCError(
            "KDC_ERR_PREAUTH_FAILED",
            f"pre-authentication of {client.principal} failed: wrong password or key; "
            "check it and try again",
            preauth.hint(client),
        ) from exc
    if guard is not None:
        guard.succeeded(client.principal)
    check_skew(client_time, now, ctx.policy.max_skew, "KDC")
    return key


def as_terms(
    body: KDCReqBody,
    client: PrincipalEntry,
    server: PrincipalEntry,
    flags: tuple[str, ...],
    ctx: KDCContext,
    now: float,
) -> TicketTerms:
    """The ticket an AS-REQ gets (RFC 4120 §3.1.3), within the realm's and both principals'
    limits; forwardable and proxiable when asked for (§2.6), forwardable only if the client
    is allowed it (else left out, as MIT's ``DISALLOW_FORWARDABLE`` does)."""
    start, end, renew_till = grant_times(body, now, ctx.policy, (client, server))
    allowed = ("forwardable", "proxiable") if client.allow_forwardable else ("proxiable",)
    asked = tuple(f for f in allowed if f in body.options)
    return TicketTerms(
        client=client.principal,
        flags=flags + asked,
        authtime=start,
        starttime=start,
        endtime=end,
        renew_till=renew_till,
        groups=client.groups,
    )


class _JoseTimestamp:
    """PA-ENC-TIMESTAMP on the JSON wire: a JWE whose ``kid`` names the key version."""

    def __init__(self, req: ASReq) -> None:
        self._padata = next((p for p in req.padata if p.type == "enc-timestamp"), None)

    def offered(self) -> bool:
        return self._padata is not None

    def hint(self, client: PrincipalEntry) -> Mapping[str, Any]:
        return preauth_hint(client)

    def open(self, client: PrincipalEntry) -> tuple[float, Key]:
        if self._padata is None:
            raise MalformedMessage("the request carries no encrypted timestamp")
        kid = peek_header(self._padata.value).get("kid")
        # Only the current key logs in: older versions stay for the tickets issued under
        # them, not so that an old password keeps working after a change.
        current = {client.kvno: client.current_key}
        key = select_key(current, int(kid) if isinstance(kid, str) else -1, client.principal)
        stamp = decode(
            open_sealed(key, KeyUsage.AS_REQ_PA_ENC_TIMESTAMP, self._padata.value),
            PAEncTimestamp,
        )
        return stamp.patimestamp + stamp.pausec / 1e6, key


def handle_as_req(req: ASReq, ctx: KDCContext, now: float) -> ASRep:
    """Answer an AS-REQ (RFC 4120 §3.1.2-§3.1.3) or raise the ``KDC_ERR_*`` that applies."""
    client, server = as_entries(req.client, req.body.server, ctx)
    flags: tuple[str, ...] = ("initial",)
    reply_key = client.current_key
    if client.requires_preauth:
        reply_key = check_preauth(client, _JoseTimestamp(req), ctx, now)
        flags += ("pre-authent",)
    terms = as_terms(req.body, client, server, flags, ctx, now)
    ticket, part = issue_ticket(terms, server, req.body.nonce, ctx)
    # A client that pre-authenticated has its KDF parameters already (from the
    # KDC_ERR_PREAUTH_REQUIRED data); only a reply without pre-authentication carries them.
    kdf = None if client.requires_preauth else client.kdf
    part = msgspec.structs.replace(
        part, checksum=reply_checksum(req, client.principal, ticket, kdf)
    )
    sealed = seal_reply(part, reply_key, KeyUsage.AS_REP_ENC_PART, ctx.entropy)
    return ASRep(client=client.principal, ticket=ticket, enc_part=sealed, kdf=kdf)


@dataclass(frozen=True, slots=True)
class ASOptions:
    """What the client asks for: lifetime in seconds (0: the realm's maximum), renewable
    life, and a forwardable ticket (``kinit -f``, RFC 4120 §2.6)."""

    lifetime: int = 0
    renewable_life: int | None = None
    server: Principal | None = None
    forwardable: bool = False


def make_as_req(
    client: Principal, now: float, entropy: Entropy, options: ASOptions, key: Key | None = None
) -> ASReq:
    """Build an AS-REQ; with ``key``, include the encrypted timestamp (RFC 4120 §5.2.7.2)."""
    seconds = int(now)
    asked: list[KDCOption] = ["renewable"] if options.renewable_life is not None else []
    if options.forwardable:
        asked.append("forwardable")
    body = KDCReqBody(
        server=options.server or krbtgt(client.realm),
        nonce=int.from_bytes(entropy(8), "big") >> 1,
        till=seconds + options.lifetime if options.lifetime else 0,
        renew_till=seconds + options.renewable_life if options.renewable_life else None,
        options=asked,
    )
    padata = []
    if key is not None:
        stamp = PAEncTimestamp(patimestamp=seconds, pausec=min(int((now - seconds) * 1e6), 999_999))
        sealed = seal(key, KeyUsage.AS_REQ_PA_ENC_TIMESTAMP, encode(stamp), entropy)
        padata.append(PAData(type="enc-timestamp", value=sealed))
    return ASReq(client=client, body=body, padata=padata)


def read_as_rep(rep: ASRep, req: ASReq, key: Key, now: float) -> Credential:
    """Check an AS-REP against the request that asked for it (RFC 4120 §3.1.5), including
    the checksum that binds that request and the reply's clear parts (RFC 6806 §11)."""
    checksum = reply_checksum(req, rep.client, rep.ticket, rep.kdf)
    expect = ReplyExpectation(req.client, req.body.server, req.body.nonce, now, checksum=checksum)
    return read_kdc_reply(
        rep.client, rep.ticket, rep.enc_part, (key, KeyUsage.AS_REP_ENC_PART), expect
    )
