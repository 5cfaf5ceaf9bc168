"""AES encryption with HMAC-SHA2 for Kerberos 5 (RFC 8009).

aes128-cts-hmac-sha256-128 (19) and aes256-cts-hmac-sha384-192 (20): AES-CTS as in RFC 3962,
but keys derived with KDF-HMAC-SHA2 (NIST SP 800-108 counter mode, ``cryptography``'s
KBKDFHMAC), encrypt-then-MAC over the IV and ciphertext, and string-to-key
PBKDF2-HMAC-SHA2 with the enctype's name in the salt (§4).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFHMAC, CounterLocation, Mode

from orthrus.enctypes.rfc3961 import (
    KC,
    KE,
    KI,
    DerivedKeys,
    Enctype,
    KeyBlock,
    check_mac,
    passphrase_bytes,
    usage_constant,
)
from orthrus.enctypes.rfc3962 import AesCts, iteration_count

__all__ = [
    "AES128_CTS_HMAC_SHA256_128",
    "AES256_CTS_HMAC_SHA384_192",
    "AesCtsHmacSha2",
]

#: The cipher state Kerberos messages start from (RFC 8009 §5: the IV is part of the MAC).
_ZERO_IV = bytes(16)
_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
}


@dataclass(frozen=True)
class AesCtsHmacSha2(Enctype):
    """aes128-cts-hmac-sha256-128 and aes256-cts-hmac-sha384-192 (RFC 8009 §5)."""

    #: Octets of Kc and Ki (128 or 192 bits); Ke is the key size.
    mac_key_size: int = 16

    def kdf(self, key: bytes, label: bytes, size: int, context: bytes = b"") -> bytes:
        """KDF-HMAC-SHA2(key, label, [context,] k) of RFC 8009 §3: the first ``size`` octets
        of HMAC(key, 00000001 | label | 00 | context | k), ``k`` in bits, 4 octets."""
        return KBKDFHMAC(
            algorithm=_HASHES[self.hash_name](),
            mode=Mode.CounterMode,
            length=size,
            rlen=4,
            llen=4,
            location=CounterLocation.BeforeFixed,
            label=label,
            context=context,
            fixed=None,
        ).derive(key)

    def _derive(self, material: bytes, usage: int) -> DerivedKeys:
        ke = self.kdf(material, usage_constant(usage, KE), self.key_size)
        return DerivedKeys(
            ke=ke,
            ki=self.kdf(material, usage_constant(usage, KI), self.mac_key_size),
            cipher=AesCts(ke),
        )

    def _derive_checksum_key(self, material: bytes, usage: int) -> bytes:
        return self.kdf(material, usage_constant(usage, KC), self.mac_key_size)

    def string_to_key(self, password: str, salt: bytes, s2kparams: bytes | None = None) -> KeyBlock:
        """RFC 8009 §4: KDF-HMAC-SHA2(PBKDF2-HMAC-SHA2(password, name | 00 | salt,
        iterations, key size), "kerberos"); the default count is 32768 (``00008000``)."""
        iterations = iteration_count(s2kparams, self.default_iterations)
        saltp = self.name.encode("ascii") + b"\0" + salt
        tkey = hashlib.pbkdf2_hmac(
            self.hash_name, passphrase_bytes(password), saltp, iterations, self.key_size
        )
        return KeyBlock(self.number, self.kdf(tkey, b"kerberos", self.key_size))

    def encrypt(self, key: KeyBlock, usage: int, plaintext: bytes, confounder: bytes) -> bytes:
        """RFC 8009 §5: C = E(Ke, N | plaintext, IV); C | HMAC(Ki, IV | C)[1..h]."""
        self._check_confounder(confounder)
        keys = self.derive(key, usage)
        body = keys.cipher.encrypt(confounder + plaintext)
        return body + self._mac(keys.ki, _ZERO_IV + body)

    def decrypt(self, key: KeyBlock, usage: int, ciphertext: bytes) -> bytes:
        """RFC 8009 §5: the MAC is checked first; only authenticated data is decrypted."""
        keys = self.derive(key, usage)
        body, mac = self._split(ciphertext)
        check_mac(self._mac(keys.ki, _ZERO_IV + body), mac)
        return keys.cipher.decrypt(body)[self.confounder_size :]

    def prf(self, key: KeyBlock, data: bytes) -> bytes:
        """RFC 8009 §5: KDF-HMAC-SHA2(key, "prf", data, 256 or 384 bits)."""
        self._check_key(key)
        return self.kdf(key.material, b"prf", self.prf_size, context=data)


#: RFC 8009 §7: enctypes 19 and 20, checksum types 19 and 20.
AES128_CTS_HMAC_SHA256_128 = AesCtsHmacSha2(
    number=19,
    name="aes128-cts-hmac-sha256-128",
    key_size=16,
    checksum_type=19,
    checksum_name="hmac-sha256-128-aes128",
    mac_size=16,
    hash_name="sha256",
    prf_size=32,
    default_iterations=32768,
    mac_key_size=16,
)
AES256_CTS_HMAC_SHA384_192 = AesCtsHmacSha2(
    number=20,
    name="aes256-cts-hmac-sha384-192",
    key_size=32,
    checksum_type=20,
    checksum_name="hmac-sha384-192-aes256",
    mac_size=24,
    hash_name="sha384",
    prf_size=48,
    default_iterations=32768,
    mac_key_size=24,
)
