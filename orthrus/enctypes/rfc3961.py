"""The encryption-type framework of RFC 3961: keys, n-fold, key derivation, the simplified profile.

RFC 3961 §3 lists what an encryption type provides: string-to-key, random-to-key, key
derivation per key usage, encrypt/decrypt with integrity, a keyed checksum and a
pseudo-random function. :class:`Enctype` is that interface with the parts every
AES-based type shares (keys, derived-key cache, checksums, the length and MAC checks);
:class:`SimplifiedProfile` is RFC 3961 §5.3's construction on top of a block cipher, which
RFC 3962 instantiates with AES-CTS and HMAC-SHA1 (:mod:`orthrus.enctypes.rfc3962`).

Sans-IO: confounders are passed in (``os.urandom`` at the edge), nothing reads a clock.
"""

from __future__ import annotations

import hashlib
import hmac
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from math import gcd
from typing import Protocol, TypeVar

from orthrus.errors import APError, MalformedMessage

__all__ = [
    "KC",
    "KE",
    "KI",
    "BlockCipher",
    "DerivedKeys",
    "Enctype",
    "IntegrityError",
    "KeyBlock",
    "SimplifiedProfile",
    "check_mac",
    "nfold",
    "passphrase_bytes",
    "usage_constant",
]

#: The last octet of a key-derivation constant (RFC 3961 §5.3; RFC 8009 §5 reuses them):
#: checksum key Kc, encryption key Ke, integrity key Ki.
KC, KE, KI = 0x99, 0xAA, 0x55


class IntegrityError(APError):
    """A ciphertext or checksum that does not verify: ``KRB_AP_ERR_BAD_INTEGRITY`` (31).

    One error, one sentence, whatever failed (length, MAC, key, usage): the peer learns
    nothing about which check refused it.
    """

    def __init__(self) -> None:
        super().__init__(
            "KRB_AP_ERR_BAD_INTEGRITY",
            "integrity check failed: the data was altered or truncated, or made with another "
            "key or key usage",
        )


class BlockCipher(Protocol):
    """An enctype's cipher under one key, from the initial cipher state: RFC 3961 §5.3's
    E and D (AES-CTS for the AES types, :class:`~orthrus.enctypes.rfc3962.AesCts`)."""

    def encrypt(self, data: bytes) -> bytes:
        """E(key, data, initial-cipher-state)."""
        ...

    def decrypt(self, data: bytes) -> bytes:
        """D(key, data, initial-cipher-state)."""
        ...

    def feedback(self, block: bytes, count: int) -> bytes:
        """``count`` blocks: E(block), then E of each block before (RFC 3961 §5.1 DR)."""
        ...


@dataclass(frozen=True)
class DerivedKeys:
    """The keys that encrypt under a base key for one key usage (RFC 3961 §5.3): Ke, Ki, and
    ``cipher``, the cipher keyed with Ke (set up once, with the keys it is cached with).

    The checksum key Kc is derived apart (:meth:`Enctype.checksum_key`): a usage either
    encrypts or checksums, and a fresh session key or subkey is used once for one of them.
    """

    ke: bytes = field(repr=False)
    ki: bytes = field(repr=False)
    cipher: BlockCipher = field(repr=False, compare=False)


@dataclass(frozen=True, eq=False)
class KeyBlock:
    """A protocol key of one encryption type (RFC 3961 §3, MIT's ``krb5_keyblock``).

    The material stays out of ``repr()``. Keys derived per usage are cached on the key
    itself (the core keeps no global cache), so a ticket key used a thousand times is
    derived once per usage.
    """

    enctype: int
    material: bytes = field(repr=False)
    _derived: dict[int, DerivedKeys] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _checksum_keys: dict[int, bytes] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def derived(self, usage: int, derive: Callable[[bytes, int], DerivedKeys]) -> DerivedKeys:
        """The encryption keys for ``usage``, made by ``derive(material, usage)`` the first
        time."""
        return _cached(self._derived, usage, self.material, derive)

    def checksum_key(self, usage: int, derive: Callable[[bytes, int], bytes]) -> bytes:
        """Kc for ``usage``, made by ``derive(material, usage)`` the first time."""
        return _cached(self._checksum_keys, usage, self.material, derive)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyBlock):
            return NotImplemented
        return self.enctype == other.enctype and hmac.compare_digest(self.material, other.material)

    def __hash__(self) -> int:
        return hash(self.enctype)


_V = TypeVar("_V")


def _cached(
    cache: dict[int, _V], usage: int, material: bytes, derive: Callable[[bytes, int], _V]
) -> _V:
    value = cache.get(usage)
    if value is None:
        # Two threads may both derive: the same value, stored twice; no lock needed.
        value = cache[usage] = derive(material, usage)
    return value


@lru_cache(maxsize=256)
def nfold(data: bytes, size: int) -> bytes:
    """RFC 3961 §5.1 n-fold: stretch or shrink ``data`` to ``size`` octets.

    Copies of the input, each rotated 13 bits right from the one before, are laid end to
    end up to the least common multiple of the two lengths, cut into ``size``-octet
    pieces, and added with ones'-complement (end-around carry) addition. Its inputs are
    derivation constants, so results are kept (a few hundred at most).
    """
    if not data or size < 1:
        raise ValueError("n-fold takes at least one octet, to at least one octet")
    bits = len(data) * 8
    value = int.from_bytes(data, "big")
    mask = (1 << bits) - 1
    total_bytes = len(data) * size // gcd(len(data), size)
    stream = 0
    for i in range(total_bytes // len(data)):
        shift = (13 * i) % bits
        rotated = ((value >> shift) | (value << (bits - shift))) & mask
        stream = (stream << bits) | rotated
    out_bits = size * 8
    out_mask = (1 << out_bits) - 1
    total = 0
    while stream:
        total += stream & out_mask
        stream >>= out_bits
    while total > out_mask:
        total = (total & out_mask) + (total >> out_bits)
    return total.to_bytes(size, "big")


def usage_constant(usage: int, kind: int) -> bytes:
    """The derivation constant of a key usage: the usage as 4 octets big-endian, then
    ``kind`` (:data:`KC`, :data:`KE` or :data:`KI`), RFC 3961 §5.3 and RFC 8009 §5."""
    if not 0 <= usage < 2**32:
        raise ValueError("a key usage is an unsigned 32-bit number")
    return usage.to_bytes(4, "big") + bytes((kind,))


def check_mac(expected: bytes, received: bytes) -> None:
    """Compare MACs in constant time; :class:`IntegrityError` if they differ."""
    if not hmac.compare_digest(expected, received):
        raise IntegrityError()


def passphrase_bytes(password: str) -> bytes:
    """A pass phrase as string-to-key takes it: UTF-8 (RFC 3961 §3, RFC 4120 §6.1)."""
    try:
        return password.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates, e.g. from undecodable input
        raise MalformedMessage("the password is not valid Unicode text") from exc


@dataclass(frozen=True)
class Enctype(ABC):
    """An encryption type and its checksum type (RFC 3961 §3 and §4).

    Every operation takes the key usage (RFC 4120 §7.5.1) where the RFC does, and the
    random confounder from the caller. Keys of another enctype are a programming error
    (``ValueError``); anything a peer can send fails with a :class:`ProtocolError`.
    """

    number: int
    name: str
    key_size: int
    checksum_type: int
    checksum_name: str
    #: ``h``: octets of the MAC appended to a ciphertext, and of a checksum.
    mac_size: int
    #: The hash of the HMACs, the PBKDF2 and (RFC 3961 profile) the PRF, by hashlib name.
    hash_name: str
    prf_size: int
    #: RFC 3962 §4 / RFC 8009 §4: the iteration count when ``s2kparams`` is absent.
    default_iterations: int
    confounder_size: int = 16

    @property
    def default_s2kparams(self) -> bytes:
        """The default ``s2kparams``: the iteration count, 4 octets big-endian."""
        return self.default_iterations.to_bytes(4, "big")

    def random_to_key(self, seed: bytes) -> KeyBlock:
        """random-to-key (RFC 3962 §6, RFC 8009 §5: the identity on ``key_size`` octets).

        Raises ``KRB_ERR_GENERIC`` for a seed of the wrong size (key values come from peers).
        """
        if len(seed) != self.key_size:
            raise MalformedMessage(f"a key of {self.name} is {self.key_size} octets")
        return KeyBlock(self.number, bytes(seed))

    def derive(self, key: KeyBlock, usage: int) -> DerivedKeys:
        """Ke and Ki of ``key`` for ``usage`` (cached on the key)."""
        self._check_key(key)
        return key.derived(usage, self._derive)

    def checksum_key(self, key: KeyBlock, usage: int) -> bytes:
        """Kc of ``key`` for ``usage`` (cached on the key)."""
        self._check_key(key)
        return key.checksum_key(usage, self._derive_checksum_key)

    def checksum(self, key: KeyBlock, usage: int, data: bytes) -> bytes:
        """The keyed checksum of ``data``: HMAC(Kc, data) truncated to ``mac_size``
        (RFC 3961 §5.4 get_mic; RFC 8009 §5 uses the same shape)."""
        return self._mac(self.checksum_key(key, usage), data)

    def verify_checksum(self, key: KeyBlock, usage: int, data: bytes, checksum: bytes) -> None:
        """Check a checksum made by :meth:`checksum`; :class:`IntegrityError` if wrong."""
        check_mac(self.checksum(key, usage, data), checksum)

    def _mac(self, key: bytes, data: bytes) -> bytes:
        return hmac.digest(key, data, self.hash_name)[: self.mac_size]

    def _check_key(self, key: KeyBlock) -> None:
        if key.enctype != self.number or len(key.material) != self.key_size:
            raise ValueError(f"a key of enctype {key.enctype} used with {self.name}")

    def _check_confounder(self, confounder: bytes) -> None:
        if len(confounder) != self.confounder_size:
            raise ValueError(f"{self.name} takes a {self.confounder_size}-octet confounder")

    def _split(self, ciphertext: bytes) -> tuple[bytes, bytes]:
        """(encrypted part, MAC); too short to hold a confounder and a MAC is refused here,
        before any cipher sees it."""
        if len(ciphertext) < self.confounder_size + self.mac_size:
            raise IntegrityError()
        return ciphertext[: -self.mac_size], ciphertext[-self.mac_size :]

    @abstractmethod
    def _derive(self, material: bytes, usage: int) -> DerivedKeys:
        """Ke and Ki for ``usage``, uncached."""

    @abstractmethod
    def _derive_checksum_key(self, material: bytes, usage: int) -> bytes:
        """Kc for ``usage``, uncached."""

    @abstractmethod
    def string_to_key(self, password: str, salt: bytes, s2kparams: bytes | None = None) -> KeyBlock:
        """The long-term key of a pass phrase (RFC 3961 §3 string-to-key)."""

    @abstractmethod
    def encrypt(self, key: KeyBlock, usage: int, plaintext: bytes, confounder: bytes) -> bytes:
        """Encrypt with integrity under the keys of ``usage``; ``confounder`` is random."""

    @abstractmethod
    def decrypt(self, key: KeyBlock, usage: int, ciphertext: bytes) -> bytes:
        """The plaintext of :meth:`encrypt`'s output; :class:`IntegrityError` otherwise."""

    @abstractmethod
    def prf(self, key: KeyBlock, data: bytes) -> bytes:
        """The pseudo-random function of RFC 3961 §3 (``prf_size`` octets)."""


@dataclass(frozen=True)
class SimplifiedProfile(Enctype):
    """RFC 3961 §5.3: DK key derivation, encrypt-and-MAC over the plaintext, DK-based PRF.

    A subclass gives the cipher ``E``/``D`` (from the initial cipher state) and
    string-to-key; the rest is here.
    """

    block_size: int = 16

    @abstractmethod
    def _cipher(self, key: bytes) -> BlockCipher:
        """E and D under ``key``."""

    def dr(self, key: bytes, constant: bytes) -> bytes:
        """DR(Key, Constant) of RFC 3961 §5.1: the constant n-folded to one block, encrypted
        again and again, the blocks concatenated and cut to the key-generation seed length."""
        return self._dk(self._cipher(key), constant)

    def dk(self, key: bytes, constant: bytes) -> bytes:
        """DK(Key, Constant) = random-to-key(DR(Key, Constant)); random-to-key is the
        identity for the AES types (RFC 3962 §6)."""
        return self.dr(key, constant)

    def _dk(self, base: BlockCipher, constant: bytes) -> bytes:
        """DK (= DR, see :meth:`dk`) with the base key's cipher already set up."""
        blocks = -(-self.key_size // self.block_size)
        return base.feedback(nfold(constant, self.block_size), blocks)[: self.key_size]

    def _derive(self, material: bytes, usage: int) -> DerivedKeys:
        base = self._cipher(material)
        ke = self._dk(base, usage_constant(usage, KE))
        return DerivedKeys(
            ke=ke, ki=self._dk(base, usage_constant(usage, KI)), cipher=self._cipher(ke)
        )

    def _derive_checksum_key(self, material: bytes, usage: int) -> bytes:
        return self.dk(material, usage_constant(usage, KC))

    def encrypt(self, key: KeyBlock, usage: int, plaintext: bytes, confounder: bytes) -> bytes:
        """RFC 3961 §5.3: E(Ke, conf | plaintext) | HMAC(Ki, conf | plaintext)[1..h].

        The message block size is 1 octet for the AES types, so there is no padding.
        """
        self._check_confounder(confounder)
        keys = self.derive(key, usage)
        data = confounder + plaintext
        return keys.cipher.encrypt(data) + self._mac(keys.ki, data)

    def decrypt(self, key: KeyBlock, usage: int, ciphertext: bytes) -> bytes:
        """RFC 3961 §5.3 decryption: the MAC is over the decrypted data."""
        keys = self.derive(key, usage)
        body, mac = self._split(ciphertext)
        data = keys.cipher.decrypt(body)
        check_mac(self._mac(keys.ki, data), mac)
        return data[self.confounder_size :]

    def prf(self, key: KeyBlock, data: bytes) -> bytes:
        """RFC 3961 §5.3: E(DK(key, "prf"), H(data) cut to whole blocks).

        The RFC says "a multiple of m" (1 octet for AES); implementations cut to whole
        cipher blocks (MIT ``prf_dk.c``, Heimdal), giving 16 octets, and the published
        vectors agree, so this does too.
        """
        self._check_key(key)
        digest = hashlib.new(self.hash_name, data).digest()
        whole = len(digest) // self.block_size * self.block_size
        return self._cipher(self.dk(key.material, b"prf")).encrypt(digest[:whole])
