"""Time-based one-time passwords (TOTP, RFC 6238) as a second pre-authentication factor.

A principal that must give a second factor (``orthrus-kdc modprinc --require-otp``) proves
its password with the encrypted timestamp (RFC 4120 §5.2.7.2) and, in the same AS-REQ, a
``PA-OTP`` element (:class:`orthrus.messages.PAOTP`, sealed under the same key) carrying
either the current 6-digit code of its authenticator app or one of its single-use recovery
codes. The KDC checks the code here, sans-IO: the time, the replay cache and the recovery
codes' store are passed in. RFC 6238's codes are computed by ``cryptography``'s
:class:`~cryptography.hazmat.primitives.twofactor.totp.TOTP` (HOTP, RFC 4226, underneath).

A code is accepted in its own 30-second step and the steps either side (RFC 6238 §5.2's
allowance for clock drift and typing time), once: the step it matched is stored in the
replay cache until no clock could accept it again (:func:`check_code`).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from orthrus.errors import APError, KDCError
from orthrus.keys import Entropy
from orthrus.principal import Principal
from orthrus.replay import ReplayCache, check_replay

__all__ = [
    "DIGITS",
    "DRIFT_STEPS",
    "FACTOR",
    "RECOVERY_CODES",
    "SECRET_BYTES",
    "STEP",
    "OTPEnrollment",
    "RecoveryCodes",
    "check_code",
    "check_recovery_code",
    "new_recovery_codes",
    "new_secret",
    "provisioning_uri",
    "recovery_digest",
    "totp_code",
]

#: The factor's name in a ticket's signed ``auth_factors`` (:mod:`orthrus.authz`).
FACTOR = "otp"
#: RFC 6238 §4's defaults, which every authenticator app reads from an ``otpauth://`` URI.
DIGITS = 6
STEP = 30
#: Steps accepted either side of the KDC's (RFC 6238 §5.2: "at most one time step").
DRIFT_STEPS = 1
#: 160 bits: RFC 4226 §4 R6 recommends a 160-bit shared secret for HMAC-SHA-1.
SECRET_BYTES = 20
#: How many recovery codes an enrollment prints (each works once).
RECOVERY_CODES = 10
#: A recovery code: 10 base32 characters (50 random bits), shown as ``xxxxx-xxxxx``.
_RECOVERY_CHARS = 10


@dataclass(frozen=True, slots=True)
class OTPEnrollment:
    """A principal's TOTP secret (opened from its seal under the master key)."""

    secret: bytes = field(repr=False)


class RecoveryCodes(Protocol):
    """Where the KDC keeps the hashed recovery codes (:func:`recovery_digest`)."""

    def consume(self, principal: Principal, digest: str) -> bool:
        """Remove ``principal``'s code with ``digest``; True if it was there (once only)."""
        ...


def _totp(secret: bytes) -> TOTP:
    # HMAC-SHA-1: RFC 6238's default and the one every authenticator app reads from an
    # otpauth:// URI; HMAC's security does not rest on SHA-1's collision resistance.
    return TOTP(secret, DIGITS, SHA1(), STEP)  # noqa: S303


def new_secret(entropy: Entropy) -> bytes:
    """A fresh shared secret (RFC 4226 §4 R6: 160 bits, from the caller's CSPRNG)."""
    return entropy(SECRET_BYTES)


def totp_code(secret: bytes, now: float) -> str:
    """The code an authenticator app shows at ``now`` (RFC 6238 §4.2)."""
    return _totp(secret).generate(int(now)).decode("ascii")


def provisioning_uri(secret: bytes, principal: Principal) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app scans (Key Uri Format), issuer
    the realm, account the principal's name."""
    return _totp(secret).get_provisioning_uri(str(principal), principal.realm)


def _matching_step(secret: bytes, code: str, now: float) -> int | None:
    """The time step whose code is ``code`` (within :data:`DRIFT_STEPS`), compared by
    ``TOTP.verify`` in constant time; None if none is."""
    totp = _totp(secret)
    current = int(now) // STEP
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        try:
            totp.verify(code.encode("ascii"), step * STEP)
        except InvalidToken:
            continue
        return step
    return None


def check_code(
    enrollment: OTPEnrollment,
    principal: Principal,
    code: str,
    cache: ReplayCache,
    now: float,
    max_skew: int,
) -> None:
    """Accept ``code`` once (RFC 6238 §5.2), or raise ``KDC_ERR_PREAUTH_FAILED``.

    A code outside the accepted steps is wrong. A right code is stored in the replay cache
    under (principal, step) until the last moment any step's window, the KDC's skew added,
    could accept it; a second use is refused: a code seen over a shoulder or in transit is
    worth nothing once used. As RFC 4120 §3.2.3 has it for authenticators, a code the cache
    may have forgotten (one a KDC could accept before the cache's memory starts: a restarted
    KDC, a flushed Redis) is refused too, until the next code.
    """
    step = _matching_step(enrollment.secret, code, now)
    if step is None:
        raise _failed(principal, "the one-time code is wrong or from another time window")
    entry = b"otp|%s|%d" % (str(principal).encode(), step)
    expires_at = (step + DRIFT_STEPS + 1) * STEP + max_skew
    # The first moment the KDC could accept this code (one step early: RFC 6238 §5.2).
    usable_from = (step - DRIFT_STEPS) * STEP
    try:
        check_replay(cache, entry, expires_at, now, usable_from, "KDC")
    except APError as exc:
        if cache.remembers_since() > usable_from:
            raise _failed(
                principal,
                "the KDC's replay cache started after this code became valid, so it cannot "
                "tell whether it was used; wait for a later code",
            ) from exc
        raise _failed(
            principal, "this one-time code was already used; wait for the next one"
        ) from None


def recovery_digest(code: str) -> str:
    """How a recovery code is stored: hex SHA-256 of its normalized form (50 random bits
    per code, so no slow hash is needed: there is nothing to guess offline faster than
    online, and the KDC's lockout counts online guesses)."""
    normalized = code.replace("-", "").replace(" ", "").upper()
    return hashlib.sha256(b"orthrus/otp/recovery|" + normalized.encode("ascii")).hexdigest()


def check_recovery_code(principal: Principal, code: str, codes: RecoveryCodes | None) -> None:
    """Spend one of ``principal``'s recovery codes, or raise ``KDC_ERR_PREAUTH_FAILED``."""
    if codes is None or not codes.consume(principal, recovery_digest(code)):
        raise _failed(principal, "the recovery code is wrong or was already used")


def new_recovery_codes(entropy: Entropy, count: int = RECOVERY_CODES) -> list[str]:
    """``count`` fresh recovery codes, ``xxxxx-xxxxx`` in base32 (RFC 4648 §6)."""
    codes = []
    for _ in range(count):
        # 7 bytes are 12 base32 characters before the padding; 10 of them are kept.
        text = base64.b32encode(entropy(7)).decode("ascii")[:_RECOVERY_CHARS]
        codes.append(f"{text[:5]}-{text[5:]}".lower())
    return codes


def _failed(principal: Principal, why: str) -> KDCError:
    return KDCError(
        "KDC_ERR_PREAUTH_FAILED",
        f"second-factor pre-authentication of {principal} failed: {why}; type the code "
        "your authenticator app shows now, or a recovery code",
    )
