"""orthrus.otp and PA-OTP: RFC 6238's test vectors, the URI apps scan, recovery codes, and
the codec's strictness about what a client may send."""

from __future__ import annotations

import os
import re

import pytest

from orthrus.codec import decode, encode
from orthrus.errors import MalformedMessage
from orthrus.messages import PAOTP
from orthrus.otp import (
    new_recovery_codes,
    provisioning_uri,
    recovery_digest,
    totp_code,
)
from orthrus.principal import Principal

#: RFC 6238 Appendix B: the SHA-1 seed, and (time, 8-digit code); 6 digits are the last 6.
RFC6238_SEED = b"12345678901234567890"
RFC6238_SHA1 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("when", "code"), RFC6238_SHA1)
def test_codes_are_rfc_6238_appendix_b(when: int, code: str) -> None:
    assert totp_code(RFC6238_SEED, when) == code[-6:]


def test_provisioning_uri_names_the_principal_and_the_realm() -> None:
    uri = provisioning_uri(RFC6238_SEED, Principal.parse("alice@EX.TEST"))
    assert uri.startswith("otpauth://totp/EX.TEST:alice%40EX.TEST?")
    assert "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" in uri and "issuer=EX.TEST" in uri


def test_recovery_codes_are_fresh_and_their_digest_ignores_case_and_dashes() -> None:
    codes = new_recovery_codes(os.urandom)
    assert len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-7]{5}-[a-z2-7]{5}", code) for code in codes)
    assert recovery_digest(codes[0]) == recovery_digest(codes[0].upper().replace("-", ""))


@pytest.mark.parametrize(
    "body",
    [
        b'{"nonce":1}',  # neither a code nor a recovery code
        b'{"nonce":1,"code":"123456","recovery":"abcde-fghij"}',  # both
        b'{"nonce":1,"code":"12345"}',
        b'{"nonce":1,"code":"1234567"}',
        b'{"nonce":1,"code":"12345a"}',
        b'{"nonce":1,"recovery":"abcde-fghi1"}',  # 1 is not base32
        b'{"nonce":1,"code":"123456","extra":1}',
    ],
)
def test_pa_otp_is_decoded_strictly(body: bytes) -> None:
    with pytest.raises(MalformedMessage):
        decode(body, PAOTP)


def test_pa_otp_never_shows_its_code() -> None:
    sent = decode(encode(PAOTP(nonce=7, code="123456")), PAOTP)
    assert sent.code == "123456" and "123456" not in repr(sent)
