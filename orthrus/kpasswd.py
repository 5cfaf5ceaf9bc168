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
    VerifiedAPReq,
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
    "KpasswdState",
    "OpenedChangepw",
    "changepw_service",
    "handle_kpasswd_req",
    "make_changepw_req",
    "make_kpasswd_req",
    "open_changepw_req",
    "read_changepw_rep",
    "read_kpasswd_rep",
    "seal_changepw_rep",
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


def make_changepw_req(
    credential: Credential, payload: bytes, now: float, entropy: Entropy
) -> tuple[APReq, KrbPriv, KpasswdState]:
    """An AP-REQ with ``credential`` (a ticket for ``kadmin/changepw``) and ``payload`` sealed
    as KRB-PRIV under a fresh subkey: a password change, or an OTP enrollment
    (:mod:`orthrus.otp_enroll`)."""
    channel = PrivChannel.initiator(entropy)
    fields = AuthenticatorFields(subkey=channel.key, seq=channel.initial_seq, mutual=True)
    ap_req, authenticator = make_ap_req(credential, now, entropy, fields)
    data = channel.seal(payload, now, entropy)
    return ap_req, data, KpasswdState(channel, credential, authenticator)


def make_kpasswd_req(
    credential: Credential, new_password: str, now: float, entropy: Entropy
) -> tuple[KpasswdReq, KpasswdState]:
    """Seal ``new_password`` for the KDC with a ticket for ``kadmin/changepw``."""
    ap_req, data, state = make_changepw_req(credential, new_password.encode("utf-8"), now, entropy)
    return KpasswdReq(ap_req, data), state


@dataclass(frozen=True, slots=True)
class OpenedChangepw:
    """A request to ``kadmin/changepw`` whose initial ticket and payload opened."""

    verified: VerifiedAPReq
    channel: PrivChannel
    payload: bytes


def open_changepw_req(
    ap_req: APReq, data: KrbPriv, keys_for: KeysFor, rules: APRules, now: float, what: str
) -> OpenedChangepw:
    """Verify an AP-REQ for ``kadmin/changepw`` with an *initial* ticket (RFC 3244 §2: the
    password was just proven, not a TGT reused) and open its KRB-PRIV payload."""
    if ap_req.ticket.server.components != CHANGEPW_NAME:
        raise KDCError(
            "KDC_ERR_POLICY",
            f"{what} needs a ticket for kadmin/changepw, not {ap_req.ticket.server}",
        )
    verified = verify_ap_req(ap_req, keys_for, now, rules)
    if "initial" not in verified.ticket.flags:
        raise KDCError(
            "KDC_ERR_POLICY",
            f"{what} needs an initial ticket (from your current password), "
            "not one obtained with a TGT",
        )
    subkey, seq = verified.authenticator.subkey, verified.authenticator.seq
    if subkey is None or seq is None:
        raise MalformedMessage(f"the authenticator of {what} carries a subkey and seq")
    channel = PrivChannel.acceptor(subkey.to_key(), seq, max_skew=rules.max_skew)
    return OpenedChangepw(verified, channel, channel.open(data, now))


def seal_changepw_rep(
    opened: OpenedChangepw, result: bytes, now: float, entropy: Entropy
) -> tuple[APRep, KrbPriv]:
    """The AP-REP (mutual authentication) and ``result`` sealed under the client's subkey."""
    return make_ap_rep(opened.verified, entropy), opened.channel.seal(result, now, entropy)


def read_changepw_rep(ap_rep: APRep, data: KrbPriv, state: KpasswdState, now: float) -> bytes:
    """Check the KDC's AP-REP (``KRB_AP_ERR_MUT_FAIL`` if not the KDC) and open the result."""
    read_ap_rep(ap_rep, state.credential.session_key, state.authenticator)
    return state.channel.open(data, now)


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
    opened = open_changepw_req(req.ap_req, req.data, keys_for, rules, now, "a password change")
    try:
        password = opened.payload.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedMessage("the new password is not UTF-8 text") from None
    client = opened.verified.ticket.client
    kvno = change(client, password)
    return KpasswdRep(*seal_changepw_rep(opened, encode(KpasswdResult(client, kvno)), now, entropy))


def read_kpasswd_rep(rep: KpasswdRep, state: KpasswdState, now: float) -> KpasswdResult:
    """Check the KDC's AP-REP (``KRB_AP_ERR_MUT_FAIL`` if not the KDC) and open the result."""
    return decode(read_changepw_rep(rep.ap_rep, rep.data, state, now), KpasswdResult)
