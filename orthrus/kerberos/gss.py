"""Both sides of a Kerberos GSS-API context over SPNEGO, as HTTP ``Negotiate`` (RFC 4559)
carries it: one token from the initiator, one back.

The acceptor (a service):

    request = read_initiator_token(token)                  # SPNEGO or bare Kerberos
    accepted = accept_security_context(request, keys_for, now, rules)
    answer = accept_reply(accepted, entropy)              # NegTokenResp + AP-REP

:func:`accept_security_context` opens the ticket (:func:`open_initiator_ticket`, RFC 4120
§3.2.3: ``NOT_US``, ``BADKEYVER``, integrity; a service may keep it) and the authenticator
(:func:`accept_with_ticket`) with the same code as the KDC's TGS
(:mod:`orthrus.kerberos.ap_req`), reads the 0x8003 checksum (RFC 4121 §4.1.1), then runs
the same checks as every AP-REQ (:func:`orthrus.ap.check_opened_and_replay`: ticket times,
``rules.ticket_check``, ``BADMATCH``, ``SKEW``, the replay cache last).

The initiator (a client holding a service ticket, a
:class:`~orthrus.kerberos.client.KerberosCredential`):

    context = initiate_security_context(credential, now, entropy)
    ... send context.token, get the service's token back ...
    part = complete_security_context(context, answer)     # checks the AP-REP

Only the Kerberos mechanism as the initiator's first choice is accepted (RFC 4178 §5: no
mechListMIC is then needed); SPNEGO's second round trip to pick another is not made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from orthrus.ap import (
    APRules,
    OpenedAPReq,
    check_opened_and_replay,
    check_reply_echo,
    not_sealed_for_us,
    served_keys,
)
from orthrus.der import (
    APRep,
    APReq,
    APReqParts,
    Checksum,
    EncAPRepPart,
    EncryptedData,
    EncryptionKey,
    decode_ap_rep,
    decode_enc_ap_rep_part,
    decode_krb_error,
    decode_ticket,
    encode_ap_rep,
    encode_ap_req,
    encode_authenticator,
    encode_enc_ap_rep_part,
    split_ap_req,
)
from orthrus.der import Authenticator as DerAuthenticator
from orthrus.der import Ticket as DerTicket
from orthrus.enctypes import IntegrityError, KeyBlock, enctype
from orthrus.errors import ERROR_CODES, APError, MalformedMessage, ProtocolError, error_class_for
from orthrus.kerberos.ap_req import AP_OPTION_MUTUAL_REQUIRED, open_kerberos_authenticator
from orthrus.kerberos.client import KerberosCredential
from orthrus.kerberos.gss_tokens import (
    GSS_C_CONF_FLAG,
    GSS_C_INTEG_FLAG,
    GSS_C_MUTUAL_FLAG,
    GSS_C_REPLAY_FLAG,
    GSS_C_SEQUENCE_FLAG,
    GSS_CHECKSUM_TYPE,
    KERBEROS_MECHS,
    KRB5_OID,
    TOK_AP_REP,
    TOK_AP_REQ,
    TOK_KRB_ERROR,
    GSSChecksum,
    KerberosToken,
    NegTokenInit,
    NegTokenResp,
    decode_initial_token,
    decode_kerberos_token,
    decode_neg_token_resp,
    encode_kerberos_token,
    encode_neg_token_init,
    encode_neg_token_resp,
)
from orthrus.kerberos.names import principal_name, principal_of
from orthrus.kerberos.tickets import decrypt, encrypt, read_kerberos_ticket, select_server_key
from orthrus.keys import Entropy, KeyUsage
from orthrus.messages import EncTicketPart
from orthrus.principal import Principal
from orthrus.realm import KerberosKey

__all__ = [
    "DEFAULT_FLAGS",
    "AcceptedContext",
    "InitiatorContext",
    "InitiatorRequest",
    "KerberosKeysFor",
    "accept_reply",
    "accept_security_context",
    "accept_with_ticket",
    "complete_security_context",
    "initiate_security_context",
    "open_initiator_ticket",
    "read_initiator_token",
    "reject_token",
]

#: An acceptor's keys: every key of a principal it serves (any enctype and kvno, as a keytab
#: holds them), or None for a principal not served here (``KRB_AP_ERR_NOT_US``).
KerberosKeysFor = Callable[[Principal], Sequence[KerberosKey] | None]

#: The context flags an initiator asks for by default, as MIT's ``gss_init_sec_context``
#: does for curl and requests-gssapi with mutual authentication (RFC 2744 §5.19).
DEFAULT_FLAGS = (
    GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG
)
#: The first octets of a bare NTLM message (MS-NLMP §2.2.1), which Windows may send.
_NTLMSSP = b"NTLMSSP\x00"
#: MIT keeps sequence numbers in 30 bits so that they never wrap in a 32-bit field.
_SEQ_MASK = 0x3FFFFFFF


@dataclass(frozen=True, slots=True)
class InitiatorRequest:
    """What an initiator sent: its AP-REQ with the ticket as the octets it came in (an
    acceptor that has opened that ticket before reads it no further; :meth:`ticket` decodes
    it), the mechanism OID it named first (the acceptor names it back in ``supportedMech``)
    and whether SPNEGO framed it."""

    ap_req: APReqParts
    mech: str = KRB5_OID
    spnego: bool = True

    def ticket(self) -> DerTicket:
        """The AP-REQ's Ticket (RFC 4120 §5.3) decoded; MalformedMessage if it is not one."""
        return decode_ticket(self.ap_req.ticket)


def read_initiator_token(token: bytes) -> InitiatorRequest:
    """Read an initiator's first token: a SPNEGO NegTokenInit whose first mechanism is
    Kerberos with its optimistic token (RFC 4178 §4.2.1), or a bare Kerberos token (RFC 4121
    §4.1). ``KRB_AP_ERR_MSG_TYPE`` for another mechanism's (NTLM), MalformedMessage for
    anything else."""
    if token.startswith(_NTLMSSP):
        raise _not_kerberos("NTLM")
    first = decode_initial_token(token)
    if isinstance(first, KerberosToken):
        return InitiatorRequest(_ap_req_of(first), first.mech, spnego=False)
    if not first.mech_types or first.mech_types[0] not in KERBEROS_MECHS:
        raise _not_kerberos(", ".join(first.mech_types) or "none")
    if first.mech_token is None:
        raise MalformedMessage("the NegTokenInit carries no Kerberos token (RFC 4178 §4.2.1)")
    return InitiatorRequest(
        _ap_req_of(decode_kerberos_token(first.mech_token)), first.mech_types[0]
    )


def _not_kerberos(offered: str) -> APError:
    """A well-formed token of another mechanism (a browser without a Kerberos ticket falls
    back to NTLM): ``KRB_AP_ERR_MSG_TYPE``, refused as a credential, not as garbage."""
    return APError(
        "KRB_AP_ERR_MSG_TYPE",
        f"the initiator offers {offered} first; this service accepts Kerberos ({KRB5_OID}) "
        "only: get a Kerberos ticket (kinit) and try again",
    )


def _ap_req_of(token: KerberosToken) -> APReqParts:
    if token.tok_id != TOK_AP_REQ:
        raise MalformedMessage(
            f"the initiator's token has TOK_ID {token.tok_id.hex()}, not an AP-REQ's 0100"
        )
    return split_ap_req(token.message)


@dataclass(frozen=True, slots=True)
class AcceptedContext:
    """An initiator's AP-REQ that passed every check, with the context flags of its 0x8003
    checksum (RFC 4121 §4.1.1)."""

    request: InitiatorRequest
    opened: OpenedAPReq[KeyBlock]
    checksum: GSSChecksum

    @property
    def client(self) -> Principal:
        """The ticket's client: who authenticated."""
        return self.opened.ticket.client

    @property
    def mutual(self) -> bool:
        """Whether the initiator asked for mutual authentication (an AP-REP)."""
        return bool(self.checksum.flags & GSS_C_MUTUAL_FLAG) or self.opened.mutual_required


def accept_security_context(
    request: InitiatorRequest, keys_for: KerberosKeysFor, now: float, rules: APRules
) -> AcceptedContext:
    """Verify the initiator's AP-REQ (RFC 4120 §3.2.3, RFC 4121 §4.1) or raise the first
    failed check's ``KRB_AP_ERR_*``: :func:`open_initiator_ticket`, then
    :func:`accept_with_ticket`."""
    sent = request.ticket()
    ticket = open_initiator_ticket(sent, keys_for)
    server = principal_of(sent.sname, sent.realm)
    return accept_with_ticket(request, server, ticket, ticket.key.to_keyblock(), now, rules)


def open_initiator_ticket(ticket: DerTicket, keys_for: KerberosKeysFor) -> EncTicketPart:
    """The checks of RFC 4120 §3.2.3 on the initiator's ``ticket``
    (:meth:`InitiatorRequest.ticket`): ``NOT_US``, ``BADKEYVER``, then ``MODIFIED``. A
    service may keep the result, keyed by the ticket's exact octets
    (``InitiatorRequest.ap_req.ticket``), with the ticket's server, for later requests with
    it (:func:`accept_with_ticket`), as the ``Ticket`` scheme does."""
    server = principal_of(ticket.sname, ticket.realm)
    key = select_server_key(server, served_keys(keys_for, server), None, ticket.enc_part)
    with _changed_is_modified:
        return read_kerberos_ticket(ticket, key)


def accept_with_ticket(
    request: InitiatorRequest,
    server: Principal,
    ticket: EncTicketPart,
    session_key: KeyBlock,
    now: float,
    rules: APRules,
) -> AcceptedContext:
    """The rest of RFC 4120 §3.2.3 given the opened ``ticket``, the ``server`` it names
    (checked by :func:`open_initiator_ticket`) and its ``session_key`` (kept with it, so
    that its per-usage keys are derived once): authenticator integrity (``MODIFIED``), the
    0x8003 checksum (``INAPP_CKSUM``), then :func:`orthrus.ap.check_opened_and_replay`
    (ticket times, ``rules.ticket_check``, ``BADMATCH``, ``SKEW``, the replay cache last)."""
    with _changed_is_modified:
        opened, sent = open_kerberos_authenticator(
            request.ap_req, server, ticket, session_key, rules.usage
        )
    checksum = _gss_checksum(sent)
    check_opened_and_replay(opened, now, rules)
    return AcceptedContext(request, opened, checksum)


class _ChangedIsModified:
    """A ticket or authenticator that does not open is ``KRB_AP_ERR_MODIFIED``, as the
    Ticket scheme answers (RFC 4120 §7.5.9, "message stream modified"); the KDC keeps
    ``BAD_INTEGRITY`` for the same failure. A plain context manager, not a generator one:
    it is entered on every Negotiate request."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, IntegrityError):
            raise APError(
                "KRB_AP_ERR_MODIFIED",
                "the ticket or authenticator does not open under this service's key: "
                "it was changed, or made for another key of this name",
            ) from exc


_changed_is_modified = _ChangedIsModified()


def _gss_checksum(sent: DerAuthenticator) -> GSSChecksum:
    if sent.cksum is None or sent.cksum.cksumtype != GSS_CHECKSUM_TYPE:
        raise APError(
            "KRB_AP_ERR_INAPP_CKSUM",
            "the authenticator carries no 0x8003 checksum (RFC 4121 §4.1.1): the AP-REQ was "
            "not made by a GSS-API initiator",
        )
    try:
        return GSSChecksum.decode(sent.cksum.checksum)
    except MalformedMessage as exc:
        raise APError("KRB_AP_ERR_INAPP_CKSUM", exc.message) from exc


def accept_reply(accepted: AcceptedContext, entropy: Entropy) -> bytes:
    """The acceptor's token: for SPNEGO a NegTokenResp ``accept-completed`` naming the
    initiator's mechanism (RFC 4178 §4.2.2), with the Kerberos AP-REP token when mutual
    authentication was asked (RFC 4121 §4.1, RFC 4120 §3.2.4: the authenticator's ctime and
    cusec under the session key, usage 12; a subkey and a sequence number when the
    initiator sent its own); for a bare Kerberos initiator the AP-REP token alone."""
    spnego, mech = accepted.request.spnego, accepted.request.mech
    if spnego and not accepted.mutual:  # no AP-REP to make, encrypt and frame
        return encode_neg_token_resp(NegTokenResp("accept-completed", mech))
    token = encode_kerberos_token(KerberosToken(TOK_AP_REP, _ap_rep(accepted, entropy)))
    if not spnego:
        return token
    return encode_neg_token_resp(NegTokenResp("accept-completed", mech, token))


def _ap_rep(accepted: AcceptedContext, entropy: Entropy) -> bytes:
    opened = accepted.opened
    sent = opened.authenticator
    subkey = None
    if sent.subkey is not None:
        kind = enctype(sent.subkey.enctype)
        subkey = EncryptionKey(kind.number, kind.random_to_key(entropy(kind.key_size)).material)
    seq = None if sent.seq is None else int.from_bytes(entropy(4), "big") & _SEQ_MASK
    part = EncAPRepPart(sent.ctime, sent.cusec, subkey, seq)
    session = opened.session_key
    cipher = encrypt(session, KeyUsage.AP_REP_ENC_PART, encode_enc_ap_rep_part(part), entropy)
    return encode_ap_rep(APRep(EncryptedData(session.enctype, cipher, None)))


def reject_token() -> bytes:
    """The NegTokenResp ``reject`` (RFC 4178 §4.2.2) an acceptor may send with its 401."""
    return encode_neg_token_resp(NegTokenResp("reject"))


@dataclass(frozen=True, slots=True)
class InitiatorContext:
    """An initiator's context after its first token: the token to send and what
    :func:`complete_security_context` needs to check the answer."""

    token: bytes
    session_key: KeyBlock = field(repr=False)
    ctime: int
    cusec: int
    flags: int
    subkey: KeyBlock | None = field(default=None, repr=False)
    seq_number: int | None = None
    spnego: bool = True


def initiate_security_context(
    credential: KerberosCredential,
    now: float,
    entropy: Entropy,
    *,
    flags: int = DEFAULT_FLAGS,
    spnego: bool = True,
    mech_types: tuple[str, ...] = (KRB5_OID,),
) -> InitiatorContext:
    """The initiator's first token for the service ticket ``credential`` (RFC 4121 §4.1): an AP-REQ
    whose authenticator (usage 11) has the 0x8003 checksum with ``flags``, a subkey and a
    sequence number, ``mutual-required`` when ``GSS_C_MUTUAL_FLAG`` is set; wrapped in a
    NegTokenInit listing ``mech_types`` (RFC 4178 §4.2.1) unless ``spnego`` is False."""
    client, session_key = credential.client, credential.session_key
    seconds = int(now)
    cusec = min(int((now - seconds) * 1_000_000), 999_999)
    kind = enctype(session_key.enctype)
    subkey = kind.random_to_key(entropy(kind.key_size))
    seq = int.from_bytes(entropy(4), "big") & _SEQ_MASK
    authenticator = DerAuthenticator(
        crealm=client.realm,
        cname=principal_name(client),
        cusec=cusec,
        ctime=seconds,
        cksum=Checksum(GSS_CHECKSUM_TYPE, GSSChecksum(flags).encode()),
        subkey=EncryptionKey(subkey.enctype, subkey.material),
        seq_number=seq,
    )
    cipher = encrypt(
        session_key, KeyUsage.AP_REQ_AUTHENTICATOR, encode_authenticator(authenticator), entropy
    )
    options = AP_OPTION_MUTUAL_REQUIRED if flags & GSS_C_MUTUAL_FLAG else 0
    ap_req = APReq(options, credential.ticket, EncryptedData(session_key.enctype, cipher, None))
    token = encode_kerberos_token(KerberosToken(TOK_AP_REQ, encode_ap_req(ap_req)))
    if spnego:
        token = encode_neg_token_init(NegTokenInit(mech_types, token))
    return InitiatorContext(token, session_key, seconds, cusec, flags, subkey, seq, spnego)


def complete_security_context(context: InitiatorContext, token: bytes) -> EncAPRepPart | None:
    """Check the acceptor's answer (RFC 4178 §4.2.2, RFC 4120 §3.2.5): ``accept-completed``
    for a Kerberos mechanism, and when mutual authentication was asked an AP-REP that opens
    under the session key (usage 12) and echoes our ctime and cusec — else
    ``KRB_AP_ERR_MUT_FAIL``, or the error of a KRB-ERROR token. Returns the AP-REP's part
    (the acceptor's subkey and sequence number), None without mutual authentication."""
    inner: bytes | None = token
    if context.spnego:
        answer = decode_neg_token_resp(token)
        inner = answer.response_token
        if answer.neg_state != "accept-completed":
            _raise_error_token(inner)
            raise APError(
                "KRB_AP_ERR_MUT_FAIL",
                f"the service answered SPNEGO state {answer.neg_state}, not accept-completed",
            )
        if answer.supported_mech is not None and answer.supported_mech not in KERBEROS_MECHS:
            raise APError(
                "KRB_AP_ERR_MUT_FAIL",
                f"the service chose mechanism {answer.supported_mech}, not Kerberos",
            )
    if inner is None:
        if context.flags & GSS_C_MUTUAL_FLAG:
            raise APError(
                "KRB_AP_ERR_MUT_FAIL",
                "the service sent no AP-REP: it did not prove it holds its key",
            )
        return None
    _raise_error_token(inner)
    return _read_ap_rep(context, decode_kerberos_token(inner))


def _raise_error_token(inner: bytes | None) -> None:
    """Raise the error a KRB-ERROR token (RFC 4121 §4.1, TOK_ID 03 00) carries, if it is one."""
    if inner is None:
        return
    try:
        token = decode_kerberos_token(inner)
    except MalformedMessage:
        return
    if token.tok_id != TOK_KRB_ERROR:
        return
    error = decode_krb_error(token.message)
    names = {code: name for name, code in ERROR_CODES.items()}
    name = names.get(error.error_code, "KRB_AP_ERR_MUT_FAIL")
    raise error_class_for(name)(name, f"the service refused the ticket: {error.e_text or name}")


def _read_ap_rep(context: InitiatorContext, token: KerberosToken) -> EncAPRepPart:
    if token.tok_id != TOK_AP_REP:
        raise APError("KRB_AP_ERR_MUT_FAIL", "the service's token is not an AP-REP")
    try:
        ap_rep = decode_ap_rep(token.message)
        part = decode_enc_ap_rep_part(
            decrypt(context.session_key, KeyUsage.AP_REP_ENC_PART, ap_rep.enc_part)
        )
    except ProtocolError as exc:
        raise not_sealed_for_us() from exc
    check_reply_echo((part.ctime, part.cusec), (context.ctime, context.cusec))
    return part
