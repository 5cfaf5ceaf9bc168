"""Enrolling an authenticator app for TOTP (RFC 6238): ``POST /v1/otp/enroll``.

As a password change (RFC 3244, :mod:`orthrus.kpasswd`): the client logs in to
``kadmin/changepw@REALM`` with its password (an initial ticket), sends an AP-REQ with a fresh
subkey, and the KDC seals back under that subkey the new shared secret and the recovery
codes, which only this reply ever carries: the KDC keeps the secret sealed under its master
key and the codes hashed (:mod:`orthrus.otp`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import msgspec

from orthrus.ap import APRules, KeysFor
from orthrus.codec import decode, encode
from orthrus.credentials import Credential
from orthrus.keys import Entropy
from orthrus.kpasswd import (
    KpasswdState,
    make_changepw_req,
    open_changepw_req,
    read_changepw_rep,
    seal_changepw_rep,
)
from orthrus.messages import APRep, APReq, EncTicketPart
from orthrus.principal import Principal
from orthrus.priv import KrbPriv

__all__ = [
    "OTPEnrollRep",
    "OTPEnrollReq",
    "OTPEnrollResult",
    "handle_otp_enroll_req",
    "make_otp_enroll_req",
    "read_otp_enroll_rep",
]

_STRUCT = {"frozen": True, "forbid_unknown_fields": True}
#: What the request seals: nothing but its purpose (the ticket names the principal).
_PURPOSE = b"otp-enroll"


class OTPEnrollReq(msgspec.Struct, tag="OTP-ENROLL-REQ", **_STRUCT):
    """The AP-REQ for ``kadmin/changepw`` and the sealed purpose."""

    ap_req: APReq
    data: KrbPriv


class OTPEnrollResult(msgspec.Struct, **_STRUCT):
    """What the KDC seals back: the shared secret (RFC 4226 §4 R6) and the recovery codes."""

    principal: Principal
    secret: Annotated[bytes, msgspec.Meta(min_length=16, max_length=64)]
    recovery_codes: Annotated[list[str], msgspec.Meta(max_length=32)]

    def __repr__(self) -> str:
        return f"OTPEnrollResult(principal={self.principal!r})"


class OTPEnrollRep(msgspec.Struct, tag="OTP-ENROLL-REP", **_STRUCT):
    """The AP-REP and the sealed :class:`OTPEnrollResult`."""

    ap_rep: APRep
    data: KrbPriv


#: Enrolls the ticket's client (its ticket part, for the factors its login proved); returns
#: the secret and recovery codes, or raises ``KDCError``.
Enroll = Callable[[EncTicketPart], OTPEnrollResult]


def make_otp_enroll_req(
    credential: Credential, now: float, entropy: Entropy
) -> tuple[OTPEnrollReq, KpasswdState]:
    """Ask to enroll with an initial ticket for ``kadmin/changepw``."""
    ap_req, data, state = make_changepw_req(credential, _PURPOSE, now, entropy)
    return OTPEnrollReq(ap_req, data), state


def handle_otp_enroll_req(
    req: OTPEnrollReq,
    keys_for: KeysFor,
    rules: APRules,
    now: float,
    enroll: Enroll,
    entropy: Entropy,
) -> OTPEnrollRep:
    """Verify the request (an initial ticket for kadmin/changepw, as RFC 3244 §2 asks of a
    password change) and enroll its client; the result is sealed under the client's subkey."""
    opened = open_changepw_req(req.ap_req, req.data, keys_for, rules, now, "an OTP enrollment")
    result = enroll(opened.verified.ticket)
    return OTPEnrollRep(*seal_changepw_rep(opened, encode(result), now, entropy))


def read_otp_enroll_rep(rep: OTPEnrollRep, state: KpasswdState, now: float) -> OTPEnrollResult:
    """Check the KDC's AP-REP (``KRB_AP_ERR_MUT_FAIL`` if not the KDC) and open the result."""
    return decode(read_changepw_rep(rep.ap_rep, rep.data, state, now), OTPEnrollResult)
