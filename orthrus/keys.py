"""Keys with version numbers and key-usage separation (RFC 4120 §7.5.1, RFC 3961 §5.3).

A :class:`Key` holds 32 bytes of key material for AES-256-GCM and its key version number
(kvno). It never uses its material directly: each key usage gets its own key derived with
HKDF-SHA256, so a ciphertext made for one place (say, an AP authenticator) cannot be opened
in another (a TGS authenticator), even under the same session key. The material stays out of
``repr()``; use :attr:`Key.material` only to store or export the key.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from enum import IntEnum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["ENCTYPE", "KEY_SIZE", "Entropy", "Key", "KeyUsage"]

ENCTYPE = "A256GCM"
KEY_SIZE = 32

#: A source of random bytes, passed in so that the core does no I/O (``os.urandom`` at the edge).
Entropy = Callable[[int], bytes]


class KeyUsage(IntEnum):
    """Where a key is used; numbers follow RFC 4120 §7.5.1, Orthrus's own start at 1024."""

    AS_REQ_PA_ENC_TIMESTAMP = 1
    TICKET = 2
    AS_REP_ENC_PART = 3
    TGS_REQ_AUTH_CHECKSUM = 6
    TGS_REQ_AUTHENTICATOR = 7
    TGS_REP_ENC_PART_SESSKEY = 8
    TGS_REP_ENC_PART_SUBKEY = 9
    AP_REQ_AUTHENTICATOR = 11
    AP_REP_ENC_PART = 12
    KRB_PRIV_ENC_PART = 13
    KRB_CRED_ENC_PART = 14
    MASTER_KEY_WRAP = 1024
    SESSION_TOKEN = 1025
    SESSION_PROOF = 1026
    AS_REQ_PA_OTP = 1027
    #: A cross-realm trust key on its way to the other realm's KDC (kdc.trust), sealed under
    #: a one-time transfer key.
    TRUST_KEY_TRANSFER = 1040


class Key:
    """A symmetric key: material, kvno and enctype, with per-usage derived AEADs cached."""

    __slots__ = ("_aeads", "_material", "enctype", "kvno")

    def __init__(self, material: bytes, kvno: int = 0, enctype: str = ENCTYPE) -> None:
        if enctype != ENCTYPE:
            raise ValueError(f"unsupported enctype {enctype!r}; Orthrus uses {ENCTYPE}")
        if len(material) != KEY_SIZE:
            raise ValueError(f"an {ENCTYPE} key is {KEY_SIZE} bytes")
        if not 0 <= kvno < 2**31:
            raise ValueError("kvno must be between 0 and 2**31 - 1")
        self._material = bytes(material)
        self.kvno = kvno
        self.enctype = enctype
        self._aeads: dict[int, AESGCM] = {}

    @classmethod
    def generate(cls, entropy: Entropy, kvno: int = 0) -> Key:
        """A new random key (service, krbtgt and session keys)."""
        return cls(entropy(KEY_SIZE), kvno)

    @property
    def material(self) -> bytes:
        """The raw key bytes, for storage and export only."""
        return self._material

    def aead(self, usage: KeyUsage) -> AESGCM:
        """The AEAD keyed for ``usage``: HKDF-SHA256(material, info="orthrus/usage/N")."""
        aead = self._aeads.get(usage)
        if aead is None:
            derived = HKDF(
                algorithm=hashes.SHA256(),
                length=KEY_SIZE,
                salt=None,
                info=b"orthrus/usage/%d" % usage,
            ).derive(self._material)
            aead = self._aeads[usage] = AESGCM(derived)
        return aead

    def with_kvno(self, kvno: int) -> Key:
        """The same material under another key version number."""
        return Key(self._material, kvno, self.enctype)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Key):
            return NotImplemented
        return (
            self.kvno == other.kvno
            and self.enctype == other.enctype
            and hmac.compare_digest(self._material, other._material)
        )

    def __hash__(self) -> int:
        return hash((self.kvno, self.enctype))

    def __repr__(self) -> str:
        return f"Key(kvno={self.kvno}, enctype={self.enctype!r})"
