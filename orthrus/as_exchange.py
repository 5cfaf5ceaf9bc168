"""The Authentication Service exchange (RFC 4120 §3.1): login, for a ticket-granting ticket.

Both sides are here. The KDC side, :func:`handle_as_req`, is a pure function of the request,
the realm (lookups, replay cache, entropy) and the time. The client side builds the request
(:func:`make_as_req`) and checks the reply (:func:`read_as_rep`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import msgspec

from orthrus import otp
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
from orthrus.kpasswd import CHANGEPW_NAME
from orthrus.messages import PAOTP, ASRep, ASReq, KDCReqBody, PAData, PAEncTimestamp
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
    "check_otp",
    "check_preauth",
    "handle_as_req",
    "make_as_req",
    "otp_padata",
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
    """Public data a client needs to pre-authenticate: current kvno, salt and KDF parameters;
    ``"otp": "totp"`` when it must send a one-time code too (:mod:`orthrus.otp`)."""
    hint: dict[str, object] = {"kvno": client.kvno}
    if client.kdf is not None:
        hint["kdf"] = msgspec.to_builtins(client.kdf)
    if client.requires_otp and client.otp is not None:
        hint["otp"] = "totp"
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


def check_preauth(
    client: PrincipalEntry,
    preauth: Preauth[K],
    ctx: KDCContext,
    now: float,
    second_factor: Callable[[K], None] | None = None,
) -> K:
    """Check PA-ENC-TIMESTAMP (RFC 4120 §5.2.7.2) with lockout; return the key it proved.

    The lockout guard reserves the attempt before the key is tried, and counts a failure
    whatever the wire: one limit per principal, however the guesses arrive. A
    ``second_factor`` (the one-time code, :func:`check_otp`) is checked with the key the
    timestamp proved, under the same attempt: a wrong code is counted as a wrong password
    is, and the failures are forgotten only once both factors passed.
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
    if second_factor is not None:
        try:
            second_factor(key)
        except KDCError:
            if guard is not None:
                guard.failed(client.principal, now)
            raise
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
    factors: tuple[str, ...] = (),
) -> TicketTerms:
    """The ticket an AS-REQ gets (RFC 4120 §3.1.3), within the realm's and both principals'
    limits; forwardable and proxiable when asked for (§2.6); ``factors`` proven besides the
    key (``otp``)."""
    start, end, renew_till = grant_times(body, now, ctx.policy, (client, server))
    asked = tuple(f for f in ("forwardable", "proxiable") if f in body.options)
    return TicketTerms(
        client=client.principal,
        flags=flags + asked,
        authtime=start,
        starttime=start,
        endtime=end,
        renew_till=renew_till,
        groups=client.groups,
        factors=factors,
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


def otp_padata(req: ASReq, client: PrincipalEntry) -> PAData | None:
    """The PA-OTP a login of ``client`` must be checked with, None if it needs none.

    A principal that must give a one-time code (``requires_otp``) but has not enrolled yet
    gets only a ticket for ``kadmin/changepw``, the one that enrolls it (``orthrus otp
    enroll``), as MIT's KDC gives a principal whose password expired only that ticket. An
    enrolled one that sent no code is told to (``KDC_ERR_PREAUTH_REQUIRED``, ``"otp"`` in
    the data) before its password is tried: that request is no guess and counts for nothing.
    """
    if not client.requires_otp:
        return None
    if client.otp is None:
        if req.body.server.components != CHANGEPW_NAME:
            raise KDCError(
                "KDC_ERR_POLICY",
                f"{client.principal} must log in with a one-time code and has not enrolled "
                "an authenticator yet: run 'orthrus otp enroll' first",
            )
        return None
    padata = next((p for p in req.padata if p.type == "otp"), None)
    if padata is None:
        raise KDCError(
            "KDC_ERR_PREAUTH_REQUIRED",
            f"{client.principal} must give a one-time code with the password: use "
            "'orthrus kinit', which asks for it (or --otp-code)",
            preauth_hint(client),
        )
    return padata


def check_otp(
    padata: PAData, req: ASReq, client: PrincipalEntry, ctx: KDCContext, now: float
) -> Callable[[Key], None]:
    """The second factor of ``client``'s login (:mod:`orthrus.otp`), to check with the key
    the encrypted timestamp proved: PA-OTP opens under it (its own key usage), names this
    request's nonce, and carries a fresh code or an unused recovery code."""

    def check(key: Key) -> None:
        assert client.otp is not None  # otp_padata returns a PA-OTP only for an enrolled one
        try:
            sent = decode(open_sealed(key, KeyUsage.AS_REQ_PA_OTP, padata.value), PAOTP)
        except (APError, MalformedMessage) as exc:
            raise KDCError(
                "KDC_ERR_PREAUTH_FAILED", f"the one-time code does not open: {exc}"
            ) from None
        if sent.nonce != req.body.nonce:
            raise KDCError(
                "KDC_ERR_PREAUTH_FAILED", "the one-time code was made for another request"
            )
        if sent.code is not None:
            otp.check_code(
                client.otp, client.principal, sent.code, ctx.replay_cache, now, ctx.policy.max_skew
            )
        else:
            otp.check_recovery_code(client.principal, sent.recovery or "", ctx.recovery_codes)

    return check


def handle_as_req(req: ASReq, ctx: KDCContext, now: float) -> ASRep:
    """Answer an AS-REQ (RFC 4120 §3.1.2-§3.1.3) or raise the ``KDC_ERR_*`` that applies.

    A principal that must give a one-time code (RFC 6238, :func:`otp_padata`) gives it in
    the same request; its ticket's signed authorization data then lists ``otp`` in
    ``auth_factors`` (:mod:`orthrus.authz`).
    """
    client, server = as_entries(req.client, req.body.server, ctx)
    flags: tuple[str, ...] = ("initial",)
    reply_key = client.current_key
    factors: tuple[str, ...] = ()
    otp_data = otp_padata(req, client)
    if client.requires_preauth or otp_data is not None:
        second = None if otp_data is None else check_otp(otp_data, req, client, ctx, now)
        reply_key = check_preauth(client, _JoseTimestamp(req), ctx, now, second)
        flags += ("pre-authent",)
        factors = () if otp_data is None else (otp.FACTOR,)
    terms = as_terms(req.body, client, server, flags, ctx, now, factors)
    ticket, part = issue_ticket(terms, server, req.body.nonce, ctx)
    # A client that pre-authenticated has its KDF parameters already (from the
    # KDC_ERR_PREAUTH_REQUIRED data); only a reply without pre-authentication carries them.
    kdf = None if "pre-authent" in flags else client.kdf
    part = msgspec.structs.replace(
        part, checksum=reply_checksum(req, client.principal, ticket, kdf)
    )
    sealed = seal_reply(part, reply_key, KeyUsage.AS_REP_ENC_PART, ctx.entropy)
    return ASRep(client=client.principal, ticket=ticket, enc_part=sealed, kdf=kdf)


@dataclass(frozen=True, slots=True)
class ASOptions:
    """What the client asks for: lifetime in seconds (0: the realm's maximum), renewable life."""

    lifetime: int = 0
    renewable_life: int | None = None
    server: Principal | None = None


def make_as_req(
    client: Principal,
    now: float,
    entropy: Entropy,
    options: ASOptions,
    key: Key | None = None,
    otp_code: str | None = None,
) -> ASReq:
    """Build an AS-REQ; with ``key``, include the encrypted timestamp (RFC 4120 §5.2.7.2),
    and with ``otp_code`` too, PA-OTP (:class:`~orthrus.messages.PAOTP`): six digits are an
    authenticator's code, anything else a recovery code."""
    seconds = int(now)
    renewable = options.renewable_life is not None
    body = KDCReqBody(
        server=options.server or krbtgt(client.realm),
        nonce=int.from_bytes(entropy(8), "big") >> 1,
        till=seconds + options.lifetime if options.lifetime else 0,
        renew_till=seconds + options.renewable_life if options.renewable_life else None,
        options=["renewable"] if renewable else [],
    )
    padata = []
    if key is not None:
        stamp = PAEncTimestamp(patimestamp=seconds, pausec=min(int((now - seconds) * 1e6), 999_999))
        sealed = seal(key, KeyUsage.AS_REQ_PA_ENC_TIMESTAMP, encode(stamp), entropy)
        padata.append(PAData(type="enc-timestamp", value=sealed))
        if otp_code is not None:
            padata.append(PAData(type="otp", value=_seal_otp(otp_code, body.nonce, key, entropy)))
    return ASReq(client=client, body=body, padata=padata)


def _seal_otp(text: str, nonce: int, key: Key, entropy: Entropy) -> str:
    text = text.strip()
    try:
        sent = (
            PAOTP(nonce=nonce, code=text)
            if len(text) == otp.DIGITS and text.isdigit()
            else PAOTP(nonce=nonce, recovery=text)
        )
        # Validated as the KDC will: a typo is told here, not as a failed login.
        payload = encode(decode(encode(sent), PAOTP))
    except MalformedMessage:
        raise MalformedMessage(
            f"a one-time code is {otp.DIGITS} digits, a recovery code 10 letters and digits "
            "(xxxxx-xxxxx); check what you typed"
        ) from None
    return seal(key, KeyUsage.AS_REQ_PA_OTP, payload, entropy)


def read_as_rep(rep: ASRep, req: ASReq, key: Key, now: float) -> Credential:
    """Check an AS-REP against the request that asked for it (RFC 4120 §3.1.5), including
    the checksum that binds that request and the reply's clear parts (RFC 6806 §11)."""
    checksum = reply_checksum(req, rep.client, rep.ticket, rep.kdf)
    expect = ReplyExpectation(req.client, req.body.server, req.body.nonce, now, checksum=checksum)
    return read_kdc_reply(
        rep.client, rep.ticket, rep.enc_part, (key, KeyUsage.AS_REP_ENC_PART), expect
    )
