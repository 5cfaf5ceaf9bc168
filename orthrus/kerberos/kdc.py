"""The KDC's answer to one Kerberos message, bytes in and bytes out (RFC 4120 §3.1, §3.3,
§5.9.1): what every Kerberos transport (UDP, TCP) calls, sans-IO.

    answer = kdc.answer(datagram, ctx, time.time(), max_reply=UDP_MAX_REPLY)
    if answer.exchange is not None or not on_udp:
        send(answer.reply)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from orthrus.der import (
    KDCReq,
    KRBError,
    PrincipalName,
    decode_kdc_req,
    encode_kdc_rep,
    encode_krb_error,
)
from orthrus.errors import ProtocolError
from orthrus.kerberos.exchanges import E_DATA, handle_kerberos_as, handle_kerberos_tgs
from orthrus.kerberos.names import principal_name
from orthrus.principal import krbtgt
from orthrus.realm import KDCContext

__all__ = ["AS_REQ", "TGS_REQ", "KerberosAnswer", "answer"]

#: The exchange an answer belongs to, as events name it (``orthrus_io.events.Exchange``).
Exchange = Literal["AS", "TGS"]

AS_REQ = 10
TGS_REQ = 12


@dataclass(frozen=True, slots=True)
class KerberosAnswer:
    """The reply to send and what the exchange's event says of it.

    ``exchange`` is None when the bytes were not a KDC request at all: a transport over UDP
    then says nothing (RFC 4120 §7.2.1 lets a KDC drop what it cannot read), over TCP it
    sends ``reply``, a KRB-ERROR.
    """

    reply: bytes
    exchange: Exchange | None
    error: str | None = None
    message: str | None = None
    client: str | None = None
    server: str | None = None


def answer(
    request: bytes, ctx: KDCContext, now: float, max_reply: int | None = None
) -> KerberosAnswer:
    """The KDC's answer to ``request``: an AS-REP, a TGS-REP or a KRB-ERROR.

    With ``max_reply`` (a datagram's room), a longer reply is replaced by
    ``KRB_ERR_RESPONSE_TOO_BIG`` so that the client retries over TCP (RFC 4120 §7.2.1).
    ``orthrus_io.errors.Unavailable`` (a back end down) propagates.
    """
    try:
        req = decode_kdc_req(request)
    except ProtocolError as exc:
        return KerberosAnswer(_error(exc, None, ctx, now), None, exc.name, exc.message)
    kind: Exchange = "AS" if req.msg_type == AS_REQ else "TGS"
    client = _name(req.req_body.cname, req.req_body.realm)
    server = _name(req.req_body.sname, req.req_body.realm)
    try:
        if req.msg_type == AS_REQ:
            reply = handle_kerberos_as(req, ctx, now)
        else:
            reply = handle_kerberos_tgs(req, ctx, now)
    except ProtocolError as exc:
        return KerberosAnswer(
            _error(exc, req, ctx, now), kind, exc.name, exc.message, client, server
        )
    data = encode_kdc_rep(reply)
    if max_reply is not None and len(data) > max_reply:
        too_big = ProtocolError(
            "KRB_ERR_RESPONSE_TOO_BIG",
            f"the reply ({len(data)} bytes) does not fit in a datagram; ask over TCP",
        )
        return KerberosAnswer(
            _error(too_big, req, ctx, now), kind, too_big.name, too_big.message, client, server
        )
    return KerberosAnswer(data, kind, None, None, _name(reply.cname, reply.crealm), server)


def _name(name: PrincipalName | None, realm: str) -> str | None:
    """A name for the event, as the peer wrote it (not checked: it may be refused)."""
    return None if name is None else f"{'/'.join(name.components)}@{realm}"


def _error(exc: ProtocolError, req: KDCReq | None, ctx: KDCContext, now: float) -> bytes:
    """KRB-ERROR (RFC 4120 §5.9.1) for ``exc``; its text is the error's message, which
    never holds a secret; ``e_data`` (METHOD-DATA) when the error carries one."""
    body = None if req is None else req.req_body
    sname = body.sname if body is not None and body.sname is not None else None
    e_data = exc.data.get(E_DATA)
    return encode_krb_error(
        KRBError(
            stime=int(now),
            susec=int((now - int(now)) * 1e6),
            error_code=exc.code,
            realm=body.realm if body is not None else ctx.policy.realm,
            sname=sname or principal_name(krbtgt(ctx.policy.realm)),
            crealm=body.realm if body is not None and body.cname is not None else None,
            cname=body.cname if body is not None else None,
            e_text=exc.message,
            e_data=e_data if isinstance(e_data, bytes) else None,
        )
    )
