"""Sealing (JWE compact, dir + A256GCM, one derived key per usage) and keys."""

from __future__ import annotations

import json
import os

import pytest
from core_realm import flip_byte, with_part
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from orthrus.b64 import b64u_decode, b64u_encode
from orthrus.errors import APError, MalformedMessage
from orthrus.keys import KEY_SIZE, Key, KeyUsage
from orthrus.seal import MAX_SEALED_LENGTH, open_sealed, peek_header, seal

USAGE = KeyUsage.AP_REQ_AUTHENTICATOR
SECRET = b"the authenticator: alice, 12:00:00"


@pytest.fixture
def key() -> Key:
    return Key.generate(os.urandom, kvno=1)


@pytest.fixture
def token(key: Key) -> str:
    return seal(key, USAGE, SECRET, os.urandom)


def refused(key: Key, token: str, usage: KeyUsage = USAGE, context: str | None = None) -> str:
    """Open ``token``, expecting KRB_AP_ERR_MODIFIED; return the message."""
    with pytest.raises(APError) as caught:
        open_sealed(key, usage, token, context)
    assert caught.value.name == "KRB_AP_ERR_MODIFIED"
    assert caught.value.code == 41
    return caught.value.message


def with_header(token: str, **changes: object) -> str:
    """The token with its protected header rewritten (the rest left as it was)."""
    header = json.loads(b64u_decode(token.split(".")[0]))
    header.update(changes)
    header = {k: v for k, v in header.items() if v is not None}
    encoded = b64u_encode(json.dumps(header, separators=(",", ":")).encode())
    return with_part(token, 0, encoded)


# -- round trip and format -------------------------------------------------------------------


@pytest.mark.parametrize("usage", list(KeyUsage))
def test_round_trip_for_every_usage(key: Key, usage: KeyUsage) -> None:
    token = seal(key, usage, SECRET, os.urandom)
    assert open_sealed(key, usage, token) == SECRET
    assert open_sealed(Key(key.material, key.kvno), usage, token) == SECRET


def test_round_trip_empty_and_large_plaintexts(key: Key) -> None:
    for plaintext in (b"", b"x" * 40_000):
        assert open_sealed(key, USAGE, seal(key, USAGE, plaintext, os.urandom)) == plaintext


def test_each_seal_uses_a_fresh_nonce(key: Key) -> None:
    first, second = (seal(key, USAGE, SECRET, os.urandom) for _ in range(2))
    assert first != second
    assert first.split(".")[2] != second.split(".")[2]


def test_is_standard_jwe_compact_with_the_usage_derived_key(key: Key, token: str) -> None:
    header_b64, encrypted_key, iv, ciphertext, tag = token.split(".")
    header = json.loads(b64u_decode(header_b64))
    assert header == {"alg": "dir", "enc": "A256GCM", "kid": "1", "usage": int(USAGE)}
    assert encrypted_key == ""
    assert len(b64u_decode(iv)) == 12
    assert len(b64u_decode(tag)) == 16
    # What an independent JOSE implementation does given the derived content key.
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"orthrus/usage/%d" % USAGE
    ).derive(key.material)
    plaintext = AESGCM(derived).decrypt(
        b64u_decode(iv), b64u_decode(ciphertext) + b64u_decode(tag), header_b64.encode()
    )
    assert plaintext == SECRET
    with pytest.raises(Exception):  # noqa: B017 - the raw key must not open it
        AESGCM(key.material).decrypt(
            b64u_decode(iv), b64u_decode(ciphertext) + b64u_decode(tag), header_b64.encode()
        )


def test_context_is_bound(key: Key) -> None:
    token = seal(key, KeyUsage.TICKET, SECRET, os.urandom, context="HTTP/a@EX.TEST")
    assert open_sealed(key, KeyUsage.TICKET, token, "HTTP/a@EX.TEST") == SECRET
    assert "another use" in refused(key, token, KeyUsage.TICKET, "HTTP/b@EX.TEST")
    assert "another use" in refused(key, token, KeyUsage.TICKET, None)
    plain = seal(key, KeyUsage.TICKET, SECRET, os.urandom)
    assert "another use" in refused(key, plain, KeyUsage.TICKET, "HTTP/a@EX.TEST")
    # Rewriting the header's context to the expected one breaks the tag.
    forged = with_header(token, ctx="HTTP/b@EX.TEST")
    assert "tag mismatch" in refused(key, forged, KeyUsage.TICKET, "HTTP/b@EX.TEST")


# -- tampering -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "name"), [(0, "header"), (2, "iv"), (3, "ciphertext"), (4, "tag")]
)
@pytest.mark.parametrize("index", [0, -1])
def test_tampering_any_part_is_refused(
    key: Key, token: str, part: int, name: str, index: int
) -> None:
    tampered = with_part(token, part, flip_byte(token.split(".")[part], index))
    assert tampered != token
    refused(key, tampered)


def test_header_rewritten_with_same_meaning_is_refused(key: Key, token: str) -> None:
    header = json.loads(b64u_decode(token.split(".")[0]))
    spaced = b64u_encode(json.dumps(header).encode())  # same fields, other spacing
    assert "tag mismatch" in refused(key, with_part(token, 0, spaced))


def test_encrypted_key_part_must_be_empty(key: Key, token: str) -> None:
    assert "no encrypted key" in refused(key, with_part(token, 1, b64u_encode(b"\0" * 32)))


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: t[:-1], id="last-char"),
        pytest.param(lambda t: t[: len(t) // 2], id="half"),
        pytest.param(lambda t: t.rsplit(".", 1)[0], id="no-tag"),
        pytest.param(lambda t: t.rsplit(".", 1)[0] + ".", id="empty-tag"),
        pytest.param(lambda t: with_part(t, 3, ""), id="empty-ciphertext"),
        pytest.param(lambda t: with_part(t, 2, b64u_encode(b"\0" * 8)), id="short-iv"),
        pytest.param(lambda t: with_part(t, 4, t.split(".")[4][:10]), id="short-tag"),
        pytest.param(lambda t: t + ".", id="six-parts"),
        pytest.param(lambda t: "", id="empty"),
        pytest.param(lambda t: "....", id="only-dots"),
        pytest.param(lambda t: with_part(t, 3, "***"), id="bad-base64"),
        pytest.param(lambda t: with_part(t, 0, "e30"), id="empty-header-object"),
        pytest.param(lambda t: with_part(t, 0, b64u_encode(b"[1]")), id="header-not-object"),
        pytest.param(lambda t: with_part(t, 0, b64u_encode(b"\xff\xfe")), id="header-not-utf8"),
        pytest.param(lambda t: with_part(t, 0, "!!"), id="header-not-base64"),
    ],
)
def test_truncated_or_malformed_tokens_are_refused(key: Key, token: str, mangle) -> None:
    refused(key, mangle(token))


def test_deeply_nested_header_is_refused_not_crashing(key: Key, token: str) -> None:
    # A header of 30 000 '[' must be "modified", not a RecursionError (a 500 at the KDC).
    nested = with_part(token, 0, b64u_encode(b"[" * 30_000))
    assert len(nested) < MAX_SEALED_LENGTH
    refused(key, nested)
    with pytest.raises(APError):
        peek_header(nested)


def test_oversized_token_is_malformed(key: Key) -> None:
    with pytest.raises(MalformedMessage):
        open_sealed(key, USAGE, "a" * (MAX_SEALED_LENGTH + 1))
    with pytest.raises(MalformedMessage):
        peek_header(123)  # type: ignore[arg-type]


# -- keys and usages -------------------------------------------------------------------------


def test_wrong_key_is_refused(token: str) -> None:
    assert "tag mismatch" in refused(Key.generate(os.urandom, 1), token)


def test_key_of_another_version_is_refused(key: Key, token: str) -> None:
    # The principal's next key (kvno 2) does not open what kvno 1 sealed.
    assert "tag mismatch" in refused(Key.generate(os.urandom, 2), token)


@pytest.mark.parametrize("made_for", list(KeyUsage))
def test_a_part_made_for_one_usage_opens_in_no_other(key: Key, made_for: KeyUsage) -> None:
    token = seal(key, made_for, SECRET, os.urandom)
    for other in KeyUsage:
        if other is made_for:
            continue
        assert "another use" in refused(key, token, other)
        # Even with the header rewritten to claim the other usage, it does not open.
        assert "tag mismatch" in refused(key, with_header(token, usage=int(other)), other)


@pytest.mark.parametrize("made_for", [KeyUsage.TGS_REQ_AUTHENTICATOR, KeyUsage.TICKET])
def test_usage_keys_are_separated_not_only_the_header(key: Key, made_for: KeyUsage) -> None:
    """A part encrypted under usage A's key with a header (AAD) naming usage B must not open
    as B: the derived keys differ, not only the authenticated header."""
    target = KeyUsage.AP_REQ_AUTHENTICATOR
    header = b64u_encode(
        json.dumps(
            {"alg": "dir", "enc": "A256GCM", "kid": "1", "usage": int(target)},
            separators=(",", ":"),
        ).encode()
    )
    nonce = os.urandom(12)
    sealed = key.aead(made_for).encrypt(nonce, SECRET, header.encode())
    token = ".".join(
        (header, "", b64u_encode(nonce), b64u_encode(sealed[:-16]), b64u_encode(sealed[-16:]))
    )
    assert "tag mismatch" in refused(key, token, target)
    same_key = key.aead(target).encrypt(nonce, SECRET, header.encode())
    good = ".".join(
        (header, "", b64u_encode(nonce), b64u_encode(same_key[:-16]), b64u_encode(same_key[-16:]))
    )
    assert open_sealed(key, target, good) == SECRET


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"enc": "A128GCM"}, id="enc-A128GCM"),
        pytest.param({"enc": "A256CBC-HS512"}, id="enc-CBC"),
        pytest.param({"enc": None}, id="enc-missing"),
        pytest.param({"alg": "none"}, id="alg-none"),
        pytest.param({"alg": "A256KW"}, id="alg-A256KW"),
        pytest.param({"alg": "RSA1_5"}, id="alg-RSA1_5"),
        pytest.param({"alg": None}, id="alg-missing"),
    ],
)
def test_algorithm_downgrade_is_refused(key: Key, token: str, changes: dict[str, object]) -> None:
    assert "only alg=dir" in refused(key, with_header(token, **changes))


def test_usage_missing_or_mistyped_in_header_is_refused(key: Key, token: str) -> None:
    assert "another use" in refused(key, with_header(token, usage=None))
    assert "another use" in refused(key, with_header(token, usage=str(int(USAGE))))


# -- the Key object --------------------------------------------------------------------------


def test_key_repr_and_str_hide_material(key: Key) -> None:
    for text in (repr(key), str(key), f"{key!r}", repr([key]), repr({1: key})):
        assert key.material.hex() not in text
        assert b64u_encode(key.material) not in text
        assert repr(key.material) not in text
    assert repr(key) == "Key(kvno=1, enctype='A256GCM')"


def test_key_equality(key: Key) -> None:
    assert key == Key(key.material, 1)
    assert hash(key) == hash(Key(key.material, 1))
    assert key != Key(key.material, 2)
    assert key.with_kvno(2) == Key(key.material, 2)
    assert key != Key.generate(os.urandom, 1)
    assert key != key.material
    assert (key == "key") is False


@pytest.mark.parametrize(
    ("material", "kvno", "enctype"),
    [
        (b"\0" * (KEY_SIZE - 1), 1, "A256GCM"),
        (b"\0" * (KEY_SIZE + 1), 1, "A256GCM"),
        (b"\0" * KEY_SIZE, -1, "A256GCM"),
        (b"\0" * KEY_SIZE, 2**31, "A256GCM"),
        (b"\0" * KEY_SIZE, 1, "A128GCM"),
    ],
)
def test_key_refuses_bad_parameters(material: bytes, kvno: int, enctype: str) -> None:
    with pytest.raises(ValueError):
        Key(material, kvno, enctype)


def test_b64u_round_trip() -> None:
    for data in (b"", b"\xfb\xff", b"i", os.urandom(33)):
        assert b64u_decode(b64u_encode(data)) == data
    assert b64u_encode(b"\xfb\xff") == "-_8"


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("+_8", id="plus"),
        pytest.param("-/8", id="slash"),
        pytest.param("aQ==", id="padding"),
        pytest.param("ab", id="non-zero-trailing-bits"),
        pytest.param("a b", id="space"),
        pytest.param("\u00e9", id="non-ascii"),
        pytest.param("abcde", id="bad-length"),
    ],
)
def test_b64u_refuses_other_alphabets_and_non_canonical_text(bad: str) -> None:
    """One byte string has one encoding, so nothing keyed by the text can be dodged."""
    with pytest.raises(MalformedMessage):
        b64u_decode(bad)
