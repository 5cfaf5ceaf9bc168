"""KDC replies: issuing a ticket and its reply part (RFC 4120 §3.1.3, §3.3.3), and the
client's checks of a reply (RFC 4120 §3.1.5, §3.3.4).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import msgspec

from orthrus.ap import seal_ticket
from orthrus.codec import decode, encode
from orthrus.credentials import Credential
from orthrus.errors import APError, KDCError, MalformedMessage
from orthrus.keys import Entropy, Key, KeyUsage
from orthrus.messages import EncKDCRepPart, EncryptionKey, EncTicketPart, KDCReqBody, Ticket
from orthrus.principal import Principal
from orthrus.realm import KDCContext, PrincipalEntry, RealmPolicy
from orthrus.seal import open_sealed, seal

__all__ = [
    "ReplyExpectation",
    "TicketTerms",
    "grant_times",
    "issue_ticket",
    "read_kdc_reply",
    "reply_checksum",
    "reply_part",
    "seal_reply",
    "ticket_part",
]


@dataclass(frozen=True, slots=True)
class TicketTerms:
    """The contents of a ticket about to be issued."""

    client: Principal
    flags: tuple[str, ...]
    authtime: int
    starttime: int
    endtime: int
    renew_till: int | None = None
    groups: tuple[str, ...] = ()
    #: Factors proven besides the long-term key (``otp``), signed as ``auth_factors``.
    factors: tuple[str, ...] = ()
    #: The service that asked for this ticket in the client's name (S4U2Proxy), signed
    #: into the authorization data as ``dlg``.
    delegated_by: Principal | None = None
    #: The realms crossed, DOMAIN-X500-COMPRESS (RFC 4120 §3.3.3.2).
    transited: str = ""


def grant_times(
    body: KDCReqBody,
    now: float,
    policy: RealmPolicy,
    limits: tuple[PrincipalEntry, ...],
) -> tuple[int, int, int | None]:
    """Start, end and renew-till for a request, within every limit (RFC 4120 §3.1.3).

    ``till`` 0 asks for the longest allowed life; a renewable ticket is granted only when
    asked for with a ``renew_till`` beyond the end time.
    """
    start = int(now)
    life = min([policy.max_life] + [e.max_life for e in limits if e.max_life])
    end = start + life if body.till == 0 else min(body.till, start + life)
    if end <= start:
        raise KDCError(
            "KDC_ERR_NEVER_VALID",
            "the requested end time is already past; ask for a later end time (-l)",
        )
    renew_till = None
    if "renewable" in body.options and body.renew_till:
        renew_life = min(
            [policy.max_renewable_life]
            + [e.max_renewable_life for e in limits if e.max_renewable_life]
        )
        renew_till = min(body.renew_till, start + renew_life)
        if renew_till <= end:
            renew_till = None
    return start, end, renew_till


def ticket_part(
    terms: TicketTerms, server: PrincipalEntry, session_key: EncryptionKey, ctx: KDCContext
) -> EncTicketPart:
    """The contents of a new ticket for ``server`` with ``session_key``, whatever the wire.

    With a signer in ``ctx``, the ticket carries KDC-signed authorization data
    (:mod:`orthrus.authz`) bound to its client, times, server and session key.
    """
    flags = sorted(set(terms.flags) | ({"renewable"} if terms.renew_till else set()))
    part = EncTicketPart(
        flags=flags,  # type: ignore[arg-type]
        key=session_key,
        client=terms.client,
        authtime=terms.authtime,
        starttime=terms.starttime,
        endtime=terms.endtime,
        renew_till=terms.renew_till,
        transited=terms.transited,
    )
    if ctx.signer is not None:
        signed = ctx.signer.sign(
            part, server.principal, terms.groups, terms.factors, terms.delegated_by
        )
        part = msgspec.structs.replace(part, authorization_data=signed)
    return part


def reply_part(part: EncTicketPart, server: Principal, nonce: int) -> EncKDCRepPart:
    """What the reply tells the client of the ticket ``part`` (RFC 4120 §5.4.2)."""
    return EncKDCRepPart(
        key=part.key,
        nonce=nonce,
        flags=part.flags,
        authtime=part.authtime,
        starttime=part.starttime,
        endtime=part.endtime,
        server=server,
        renew_till=part.renew_till,
    )


def issue_ticket(
    terms: TicketTerms, server: PrincipalEntry, nonce: int, ctx: KDCContext
) -> tuple[Ticket, EncKDCRepPart]:
    """A new session key, the ticket sealed for ``server`` (JOSE), and the reply part."""
    part = ticket_part(terms, server, EncryptionKey.from_key(Key.generate(ctx.entropy)), ctx)
    ticket = seal_ticket(part, server.principal, server.current_key, ctx.entropy)
    return ticket, reply_part(part, server.principal, nonce)


def reply_checksum(request: object, client: Principal, ticket: Ticket, kdf: object = None) -> bytes:
    """The ``checksum`` of :class:`~orthrus.messages.EncKDCRepPart`: SHA-256 of the request
    (an ``ASReq`` or ``TGSReq``) and of the reply's clear parts, in their canonical encoding.

    The KDC computes it over the request as it read it; the client over the request it sent.
    They differ if anything in clear was changed in transit: the AS-REQ body (lifetimes,
    options), which nothing else protects (RFC 6806 §11 fixes the same gap in Kerberos with
    PA-REQ-ENC-PA-REP), or the reply's ticket, client or KDF hint, which the client cannot
    decrypt (RFC 4120 §3.1.5 leaves a swapped ticket to be found only when it is used).
    """
    return hashlib.sha256(encode(["orthrus-kdc-rep/1", request, client, ticket, kdf])).digest()


def seal_reply(part: EncKDCRepPart, key: Key, usage: KeyUsage, entropy: Entropy) -> str:
    """Seal the reply part for the client."""
    return seal(key, usage, encode(part), entropy)


@dataclass(frozen=True, slots=True)
class ReplyExpectation:
    """What the client asked for, to hold the reply against.

    ``checksum`` is :func:`reply_checksum` of the request sent and the reply's clear parts;
    :func:`~orthrus.as_exchange.read_as_rep` and :func:`~orthrus.tgs_exchange.read_tgs_rep`
    always give it. None skips that check: only for a caller that binds the reply itself.
    """

    client: Principal
    server: Principal
    nonce: int
    now: float
    max_skew: int = 300
    checksum: bytes | None = None


def _forged(what: str) -> APError:
    return APError(
        "KRB_AP_ERR_MODIFIED",
        f"the KDC reply {what}: it was not made by the KDC for this request; it was refused",
    )


def read_kdc_reply(
    reply_client: Principal,
    ticket: Ticket,
    sealed_part: str,
    key_and_usage: tuple[Key, KeyUsage],
    expect: ReplyExpectation,
) -> Credential:
    """Open and check an AS-REP or TGS-REP; return the new credential.

    Checks (RFC 4120 §3.1.5): the part opens under our key, the nonce and the server name
    are those we sent, the client is us, the times make sense, and (last) the part's
    checksum binds the request we sent and the reply's clear parts (RFC 6806 §11).
    """
    key, usage = key_and_usage
    plaintext = open_sealed(key, usage, sealed_part)
    try:
        part = decode(plaintext, EncKDCRepPart)
    except MalformedMessage as exc:
        raise _forged("decrypted to garbage") from exc
    if part.nonce != expect.nonce:
        raise _forged("carries another nonce")
    if part.server != expect.server or ticket.server != expect.server:
        raise _forged(f"names server {part.server}, not {expect.server}")
    if reply_client != expect.client:
        raise _forged(f"is for {reply_client}, not {expect.client}")
    if part.endtime <= part.starttime or part.endtime + expect.max_skew < expect.now:
        raise _forged("has impossible ticket times")
    if expect.checksum is not None and (
        part.checksum is None or not hmac.compare_digest(part.checksum, expect.checksum)
    ):
        raise _forged(
            "does not match the request sent, or its ticket or names were changed in transit"
        )
    return Credential(
        client=expect.client,
        server=part.server,
        key=part.key,
        ticket=ticket,
        flags=part.flags,
        authtime=part.authtime,
        starttime=part.starttime,
        endtime=part.endtime,
        renew_till=part.renew_till,
    )
