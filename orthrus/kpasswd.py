"""Changing a password with a ticket (RFC 3244, over JSON): ``POST /v1/kpasswd``.

The client logs in to the password-change service ``kadmin/changepw@REALM`` with its current
password (an AS exchange, so the ticket has the ``initial`` flag: the password was just
proven, not a TGT reused), then sends an AP-REQ with a fresh subkey and sequence number and
the new password sealed as a KRB-PRIV message under that subkey (:mod:`orthrus.priv`). The
KDC answers an AP-REP (mutual authentication) and the result sealed the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from orthrus.ap import (
    APRules,
    AuthenticatorFields,
    KeysFor,
    make_ap_rep,
    make_ap_req,
    read_ap_rep,
    verify_ap_req,
)
from orthrus.codec import decode, encode
from orthrus.credentials import Credential
from orthrus.errors import KDCError, MalformedMessage
from orthrus.keys import Entropy
from orthrus.messages import APRep, APReq, Authenticator
from orthrus.principal import Principal
from orthrus.priv import KrbPriv, PrivChannel

__all__ = [
    "CHANGEPW_NAME",
    "KpasswdRep",
    "KpasswdReq",
    "KpasswdResult",
    "changepw_service",
    "handle_kpasswd_req",
    "make_kpasswd_req",
    "read_kpasswd_rep",
]

CHANGEPW_NAME = ("kadmin", "changepw")


def changepw_service(realm: str) -> Principal:
    """``kadmin/changepw@REALM``, the password-change service (RFC 3244 §2)."""
    return Principal(CHANGEPW_NAME, realm)


class KpasswdReq(msgspec.Struct, tag="KPASSWD-REQ", frozen=True, forbid_unknown_fields=True):
    """The AP-REQ for ``kadmin/changepw`` and the new password as KRB-PRIV."""

    ap_req: APReq
    data: KrbPriv


class KpasswdResult(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What the KDC seals back: the principal and its new key version."""

    principal: Principal
    kvno: int


class KpasswdRep(msgspec.Struct, tag="KPASSWD-REP", frozen=True, forbid_unknown_fields=True):
    """The AP-REP and the sealed :class:`KpasswdResult`."""

    ap_rep: APRep
    data: KrbPriv


@dataclass(frozen=True, slots=True)
class KpasswdState:
    """What the client keeps to read the reply."""

    channel: PrivChannel
    credential: Credential
    authenticator: Authenticator


def make_kpasswd_req(
    credential: Credential, new_password: str, now: float, entropy: Entropy
) -> tuple[KpasswdReq, KpasswdState]:
    """Seal ``new_password`` for the KDC with a ticket for ``kadmin/changepw``."""
    channel = PrivChannel.initiator(entropy)
    fields = AuthenticatorFields(subkey=channel.key, seq=channel.initial_seq, mutual=True)
    ap_req, authenticator = make_ap_req(credential, now, entropy, fields)
    data = channel.seal(new_password.encode("utf-8"), now, entropy)
    return KpasswdReq(ap_req, data), KpasswdState(channel, credential, authenticator)


#: Changes ``principal``'s password; returns the new kvno or raises ``KDCError``.
ChangePassword = Callable[[Principal, str], int]


def handle_kpasswd_req(
    req: KpasswdReq,
    keys_for: KeysFor,
    rules: APRules,
    now: float,
    change: ChangePassword,
    entropy: Entropy,
) -> KpasswdRep:
    """Verify the request (RFC 3244 §2: an initial ticket for kadmin/changepw) and change
    the password; the result is sealed under the client's subkey."""
    if req.ap_req.ticket.server.components != CHANGEPW_NAME:
        raise KDCError(
            "KDC_ERR_POLICY",
            f"a password change needs a ticket for kadmin/changepw, not {req.ap_req.ticket.server}",
        )
    verified = verify_ap_req(req.ap_req, keys_for, now, rules)
    if "initial" not in verified.ticket.flags:
        raise KDCError(
            "KDC_ERR_POLICY",
            "a password change needs an initial ticket (from your current password), "
            "not one obtained with a TGT",
        )
    subkey, seq = verified.authenticator.subkey, verified.authenticator.seq
    if subkey is None or seq is None:
        raise MalformedMessage("the authenticator of a password change carries a subkey and seq")
    channel = PrivChannel.acceptor(subkey.to_key(), seq, max_skew=rules.max_skew)
    try:
        password = channel.open(req.data, now).decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedMessage("the new password is not UTF-8 text") from None
    kvno = change(verified.ticket.client, password)
    result = KpasswdResult(verified.ticket.client, kvno)
    sealed = channel.seal(encode(result), now, entropy)
    return KpasswdRep(make_ap_rep(verified, entropy), sealed)


def read_kpasswd_rep(rep: KpasswdRep, state: KpasswdState, now: float) -> KpasswdResult:
    """Check the KDC's AP-REP and open the result (``KRB_AP_ERR_MUT_FAIL`` if not the KDC)."""
    read_ap_rep(rep.ap_rep, state.credential.session_key, state.authenticator)
    return decode(state.channel.open(rep.data, now), KpasswdResult)
