"""Properties of the RFC 3961/3962/8009 enctypes beyond the vectors: round trips for every
usage and length, tampering, usage and key confusion, truncation, the registry's refusals,
malformed string-to-key parameters, and keys that keep their bytes out of ``repr``."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orthrus.enctypes import (
    CHECKSUM_TYPES,
    ENCTYPES,
    Enctype,
    IntegrityError,
    KeyBlock,
    UnsupportedChecksumType,
    UnsupportedEnctype,
    checksum_type,
    enctype,
)
from orthrus.enctypes.rfc3961 import nfold
from orthrus.enctypes.rfc3962 import MAX_ITERATIONS, AesCts
from orthrus.errors import MalformedMessage, ProtocolError
from orthrus.keys import KeyUsage

ALL = list(ENCTYPES.values())
USAGES = [int(u) for u in KeyUsage] + [0, 1023, 2**32 - 1]


def key_of(e: Enctype) -> KeyBlock:
    return e.random_to_key(os.urandom(e.key_size))


def sealed(e: Enctype, key: KeyBlock, usage: int, plaintext: bytes) -> bytes:
    return e.encrypt(key, usage, plaintext, os.urandom(e.confounder_size))


def test_registry_holds_the_four_aes_types_strongest_first() -> None:
    assert list(ENCTYPES) == [20, 19, 18, 17]
    assert sorted(CHECKSUM_TYPES) == [15, 16, 19, 20]
    for e in ALL:
        assert enctype(e.number) is e
        assert enctype(e.name) is e
        assert enctype(e.name.upper()) is e
        assert checksum_type(e.checksum_type).enctype is e
        assert checksum_type(e.checksum_type).size == e.mac_size


@pytest.mark.parametrize(
    "which", [0, 1, 3, 16, 23, 24, 25, 26, -1, 2**31, "des-cbc-crc", "rc4-hmac", "A256GCM", ""]
)
def test_unsupported_enctype_is_etype_nosupp(which: int | str) -> None:
    with pytest.raises(UnsupportedEnctype) as caught:
        enctype(which)
    assert (caught.value.code, caught.value.name) == (14, "KDC_ERR_ETYPE_NOSUPP")
    assert caught.value.http_status == 400


@pytest.mark.parametrize("number", [1, 2, 7, 8, 12, 14, 17, 18, -2, 2**31])
def test_unsupported_checksum_type_is_sumtype_nosupp(number: int) -> None:
    with pytest.raises(UnsupportedChecksumType) as caught:
        checksum_type(number)
    assert (caught.value.code, caught.value.name) == (15, "KDC_ERR_SUMTYPE_NOSUPP")


@pytest.mark.parametrize("e", ALL, ids=lambda e: e.name)
@pytest.mark.parametrize("usage", USAGES)
def test_round_trip_for_every_usage(e: Enctype, usage: int) -> None:
    key = key_of(e)
    plaintext = b"a ticket's enc-part, say"
    ciphertext = sealed(e, key, usage, plaintext)
    assert len(ciphertext) == e.confounder_size + len(plaintext) + e.mac_size
    assert e.decrypt(key, usage, ciphertext) == plaintext
    e.verify_checksum(key, usage, plaintext, e.checksum(key, usage, plaintext))


@settings(max_examples=200, deadline=None)
@given(
    e=st.sampled_from(ALL),
    plaintext=st.binary(min_size=0, max_size=100),
    usage=st.integers(0, 2**32 - 1),
    seed=st.binary(min_size=32, max_size=32),
    confounder=st.binary(min_size=16, max_size=16),
)
def test_round_trip_any_length_0_to_100(
    e: Enctype, plaintext: bytes, usage: int, seed: bytes, confounder: bytes
) -> None:
    key = e.random_to_key(seed[: e.key_size])
    assert e.decrypt(key, usage, e.encrypt(key, usage, plaintext, confounder)) == plaintext


@settings(max_examples=200, deadline=None)
@given(data=st.binary(min_size=16, max_size=100), seed=st.binary(min_size=16, max_size=16))
def test_cts_round_trip_and_no_expansion(data: bytes, seed: bytes) -> None:
    ciphertext = AesCts(seed).encrypt(data)
    assert len(ciphertext) == len(data)
    assert AesCts(seed).decrypt(ciphertext) == data


@pytest.mark.parametrize("e", ALL, ids=lambda e: e.name)
def test_every_bit_flipped_is_bad_integrity(e: Enctype) -> None:
    key = key_of(e)
    ciphertext = sealed(e, key, KeyUsage.TICKET, b"endtime=20261205000000Z")
    for bit in range(len(ciphertext) * 8):
        flipped = bytearray(ciphertext)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(IntegrityError):
            e.decrypt(key, KeyUsage.TICKET, bytes(flipped))


@pytest.mark.parametrize("e", ALL, ids=lambda e: e.name)
def test_wrong_usage_wrong_key_and_other_enctype_are_bad_integrity(e: Enctype) -> None:
    key = key_of(e)
    ciphertext = sealed(e, key, KeyUsage.AP_REQ_AUTHENTICATOR, b"authenticator")
    with pytest.raises(IntegrityError):
        e.decrypt(key, KeyUsage.TGS_REQ_AUTHENTICATOR, ciphertext)
    with pytest.raises(IntegrityError):
        e.decrypt(key_of(e), KeyUsage.AP_REQ_AUTHENTICATOR, ciphertext)
    for other in ALL:
        if other is not e and other.key_size == e.key_size:
            same_bytes = KeyBlock(other.number, key.material)
            with pytest.raises(IntegrityError):
                other.decrypt(same_bytes, KeyUsage.AP_REQ_AUTHENTICATOR, ciphertext)


@pytest.mark.parametrize("e", ALL, ids=lambda e: e.name)
def test_truncated_or_extended_ciphertext_is_bad_integrity_never_a_traceback(e: Enctype) -> None:
    key = key_of(e)
    ciphertext = sealed(e, key, KeyUsage.AP_REP_ENC_PART, b"x" * 20)
    for length in range(len(ciphertext)):
        with pytest.raises(IntegrityError):
            e.decrypt(key, KeyUsage.AP_REP_ENC_PART, ciphertext[:length])
        with pytest.raises(IntegrityError):
            e.decrypt(key, KeyUsage.AP_REP_ENC_PART, ciphertext[len(ciphertext) - length :])
    with pytest.raises(IntegrityError):
        e.decrypt(key, KeyUsage.AP_REP_ENC_PART, ciphertext + b"\0")


def test_integrity_error_is_one_sentence_whatever_failed() -> None:
    e = enctype(18)
    key = key_of(e)
    ciphertext = sealed(e, key, 2, b"x")
    errors: list[ProtocolError] = []
    for bad in (ciphertext[:5], ciphertext[:-1] + b"\0", sealed(e, key_of(e), 2, b"x")):
        with pytest.raises(IntegrityError) as caught:
            e.decrypt(key, 2, bad)
        errors.append(caught.value)
    assert {(err.code, err.name, err.message) for err in errors} == {
        (31, "KRB_AP_ERR_BAD_INTEGRITY", errors[0].message)
    }


@pytest.mark.parametrize("e", ALL, ids=lambda e: e.name)
def test_checksum_refused_when_changed_or_under_another_usage(e: Enctype) -> None:
    key = key_of(e)
    checksum = e.checksum(key, 6, b"req-body")
    assert len(checksum) == e.mac_size
    for bad_data, bad_usage, bad_sum in (
        (b"req-bodY", 6, checksum),
        (b"req-body", 7, checksum),
        (b"req-body", 6, checksum[:-1]),
        (b"req-body", 6, bytes(e.mac_size)),
    ):
        with pytest.raises(IntegrityError):
            e.verify_checksum(key, bad_usage, bad_data, bad_sum)


@pytest.mark.parametrize("e", ALL, ids=lambda e: e.name)
def test_prf_size_and_key_dependence(e: Enctype) -> None:
    key = key_of(e)
    out = e.prf(key, b"input")
    assert len(out) == e.prf_size
    assert out != e.prf(key_of(e), b"input")
    assert out != e.prf(key, b"other")


@pytest.mark.parametrize("e", ALL, ids=lambda e: e.name)
def test_derived_keys_are_cached_on_the_key(e: Enctype) -> None:
    key = key_of(e)
    first = e.derive(key, KeyUsage.TICKET)
    assert e.derive(key, KeyUsage.TICKET) is first
    assert e.derive(key, KeyUsage.AS_REP_ENC_PART) is not first
    # An equal key made separately derives the same keys (the cache is per object only).
    assert e.derive(KeyBlock(e.number, key.material), KeyUsage.TICKET) == first
    kc = e.checksum_key(key, KeyUsage.TICKET)
    assert e.checksum_key(key, KeyUsage.TICKET) is kc
    assert kc not in (first.ke, first.ki, e.checksum_key(key, KeyUsage.AS_REP_ENC_PART))


@pytest.mark.parametrize("e", ALL, ids=lambda e: e.name)
def test_key_and_derived_keys_keep_their_bytes_out_of_repr(e: Enctype) -> None:
    key = key_of(e)
    keys = e.derive(key, KeyUsage.TICKET)
    kc = e.checksum_key(key, KeyUsage.TICKET)
    for text in (repr(key), str(key), repr(keys), str(keys)):
        for secret in (key.material, kc, keys.ke, keys.ki):
            assert secret.hex() not in text.lower()
            assert repr(secret) not in text
    assert repr(key) == f"KeyBlock(enctype={e.number})"


def test_keyblock_equality_is_by_enctype_and_material() -> None:
    material = os.urandom(16)
    assert KeyBlock(17, material) == KeyBlock(17, material)
    assert KeyBlock(17, material) != KeyBlock(19, material)
    assert KeyBlock(17, material) != KeyBlock(17, os.urandom(16))
    assert len({KeyBlock(17, material), KeyBlock(17, material)}) == 1


@pytest.mark.parametrize("e", ALL, ids=lambda e: e.name)
def test_random_to_key_of_the_wrong_size_is_generic_error(e: Enctype) -> None:
    for size in (0, e.key_size - 1, e.key_size + 1):
        with pytest.raises(MalformedMessage) as caught:
            e.random_to_key(bytes(size))
        assert caught.value.name == "KRB_ERR_GENERIC"


@pytest.mark.parametrize("e", ALL, ids=lambda e: e.name)
@pytest.mark.parametrize(
    "params", [b"", b"\x00\x10\x00", b"\x00\x00\x10\x00\x00", b"\x00\x00\x00\x00", b"\xff" * 4]
)
def test_malformed_or_hostile_s2kparams_are_refused_before_any_work(
    e: Enctype, params: bytes
) -> None:
    with pytest.raises(MalformedMessage) as caught:
        e.string_to_key("password", b"EX.TESTalice", params)
    assert caught.value.name == "KRB_ERR_GENERIC"


def test_iteration_count_limit_is_mits() -> None:
    e = enctype(17)
    with pytest.raises(MalformedMessage):
        e.string_to_key("password", b"salt", MAX_ITERATIONS.to_bytes(4, "big"))
    assert MAX_ITERATIONS == 2**24


def test_password_that_is_not_unicode_text_is_generic_error() -> None:
    with pytest.raises(MalformedMessage):
        enctype(18).string_to_key("pass\udcffword", b"salt", b"\x00\x00\x00\x01")


@pytest.mark.parametrize("e", ALL, ids=lambda e: e.name)
def test_programming_errors_are_value_errors(e: Enctype) -> None:
    key = key_of(e)
    other = next(o for o in ALL if o.number != e.number)
    with pytest.raises(ValueError, match="used with"):
        other.encrypt(key, 2, b"", bytes(16))
    with pytest.raises(ValueError, match="confounder"):
        e.encrypt(key, 2, b"", bytes(15))
    with pytest.raises(ValueError, match="usage"):
        e.encrypt(key, 2**32, b"", bytes(16))


def test_nfold_of_nothing_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        nfold(b"", 16)


def test_an_unsupported_name_is_echoed_bounded() -> None:
    with pytest.raises(UnsupportedEnctype) as caught:
        enctype("x" * 10_000)
    assert len(caught.value.message) < 400
