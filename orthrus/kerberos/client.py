"""The client side of the Kerberos-wire AS and TGS exchanges (RFC 4120 §3.1.1, §3.1.5,
§3.3.1, §3.3.4), sans-IO: build the DER request, check the DER reply.

    request = as_request(alice, krbtgt("EXAMPLE.TEST"), (18,), now, os.urandom)
    reply = kdc.send(request.encode())                  # KRB-ERROR PREAUTH_REQUIRED first
    info = choose_etype_info(preauth_hints(decode_krb_error(reply)), (18,))
    key = password_key(password, alice, info)           # its PA-ETYPE-INFO2 salt, s2kparams
    request = as_request(alice, krbtgt(...), (18,), now, os.urandom, key)
    tgt = read_kdc_rep(decode_as_rep(kdc.send(request.encode())), request, key)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orthrus.credentials import Credential
from orthrus.der import (
    PA_ENC_TIMESTAMP,
    PA_ETYPE_INFO2,
    PA_TGS_REQ,
    APReq,
    Authenticator,
    Checksum,
    EncryptedData,
    ETypeInfo2Entry,
    KDCRep,
    KDCReq,
    KDCReqBody,
    PAData,
    PAEncTsEnc,
    Ticket,
    decode_enc_kdc_rep_part,
    decode_etype_info2,
    decode_method_data,
    decode_ticket,
    encode_ap_req,
    encode_authenticator,
    encode_kdc_req,
    encode_kdc_req_body,
    encode_pa_enc_timestamp,
    encode_pa_enc_ts_enc,
    encode_ticket,
    find_padata,
)
from orthrus.der import EncryptionKey as DerEncryptionKey
from orthrus.der.types import KRBError
from orthrus.enctypes import ENCTYPES, KeyBlock, enctype
from orthrus.errors import (
    ERROR_CODES,
    APError,
    KDCError,
    MalformedMessage,
    ProtocolError,
    error_class_for,
)
from orthrus.kerberos.names import (
    KDC_OPTION_BITS,
    default_salt,
    flags_from_bits,
    flags_to_bits,
    principal_name,
    principal_of,
)
from orthrus.kerberos.tickets import decrypt, encrypt
from orthrus.keys import Entropy, KeyUsage
from orthrus.messages import EncryptionKey, KDCOption
from orthrus.principal import Principal

__all__ = [
    "CLIENT_ETYPES",
    "KerberosCredential",
    "KerberosRequest",
    "as_request",
    "choose_etype_info",
    "error_of",
    "password_key",
    "preauth_hints",
    "read_kdc_rep",
    "reply_hints",
    "tgs_request",
]

#: The enctypes the client asks for, most preferred first (RFC 8009's, then RFC 3962's).
CLIENT_ETYPES: tuple[int, ...] = (20, 18, 19, 17)

_AS_REQ, _TGS_REQ = 10, 12


@dataclass(frozen=True, slots=True)
class KerberosRequest:
    """A request as sent, with what reading its reply needs."""

    message: KDCReq
    reply_key: KeyBlock | None
    reply_usage: KeyUsage
    #: Whose ticket the reply must be: the AS-REQ's cname, the TGT's client for a TGS-REQ.
    client: Principal

    def encode(self) -> bytes:
        return encode_kdc_req(self.message)


@dataclass(frozen=True, slots=True)
class KerberosCredential:
    """A ticket and its session key, from a checked reply."""

    client: Principal
    server: Principal
    ticket: Ticket
    session_key: KeyBlock = field(repr=False)
    endtime: int = 0
    flags: int = 0
    authtime: int = 0
    starttime: int | None = None
    renew_till: int | None = None

    def to_credential(self) -> Credential:
        """The client's stored form: the ticket's DER octets, times and known flags."""
        return Credential(
            client=self.client,
            server=self.server,
            key=EncryptionKey.from_keyblock(self.session_key),
            ticket=encode_ticket(self.ticket),
            flags=flags_from_bits(self.flags),
            authtime=self.authtime,
            starttime=self.starttime or self.authtime,
            endtime=self.endtime,
            renew_till=self.renew_till,
        )

    @classmethod
    def from_credential(cls, credential: Credential) -> KerberosCredential:
        """A stored credential holding a DER ticket, ready for a TGS or AP request."""
        if not isinstance(credential.ticket, bytes):
            raise MalformedMessage(
                f"the ticket for {credential.server} is an Orthrus JSON ticket, not a Kerberos "
                "one; run 'orthrus kinit' with ORTHRUS_KDC_URL=krb5://HOST:PORT"
            )
        return cls(
            client=credential.client,
            server=credential.server,
            ticket=decode_ticket(credential.ticket),
            session_key=credential.key.to_keyblock(),
            endtime=credential.endtime,
            flags=flags_to_bits(credential.flags),
            authtime=credential.authtime,
            starttime=credential.starttime,
            renew_till=credential.renew_till,
        )


def _options(options: tuple[KDCOption, ...]) -> int:
    return sum(1 << (31 - KDC_OPTION_BITS[o]) for o in options)


def _body(
    client: Principal | None,
    server: Principal,
    etypes: tuple[int, ...],
    now: float,
    entropy: Entropy,
    options: tuple[KDCOption, ...],
    lifetime: int,
    rtime: int | None = None,
) -> KDCReqBody:
    return KDCReqBody(
        kdc_options=_options(options),
        realm=server.realm,
        till=int(now) + lifetime,
        nonce=int.from_bytes(entropy(4), "big") >> 1,
        etype=etypes,
        cname=None if client is None else principal_name(client),
        sname=principal_name(server),
        rtime=rtime,
    )


def as_request(
    client: Principal,
    server: Principal,
    etypes: tuple[int, ...],
    now: float,
    entropy: Entropy,
    key: KeyBlock | None = None,
    options: tuple[KDCOption, ...] = (),
    lifetime: int = 36000,
    renewable_life: int | None = None,
) -> KerberosRequest:
    """An AS-REQ (RFC 4120 §5.4.1); with ``key``, PA-ENC-TIMESTAMP under it (§5.2.7.2);
    with ``renewable_life``, the RENEWABLE option and that ``rtime``."""
    padata = None
    if key is not None:
        seconds = int(now)
        stamp = encode_pa_enc_ts_enc(PAEncTsEnc(seconds, int((now - seconds) * 1e6)))
        sealed = EncryptedData(
            key.enctype, encrypt(key, KeyUsage.AS_REQ_PA_ENC_TIMESTAMP, stamp, entropy)
        )
        padata = (PAData(PA_ENC_TIMESTAMP, encode_pa_enc_timestamp(sealed)),)
    if renewable_life is not None and "renewable" not in options:
        options = (*options, "renewable")
    rtime = None if renewable_life is None else int(now) + renewable_life
    body = _body(client, server, etypes, now, entropy, options, lifetime, rtime)
    return KerberosRequest(KDCReq(_AS_REQ, body, padata), key, KeyUsage.AS_REP_ENC_PART, client)


def tgs_request(
    tgt: KerberosCredential,
    server: Principal,
    now: float,
    entropy: Entropy,
    options: tuple[KDCOption, ...] = (),
    lifetime: int = 36000,
    renew_till: int | None = None,
) -> KerberosRequest:
    """A TGS-REQ (RFC 4120 §5.4.1): the TGT in PA-TGS-REQ with an authenticator whose
    checksum binds the body (usage 6) and whose fresh subkey protects the reply (usage 9);
    with ``renew_till``, the RENEWABLE option and that ``rtime`` (what MIT's KDC needs to
    keep a renewed ticket renewable, §3.3.1)."""
    session = tgt.session_key
    kind = enctype(session.enctype)
    etypes = (session.enctype,)
    if renew_till is not None and "renewable" not in options:
        options = (*options, "renewable")
    body = _body(None, server, etypes, now, entropy, options, lifetime, renew_till)
    subkey = kind.random_to_key(entropy(kind.key_size))
    seconds = int(now)
    authenticator = Authenticator(
        crealm=tgt.client.realm,
        cname=principal_name(tgt.client),
        cusec=int((now - seconds) * 1e6),
        ctime=seconds,
        cksum=Checksum(
            kind.checksum_type,
            kind.checksum(session, KeyUsage.TGS_REQ_AUTH_CHECKSUM, encode_kdc_req_body(body)),
        ),
        subkey=DerEncryptionKey(subkey.enctype, subkey.material),
    )
    sealed = encrypt(
        session, KeyUsage.TGS_REQ_AUTHENTICATOR, encode_authenticator(authenticator), entropy
    )
    ap_req = APReq(0, tgt.ticket, EncryptedData(session.enctype, sealed))
    padata = (PAData(PA_TGS_REQ, encode_ap_req(ap_req)),)
    message = KDCReq(_TGS_REQ, body, padata)
    return KerberosRequest(message, subkey, KeyUsage.TGS_REP_ENC_PART_SUBKEY, tgt.client)


def read_kdc_rep(
    rep: KDCRep, request: KerberosRequest, key: KeyBlock | None = None
) -> KerberosCredential:
    """Check an AS-REP or TGS-REP against its request (RFC 4120 §3.1.5, §3.3.4): it opens
    under our key, its nonce, server and client (name and realm) are those we asked for
    (no name canonicalization is asked, so none is accepted), and its end and renewable
    end are no later than asked (as MIT's ``verify_as_reply`` checks)."""
    reply_key = key or request.reply_key
    if reply_key is None:
        raise ValueError("an AS reply is read with the client's key")
    try:
        part = decode_enc_kdc_rep_part(decrypt(reply_key, request.reply_usage, rep.enc_part))
    except MalformedMessage as exc:
        raise APError("KRB_AP_ERR_MODIFIED", "the KDC reply decrypted to garbage") from exc
    body = request.message.req_body
    if part.nonce != body.nonce:
        raise APError("KRB_AP_ERR_MODIFIED", "the KDC reply carries another nonce")
    if part.endtime > body.till or (body.rtime and (part.renew_till or 0) > body.rtime):
        raise APError(
            "KRB_AP_ERR_MODIFIED", "the KDC reply grants a ticket for longer than was asked"
        )
    server = principal_of(part.sname, part.srealm)
    if server != principal_of(body.sname, body.realm):
        raise APError("KRB_AP_ERR_MODIFIED", f"the KDC reply is for {server}")
    client = principal_of(rep.cname, rep.crealm)
    if client != request.client:
        raise APError(
            "KRB_AP_ERR_MODIFIED", f"the KDC reply is a ticket of {client}, not {request.client}"
        )
    return KerberosCredential(
        client=client,
        server=server,
        ticket=rep.ticket,
        session_key=enctype(part.key.keytype).random_to_key(part.key.keyvalue),
        endtime=part.endtime,
        flags=part.flags,
        authtime=part.authtime,
        starttime=part.starttime,
        renew_till=part.renew_till,
    )


def error_of(error: KRBError) -> ProtocolError:
    """The KDC's KRB-ERROR (RFC 4120 §5.9.1) as the client's error: its code's name, the
    KDC's e-text, and the e-data (``data["e_data"]``) for pre-authentication hints."""
    names = {code: name for name, code in ERROR_CODES.items()}
    name = names.get(error.error_code, "KRB_ERR_GENERIC")
    text = error.e_text or f"the KDC answered error {error.error_code}"
    data = {"e_data": error.e_data} if error.e_data else {}
    return error_class_for(name)(name, text, data)


def _etype_info(padata: tuple[PAData, ...] | None) -> tuple[ETypeInfo2Entry, ...]:
    found = find_padata(padata, PA_ETYPE_INFO2)
    return () if found is None else decode_etype_info2(found.value)


def preauth_hints(error: ProtocolError) -> tuple[ETypeInfo2Entry, ...]:
    """The PA-ETYPE-INFO2 entries of a KDC_ERR_PREAUTH_REQUIRED's METHOD-DATA (RFC 4120
    §5.2.7.5, §5.9.1); empty when the KDC sent none."""
    e_data = error.data.get("e_data")
    if not isinstance(e_data, bytes):
        return ()
    return _etype_info(decode_method_data(e_data))


def reply_hints(rep: KDCRep) -> tuple[ETypeInfo2Entry, ...]:
    """The PA-ETYPE-INFO2 entries of an AS-REP's padata (RFC 4120 §3.1.3: how the reply
    key was made when no pre-authentication was asked)."""
    return _etype_info(rep.padata)


def choose_etype_info(
    hints: tuple[ETypeInfo2Entry, ...], etypes: tuple[int, ...], fallback: int | None = None
) -> ETypeInfo2Entry:
    """The first hint (the KDC's preference, RFC 4120 §5.2.7.5) of an enctype in ``etypes``;
    without hints, ``fallback`` (the reply's enctype) with the default salt."""
    for hint in hints:
        if hint.etype in etypes and hint.etype in ENCTYPES:
            return hint
    if not hints and fallback in etypes:
        return ETypeInfo2Entry(fallback)
    offered = ", ".join(str(h.etype) for h in hints) or "none"
    raise KDCError(
        "KDC_ERR_ETYPE_NOSUPP",
        f"the KDC offers key types {offered} and this client uses {etypes}: ask the "
        "administrator for an AES key (aes256-cts-hmac-sha1-96 or aes256-cts-hmac-sha384-192)",
    )


def password_key(password: str, client: Principal, hint: ETypeInfo2Entry) -> KeyBlock:
    """The client's key of ``hint``'s enctype from ``password`` (RFC 3961 §3 string-to-key)
    with the KDC's salt, else RFC 4120 §4's default salt, and its s2kparams."""
    salt = default_salt(client) if hint.salt is None else hint.salt.encode("utf-8")
    return enctype(hint.etype).string_to_key(password, salt, hint.s2kparams)
