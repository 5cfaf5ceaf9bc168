"""The AP exchange (RFC 4120 §3.2): tickets sealed for a server, authenticators, AP-REP.

:func:`verify_ap_req` is used both by the KDC (a TGT in a TGS-REQ) and by services. Its
checks follow RFC 4120 §3.2.3, with one deliberate change of order: the replay cache is
consulted last, after every other check has passed, so that a request refused for any reason
never enters the cache (and cannot be used to lock a legitimate authenticator out).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from orthrus.codec import decode, encode
from orthrus.credentials import Credential
from orthrus.enctypes import KeyBlock
from orthrus.errors import APError, MalformedMessage
from orthrus.keys import Entropy, Key, KeyUsage
from orthrus.messages import (
    APRep,
    APReq,
    Authenticator,
    EncAPRepPart,
    EncryptionKey,
    EncTicketPart,
    Ticket,
)
from orthrus.principal import Principal
from orthrus.realm import select_key
from orthrus.replay import ReplayCache, check_replay
from orthrus.seal import open_sealed, open_sealed_tagged, seal
from orthrus.timecheck import check_skew, check_ticket_times

__all__ = [
    "APRules",
    "AuthenticatorFields",
    "KeysFor",
    "OpenedAPReq",
    "TicketCheck",
    "VerifiedAPReq",
    "check_authenticator",
    "check_opened",
    "check_opened_and_replay",
    "check_reply_echo",
    "make_ap_rep",
    "make_ap_req",
    "not_sealed_for_us",
    "open_ap_ticket",
    "open_authenticator",
    "open_ticket",
    "read_ap_rep",
    "replay_expiry",
    "seal_ticket",
    "served_keys",
    "verify_ap_req",
]

T = TypeVar("T")
#: A session key: :class:`~orthrus.keys.Key` on the JOSE wire, a
#: :class:`~orthrus.enctypes.KeyBlock` on the Kerberos wire.
K = TypeVar("K", Key, KeyBlock)

#: The verifier's keys: a server's keys by kvno, or None for a server not served here.
KeysFor = Callable[[Principal], Mapping[int, Key] | None]

#: An extra check of an opened ticket (e.g. its KDC-signed authorization data), run right
#: after the ticket times; it raises a ``ProtocolError`` to refuse the ticket.
TicketCheck = Callable[[EncTicketPart, Principal], None]


def seal_ticket(part: EncTicketPart, server: Principal, key: Key, entropy: Entropy) -> Ticket:
    """Seal a ticket under the server's key; the server's name is bound as context."""
    sealed = seal(key, KeyUsage.TICKET, encode(part), entropy, context=str(server))
    return Ticket(server=server, kvno=key.kvno, enc_part=sealed)


def open_ticket(ticket: Ticket, key: Key) -> EncTicketPart:
    """Decrypt a ticket with the server's key (``KRB_AP_ERR_MODIFIED`` if it does not open)."""
    plaintext = open_sealed(key, KeyUsage.TICKET, ticket.enc_part, context=str(ticket.server))
    return _decode_sealed(plaintext, EncTicketPart, "ticket")


def _decode_sealed(plaintext: bytes, type_: type[T], what: str) -> T:
    try:
        return decode(plaintext, type_)
    except MalformedMessage as exc:
        raise APError("KRB_AP_ERR_MODIFIED", f"the {what} decrypted to garbage") from exc


@dataclass(frozen=True, slots=True)
class AuthenticatorFields:
    """What a client puts in an authenticator besides its name and the time."""

    usage: KeyUsage = KeyUsage.AP_REQ_AUTHENTICATOR
    checksum: bytes | None = None
    subkey: Key | None = None
    seq: int | None = None
    mutual: bool = False


def make_ap_req(
    credential: Credential, now: float, entropy: Entropy, fields: AuthenticatorFields
) -> tuple[APReq, Authenticator]:
    """Build an AP-REQ: the ticket plus "my name and the time", sealed under the session key."""
    seconds = int(now)
    authenticator = Authenticator(
        client=credential.client,
        ctime=seconds,
        cusec=min(int((now - seconds) * 1_000_000), 999_999),
        checksum=fields.checksum,
        subkey=EncryptionKey.from_key(fields.subkey) if fields.subkey else None,
        seq=fields.seq,
    )
    sealed = seal(credential.session_key, fields.usage, encode(authenticator), entropy)
    options: list[str] = ["mutual-required"] if fields.mutual else []
    return APReq(credential.ticket, sealed, options), authenticator  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class APRules:
    """How a verifier checks an AP-REQ: key usage, skew, replay cache, request binding.

    With ``expected_checksum`` set, an authenticator's checksum must equal it; without a
    checksum the authenticator is refused unless ``require_checksum`` is False (a service
    whose clients may or may not bind their requests still refuses a binding that differs).
    """

    replay_cache: ReplayCache
    usage: KeyUsage = KeyUsage.AP_REQ_AUTHENTICATOR
    max_skew: int = 300
    expected_checksum: bytes | None = None
    where: str = "service"
    ticket_check: TicketCheck | None = None
    require_checksum: bool = True


@dataclass(frozen=True, slots=True)
class OpenedAPReq(Generic[K]):
    """An AP-REQ whose ticket and authenticator opened, not yet checked (RFC 4120 §3.2.3).

    Each wire format opens its own (JSON and JOSE here, DER and RFC 3961 enctypes in
    :mod:`orthrus.kerberos`) and hands the result to the same checks,
    :func:`check_opened` and then the replay cache, whose entry is ``replay_entry``.
    """

    server: Principal
    ticket: EncTicketPart
    authenticator: Authenticator
    session_key: K
    replay_entry: bytes
    mutual_required: bool = False


@dataclass(frozen=True, slots=True)
class VerifiedAPReq:
    """An AP-REQ that passed every check."""

    server: Principal
    ticket: EncTicketPart
    authenticator: Authenticator
    session_key: Key
    mutual_required: bool


def verify_ap_req(ap_req: APReq, keys_for: KeysFor, now: float, rules: APRules) -> VerifiedAPReq:
    """Verify an AP-REQ (RFC 4120 §3.2.3); raise the first failed check's ``KRB_AP_ERR_*``.

    Order: ticket for a server we hold keys for (``NOT_US``), key by kvno (``BADKEYVER``),
    ticket integrity and authenticator integrity (``MODIFIED``), ticket times (``TKT_NYV``,
    ``TKT_EXPIRED``), ``rules.ticket_check`` if any, authenticator client = ticket client
    (``BADMATCH``), clock skew (``SKEW``), request binding (``MODIFIED``), and last the replay
    cache (``REPEAT``). It is :func:`open_ap_ticket` followed by :func:`check_authenticator`.
    """
    return check_authenticator(ap_req, open_ap_ticket(ap_req.ticket, keys_for), now, rules)


def open_ap_ticket(ticket: Ticket, keys_for: KeysFor) -> EncTicketPart:
    """The first checks of RFC 4120 §3.2.3: ``NOT_US``, ``BADKEYVER``, then ticket ``MODIFIED``.

    A service may cache the result keyed by the exact ticket, and give it to
    :func:`check_authenticator` for later requests with the same ticket.
    """
    server = ticket.server
    return open_ticket(ticket, select_key(served_keys(keys_for, server), ticket.kvno, server))


def served_keys(keys_for: Callable[[Principal], T | None], server: Principal) -> T:
    """The keys ``keys_for`` holds for ``server`` (RFC 4120 §3.2.3, first check), whatever
    their form: ``KRB_AP_ERR_NOT_US`` if this verifier does not serve it."""
    keys = keys_for(server)
    if keys is None:
        raise APError(
            "KRB_AP_ERR_NOT_US",
            f"the ticket is for {server}, which is not served here; "
            "ask for a ticket for this service",
        )
    return keys


def open_authenticator(
    ap_req: APReq, ticket: EncTicketPart, usage: KeyUsage, session_key: Key | None = None
) -> OpenedAPReq[Key]:
    """Open the authenticator of ``ap_req`` under the session key of its opened ``ticket``
    (``MODIFIED`` if it does not open or decode). A caller that keeps opened tickets passes
    their session key as a :class:`Key` it keeps too, which derives each usage's key once."""
    session_key = session_key or ticket.key.to_key()
    plaintext, tag = open_sealed_tagged(session_key, usage, ap_req.authenticator)
    authenticator = _decode_sealed(plaintext, Authenticator, "authenticator")
    return OpenedAPReq(
        ap_req.ticket.server,
        ticket,
        authenticator,
        session_key,
        _replay_entry(ap_req.ticket.server, usage, tag),
        "mutual-required" in ap_req.options,
    )


def check_opened(opened: OpenedAPReq[Any], now: float, rules: APRules) -> float:
    """The checks of RFC 4120 §3.2.3 after the ticket and authenticator opened, but for the
    replay cache: ticket times, ``rules.ticket_check``, ``BADMATCH``, ``SKEW``, request
    binding. Returns the client's time, for the replay check the caller makes last
    (:func:`orthrus.replay.check_replay`), once its own checks passed too: a request refused
    for any reason never enters the replay cache.
    """
    ticket, authenticator = opened.ticket, opened.authenticator
    check_ticket_times(ticket.starttime, ticket.endtime, now, rules.max_skew)
    if rules.ticket_check is not None:
        rules.ticket_check(ticket, opened.server)
    if authenticator.client != ticket.client:
        raise APError(
            "KRB_AP_ERR_BADMATCH",
            f"the authenticator names {authenticator.client} but the ticket was issued to "
            f"{ticket.client}; a ticket can only be used by its own client",
        )
    client_time = authenticator.ctime + authenticator.cusec / 1e6
    check_skew(client_time, now, rules.max_skew, rules.where)
    _check_binding(authenticator.checksum, rules)
    return client_time


def replay_expiry(authenticator: Authenticator, max_skew: int) -> float:
    """When a replay cache may forget an authenticator: once its time is out of the skew."""
    return authenticator.ctime + max_skew + 1


def check_opened_and_replay(opened: OpenedAPReq[Any], now: float, rules: APRules) -> None:
    """:func:`check_opened`, then the replay cache (``REPEAT``, always last: an authenticator
    already stored, or made before the replay cache's memory starts)."""
    client_time = check_opened(opened, now, rules)
    expires_at = replay_expiry(opened.authenticator, rules.max_skew)
    check_replay(rules.replay_cache, opened.replay_entry, expires_at, now, client_time, rules.where)


def check_authenticator(
    ap_req: APReq,
    ticket: EncTicketPart,
    now: float,
    rules: APRules,
    session_key: Key | None = None,
) -> VerifiedAPReq:
    """The rest of RFC 4120 §3.2.3 given the opened ``ticket`` of ``ap_req``.

    Authenticator integrity (``MODIFIED``), then :func:`check_opened`, then the replay
    cache (``REPEAT``, always last: an authenticator already stored, or made before the
    replay cache's memory starts).
    """
    opened = open_authenticator(ap_req, ticket, rules.usage, session_key)
    check_opened_and_replay(opened, now, rules)
    return VerifiedAPReq(
        opened.server, ticket, opened.authenticator, opened.session_key, opened.mutual_required
    )


def _check_binding(checksum: bytes | None, rules: APRules) -> None:
    expected = rules.expected_checksum
    if expected is None or (checksum is None and not rules.require_checksum):
        return
    if checksum is None:
        raise APError(
            "KRB_AP_ERR_MODIFIED",
            "the authenticator carries no checksum of the request, and this request must be "
            "bound to it; the client must put the request's checksum in its authenticator",
        )
    if not hmac.compare_digest(checksum, expected):
        raise APError(
            "KRB_AP_ERR_MODIFIED",
            "the request does not match the checksum in its authenticator: it was changed "
            "after the client made it",
        )


def _replay_entry(server: Principal, usage: KeyUsage, tag: bytes) -> bytes:
    # The decoded AEAD tag (as open_sealed_tagged checked it) identifies the ciphertext; a
    # text form might not, as base64url's unused trailing bits could spell it several ways.
    return hashlib.sha256(b"%d|%s|" % (usage, str(server).encode()) + tag).digest()


def make_ap_rep(
    verified: VerifiedAPReq, entropy: Entropy, subkey: Key | None = None, seq: int | None = None
) -> APRep:
    """The mutual-authentication reply: the authenticator's time, sealed (RFC 4120 §3.2.4)."""
    part = EncAPRepPart(
        ctime=verified.authenticator.ctime,
        cusec=verified.authenticator.cusec,
        subkey=EncryptionKey.from_key(subkey) if subkey else None,
        seq=seq,
    )
    return APRep(seal(verified.session_key, KeyUsage.AP_REP_ENC_PART, encode(part), entropy))


def read_ap_rep(ap_rep: APRep, session_key: Key, sent: Authenticator) -> EncAPRepPart:
    """Check the service's reply (RFC 4120 §3.2.5); ``KRB_AP_ERR_MUT_FAIL`` if it is not."""
    try:
        part = _decode_sealed(
            open_sealed(session_key, KeyUsage.AP_REP_ENC_PART, ap_rep.enc_part),
            EncAPRepPart,
            "AP reply",
        )
    except APError as exc:
        raise not_sealed_for_us() from exc
    check_reply_echo((part.ctime, part.cusec), (sent.ctime, sent.cusec))
    return part


def not_sealed_for_us() -> APError:
    """``KRB_AP_ERR_MUT_FAIL`` for an AP-REP that does not open under the session key."""
    return APError(
        "KRB_AP_ERR_MUT_FAIL",
        "the service's reply is not sealed under our session key: it may be an impostor",
    )


def check_reply_echo(replied: tuple[int, int], sent: tuple[int, int]) -> None:
    """RFC 4120 §3.2.5: the AP-REP's ``(ctime, cusec)`` must be the authenticator's the
    client sent, else it answers another exchange (``KRB_AP_ERR_MUT_FAIL``)."""
    if replied != sent:
        raise APError(
            "KRB_AP_ERR_MUT_FAIL",
            "the service's reply answers another authenticator: it may be an impostor",
        )
