"""The client side of the Kerberos-wire AS and TGS exchanges (RFC 4120 §3.1.1, §3.1.5,
§3.3.1, §3.3.4), sans-IO: build the DER request, check the DER reply.

    request = as_request(alice, krbtgt("EXAMPLE.TEST"), (18,), now, os.urandom)
    reply = kdc.send(request.encode())                  # KRB-ERROR PREAUTH_REQUIRED first
    key = enctype(18).string_to_key(password, salt, s2kparams)  # from its PA-ETYPE-INFO2
    request = as_request(alice, krbtgt(...), (18,), now, os.urandom, key)
    tgt = read_kdc_rep(decode_as_rep(kdc.send(request.encode())), request, key)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orthrus.der import (
    PA_ENC_TIMESTAMP,
    PA_TGS_REQ,
    APReq,
    Authenticator,
    Checksum,
    EncryptedData,
    KDCRep,
    KDCReq,
    KDCReqBody,
    PAData,
    PAEncTsEnc,
    Ticket,
    decode_enc_kdc_rep_part,
    encode_ap_req,
    encode_authenticator,
    encode_kdc_req,
    encode_kdc_req_body,
    encode_pa_enc_timestamp,
    encode_pa_enc_ts_enc,
)
from orthrus.der import EncryptionKey as DerEncryptionKey
from orthrus.enctypes import KeyBlock, enctype
from orthrus.errors import APError, MalformedMessage
from orthrus.kerberos.names import KDC_OPTION_BITS, principal_name, principal_of
from orthrus.kerberos.tickets import decrypt, encrypt
from orthrus.keys import Entropy, KeyUsage
from orthrus.messages import KDCOption
from orthrus.principal import Principal

__all__ = ["KerberosCredential", "KerberosRequest", "as_request", "read_kdc_rep", "tgs_request"]

_AS_REQ, _TGS_REQ = 10, 12


@dataclass(frozen=True, slots=True)
class KerberosRequest:
    """A request as sent, with what reading its reply needs."""

    message: KDCReq
    reply_key: KeyBlock | None
    reply_usage: KeyUsage

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
) -> KDCReqBody:
    return KDCReqBody(
        kdc_options=_options(options),
        realm=server.realm,
        till=int(now) + lifetime,
        nonce=int.from_bytes(entropy(4), "big") >> 1,
        etype=etypes,
        cname=None if client is None else principal_name(client),
        sname=principal_name(server),
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
) -> KerberosRequest:
    """An AS-REQ (RFC 4120 §5.4.1); with ``key``, PA-ENC-TIMESTAMP under it (§5.2.7.2)."""
    padata = None
    if key is not None:
        seconds = int(now)
        stamp = encode_pa_enc_ts_enc(PAEncTsEnc(seconds, int((now - seconds) * 1e6)))
        sealed = EncryptedData(
            key.enctype, encrypt(key, KeyUsage.AS_REQ_PA_ENC_TIMESTAMP, stamp, entropy)
        )
        padata = (PAData(PA_ENC_TIMESTAMP, encode_pa_enc_timestamp(sealed)),)
    body = _body(client, server, etypes, now, entropy, options, lifetime)
    return KerberosRequest(KDCReq(_AS_REQ, body, padata), key, KeyUsage.AS_REP_ENC_PART)


def tgs_request(
    tgt: KerberosCredential,
    server: Principal,
    now: float,
    entropy: Entropy,
    options: tuple[KDCOption, ...] = (),
    lifetime: int = 36000,
) -> KerberosRequest:
    """A TGS-REQ (RFC 4120 §5.4.1): the TGT in PA-TGS-REQ with an authenticator whose
    checksum binds the body (usage 6) and whose fresh subkey protects the reply (usage 9)."""
    session = tgt.session_key
    kind = enctype(session.enctype)
    etypes = (session.enctype,)
    body = _body(None, server, etypes, now, entropy, options, lifetime)
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
    return KerberosRequest(KDCReq(_TGS_REQ, body, padata), subkey, KeyUsage.TGS_REP_ENC_PART_SUBKEY)


def read_kdc_rep(
    rep: KDCRep, request: KerberosRequest, key: KeyBlock | None = None
) -> KerberosCredential:
    """Check an AS-REP or TGS-REP against its request (RFC 4120 §3.1.5, §3.3.4): it opens
    under our key, and its nonce, server and client are those we asked for."""
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
    server = principal_of(part.sname, part.srealm)
    if server != principal_of(body.sname, body.realm):
        raise APError("KRB_AP_ERR_MODIFIED", f"the KDC reply is for {server}")
    return KerberosCredential(
        client=principal_of(rep.cname, rep.crealm),
        server=server,
        ticket=rep.ticket,
        session_key=enctype(part.key.keytype).random_to_key(part.key.keyvalue),
        endtime=part.endtime,
        flags=part.flags,
    )
