"""The one place that encrypts: JWE compact serialization, ``dir`` + ``A256GCM``.

Implements RFC 7516 §3.1 / §5.1 with direct key agreement (RFC 7518 §4.5) and AES-256-GCM
(RFC 7518 §5.3). The protected header names the key version (``kid``) and the key usage
(``usage``, RFC 4120 §7.5.1), and is the AEAD's associated data, so neither can be changed.
The content key is the usage-derived key of :meth:`orthrus.keys.Key.aead`, so a standard JOSE
library given that derived key can decrypt any part. Only this module touches AES-GCM.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag

from orthrus.b64 import b64u_decode, b64u_encode
from orthrus.errors import APError, MalformedMessage
from orthrus.keys import ENCTYPE, Entropy, Key, KeyUsage

__all__ = [
    "MAX_SEALED_LENGTH",
    "SealedHeader",
    "open_sealed",
    "open_sealed_tagged",
    "peek_header",
    "seal",
]

MAX_SEALED_LENGTH = 64 * 1024
_NONCE_SIZE = 12
_NONCE_TEXT = 16  # base64url characters of a 12-byte nonce
#: Longer header segments are not cached (an attacker could fill the cache with big ones).
_CACHED_HEADER_LENGTH = 512
_TAG_SIZE = 16

SealedHeader = dict[str, Any]


@lru_cache(maxsize=4096)
def _encoded_header(kvno: int, usage: int, context: str | None) -> bytes:
    header: dict[str, Any] = {"alg": "dir", "enc": ENCTYPE, "kid": str(kvno), "usage": usage}
    if context is not None:
        header["ctx"] = context
    return b64u_encode(json.dumps(header, separators=(",", ":")).encode()).encode("ascii")


def seal(
    key: Key, usage: KeyUsage, plaintext: bytes, entropy: Entropy, context: str | None = None
) -> str:
    """Encrypt ``plaintext`` for ``usage`` under ``key``; ``context`` binds extra public data."""
    header = _encoded_header(key.kvno, int(usage), context)
    nonce = entropy(_NONCE_SIZE)
    sealed = key.aead(usage).encrypt(nonce, plaintext, header)
    return ".".join(
        (
            header.decode("ascii"),
            "",
            b64u_encode(nonce),
            b64u_encode(sealed[:-_TAG_SIZE]),
            b64u_encode(sealed[-_TAG_SIZE:]),
        )
    )


def _modified(what: str) -> APError:
    return APError(
        "KRB_AP_ERR_MODIFIED",
        f"{what}: the encrypted part was altered, truncated or made for another key or use",
    )


def peek_header(token: str) -> SealedHeader:
    """The protected header, unauthenticated: use it only to pick a key by ``kid``."""
    return dict(_header(_segments(token)[0]))


def _segments(token: str) -> list[str]:
    if not isinstance(token, str) or len(token) > MAX_SEALED_LENGTH:
        raise MalformedMessage(
            f"an encrypted part is a string of at most {MAX_SEALED_LENGTH} chars"
        )
    parts = token.split(".")
    if len(parts) != 5:
        raise _modified("not a JWE compact token")
    return parts


def _header(segment: str) -> SealedHeader:
    """The decoded header segment. The same few headers (kvno, usage, context) come back on
    every request, so each short one is decoded once; callers must not change the dict."""
    if len(segment) > _CACHED_HEADER_LENGTH:
        return _decode_header(segment)
    return _cached_header(segment)


def _decode_header(segment: str) -> SealedHeader:
    try:
        header = json.loads(b64u_decode(segment))
    except (ValueError, RecursionError, MalformedMessage) as exc:  # Recursion: deep nesting
        raise _modified("unreadable JWE header") from exc
    if not isinstance(header, dict):
        raise _modified("unreadable JWE header")
    return header


_cached_header = lru_cache(maxsize=1024)(_decode_header)


def open_sealed(key: Key, usage: KeyUsage, token: str, context: str | None = None) -> bytes:
    """Decrypt a part made by :func:`seal` for exactly this key, usage and context.

    Raises ``KRB_AP_ERR_MODIFIED`` for anything that does not decrypt and authenticate,
    including a header naming another algorithm (no downgrade) or another usage.
    """
    return open_sealed_tagged(key, usage, token, context)[0]


def open_sealed_tagged(
    key: Key, usage: KeyUsage, token: str, context: str | None = None
) -> tuple[bytes, bytes]:
    """:func:`open_sealed`, and the 16-octet authentication tag it checked: the tag names the
    ciphertext (what a replay cache remembers of an authenticator, RFC 4120 §3.2.3), here
    without decoding it a second time."""
    header_b64, encrypted_key, nonce_b64, ciphertext_b64, tag_b64 = _segments(token)
    header = _header(header_b64)
    if header.get("alg") != "dir" or header.get("enc") != ENCTYPE:
        raise _modified(f"only alg=dir, enc={ENCTYPE} is accepted")
    if header.get("usage") != int(usage) or header.get("ctx") != context:
        raise _modified(f"this part was made for another use than {usage.name}")
    if encrypted_key:
        raise _modified("alg=dir carries no encrypted key")
    if len(nonce_b64) != _NONCE_TEXT:
        raise _modified("wrong nonce or tag size")
    try:
        # The nonce's text is whole groups of four characters, so it decodes together with
        # the ciphertext's (the same bytes, the same canonical-form check).
        nonce_and_ciphertext = b64u_decode(nonce_b64 + ciphertext_b64)
        tag = b64u_decode(tag_b64)
    except MalformedMessage as exc:
        raise _modified("bad base64url in the encrypted part") from exc
    if len(tag) != _TAG_SIZE:
        raise _modified("wrong nonce or tag size")
    nonce, body = nonce_and_ciphertext[:_NONCE_SIZE], nonce_and_ciphertext[_NONCE_SIZE:] + tag
    try:
        return key.aead(usage).decrypt(nonce, body, header_b64.encode("ascii")), tag
    except InvalidTag as exc:
        raise _modified("authentication tag mismatch") from exc
