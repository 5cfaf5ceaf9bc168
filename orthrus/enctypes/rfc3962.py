"""AES encryption for Kerberos 5 (RFC 3962): aes128- and aes256-cts-hmac-sha1-96.

The RFC 3961 simplified profile with AES in CBC mode with ciphertext stealing (§5),
HMAC-SHA1 truncated to 96 bits, and string-to-key PBKDF2-HMAC-SHA1 followed by
DK(tkey, "kerberos") (§4). The AES is ``cryptography``'s; this module only arranges blocks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from orthrus.enctypes.rfc3961 import KeyBlock, SimplifiedProfile, passphrase_bytes
from orthrus.errors import MalformedMessage

__all__ = [
    "AES128_CTS_HMAC_SHA1_96",
    "AES256_CTS_HMAC_SHA1_96",
    "MAX_ITERATIONS",
    "AesCts",
    "AesCtsHmacSha1",
    "iteration_count",
]

_BLOCK = 16
_ZERO_IV = bytes(_BLOCK)
#: Iteration counts from this up are refused, as MIT does (``s2k_pbkdf2.c``): a forged
#: KDC answer must not make a client spend hours in PBKDF2 (RFC 3962 §8).
MAX_ITERATIONS = 0x1000000


class AesCts:
    """AES-CBC with ciphertext stealing from a zero IV (RFC 3962 §5, CBC-CS3) under one key.

    The key's ``Cipher`` objects are made once, here; an enctype keeps one per derived key
    (:class:`~orthrus.enctypes.rfc3961.DerivedKeys`), so a session key used for many messages
    does not set up AES again for each. Each call takes its own context (safe to share
    between threads).
    """

    __slots__ = ("_cbc", "_ecb")

    def __init__(self, key: bytes) -> None:
        aes = algorithms.AES(key)
        self._cbc = Cipher(aes, modes.CBC(_ZERO_IV))
        # ECB here is the bare block function under CBC and ciphertext stealing, each block
        # chained by hand below, never a mode messages are encrypted in.
        self._ecb = Cipher(aes, modes.ECB())  # noqa: S305

    def encrypt(self, data: bytes) -> bytes:
        """One block is plain one-block CBC (ECB). Longer input: CBC over the input
        zero-padded to whole blocks, then the last two blocks swapped and the (new) last one
        cut to the length of the final partial block. The zero padding is exactly what
        stealing XORs in. (Whole blocks in, so ``update`` gives back all of them.)"""
        if len(data) < _BLOCK:
            raise ValueError("AES-CTS encrypts at least one block")
        if len(data) == _BLOCK:
            return self._ecb.encryptor().update(data)
        tail = len(data) % _BLOCK or _BLOCK
        padded = self._cbc.encryptor().update(data + bytes(_BLOCK - tail))
        return padded[: -2 * _BLOCK] + padded[-_BLOCK:] + padded[-2 * _BLOCK : -_BLOCK][:tail]

    def feedback(self, block: bytes, count: int) -> bytes:
        """E(block), E(E(block)), ... ``count`` blocks (RFC 3961 §5.1 DR): CBC from the zero
        IV over the block and ``count - 1`` zero blocks chains exactly that, in one call."""
        return self._cbc.encryptor().update(block + bytes(_BLOCK * (count - 1)))

    def decrypt(self, data: bytes) -> bytes:
        """The inverse of :meth:`encrypt`, with one ECB context: CBC decryption is
        D(C_i) XOR C_(i-1), so every block is decrypted in one pass and XORed after.

        The second-to-last block, decrypted first, is the stolen block XOR the zero-padded
        last plaintext block: its padding positions give back the stolen octets (the real
        C_(n-1)), its first octets XOR the partial block give the last plaintext."""
        if len(data) < _BLOCK:
            raise ValueError("AES-CTS decrypts at least one block")
        context = self._ecb.decryptor()
        if len(data) == _BLOCK:
            return context.update(data)
        tail = len(data) % _BLOCK or _BLOCK
        cut = len(data) - tail - _BLOCK
        head, last_full, partial = data[:cut], data[cut : cut + _BLOCK], data[cut + _BLOCK :]
        stolen = context.update(last_full)  # P_n (zero-padded) XOR C_(n-1)
        blocks = context.update(head + partial + stolen[tail:])  # D(C_1) .. D(C_(n-1))
        chained = int.from_bytes(blocks, "big") ^ int.from_bytes(_ZERO_IV + head, "big")
        last = int.from_bytes(stolen[:tail], "big") ^ int.from_bytes(partial, "big")
        return chained.to_bytes(len(blocks), "big") + last.to_bytes(tail, "big")


def iteration_count(s2kparams: bytes | None, default: int) -> int:
    """The PBKDF2 iteration count of ``s2kparams`` (RFC 3962 §4: 4 octets big-endian;
    ``00000000`` means 2**32). Refuses anything else, and counts of :data:`MAX_ITERATIONS`
    or more, with ``KRB_ERR_GENERIC`` before any work is done."""
    if s2kparams is None:
        return default
    if len(s2kparams) != 4:
        raise MalformedMessage("s2kparams of an AES enctype are 4 octets: the iteration count")
    count = int.from_bytes(s2kparams, "big") or 2**32
    if count >= MAX_ITERATIONS:
        raise MalformedMessage(
            f"an iteration count of {count} is refused: the limit is {MAX_ITERATIONS - 1}"
        )
    return count


@dataclass(frozen=True)
class AesCtsHmacSha1(SimplifiedProfile):
    """aes{128,256}-cts-hmac-sha1-96 (RFC 3962 §6)."""

    def _cipher(self, key: bytes) -> AesCts:
        return AesCts(key)

    def string_to_key(self, password: str, salt: bytes, s2kparams: bytes | None = None) -> KeyBlock:
        """RFC 3962 §4: DK(PBKDF2-HMAC-SHA1(password, salt, iterations, key size),
        "kerberos"); the default count is 4096 (``00001000``)."""
        iterations = iteration_count(s2kparams, self.default_iterations)
        tkey = hashlib.pbkdf2_hmac(
            "sha1", passphrase_bytes(password), salt, iterations, self.key_size
        )
        return KeyBlock(self.number, self.dk(tkey, b"kerberos"))


def _aes_sha1(number: int, bits: int, checksum_type: int) -> AesCtsHmacSha1:
    return AesCtsHmacSha1(
        number=number,
        name=f"aes{bits}-cts-hmac-sha1-96",
        key_size=bits // 8,
        checksum_type=checksum_type,
        checksum_name=f"hmac-sha1-96-aes{bits}",
        mac_size=12,
        hash_name="sha1",
        prf_size=16,
        default_iterations=4096,
    )


#: RFC 3962 §7: enctypes 17 and 18, checksum types 15 and 16.
AES128_CTS_HMAC_SHA1_96 = _aes_sha1(17, 128, 15)
AES256_CTS_HMAC_SHA1_96 = _aes_sha1(18, 256, 16)
