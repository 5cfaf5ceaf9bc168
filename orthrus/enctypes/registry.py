"""The encryption types and checksum types Orthrus speaks, by number and by name.

As MIT's ``etypes.c``/``cksumtypes.c`` and pyjwt's algorithm table: a peer names an enctype
(RFC 4120 §7.5.8 / RFC 3961 §8 numbers) and the registry answers with its implementation,
or with ``KDC_ERR_ETYPE_NOSUPP`` (14). Only the AES types of RFC 3962 and RFC 8009 are here:
DES, triple DES, RC4 and the export variants are deprecated or broken (RFC 6649, RFC 8429)
and answer ``ETYPE_NOSUPP`` like any unknown number, so no peer can downgrade to them.
The JSON dialect's JOSE ``A256GCM`` scheme is :mod:`orthrus.seal` and is not listed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from orthrus.enctypes.rfc3961 import Enctype
from orthrus.enctypes.rfc3962 import AES128_CTS_HMAC_SHA1_96, AES256_CTS_HMAC_SHA1_96
from orthrus.enctypes.rfc8009 import AES128_CTS_HMAC_SHA256_128, AES256_CTS_HMAC_SHA384_192
from orthrus.errors import KDCError

__all__ = [
    "CHECKSUM_TYPES",
    "ENCTYPES",
    "ChecksumType",
    "UnsupportedChecksumType",
    "UnsupportedEnctype",
    "checksum_type",
    "enctype",
]

#: Strongest first: the order a KDC prefers them in.
ENCTYPES: Mapping[int, Enctype] = MappingProxyType(
    {
        e.number: e
        for e in (
            AES256_CTS_HMAC_SHA384_192,
            AES128_CTS_HMAC_SHA256_128,
            AES256_CTS_HMAC_SHA1_96,
            AES128_CTS_HMAC_SHA1_96,
        )
    }
)
_BY_NAME: Mapping[str, Enctype] = MappingProxyType({e.name: e for e in ENCTYPES.values()})


@dataclass(frozen=True)
class ChecksumType:
    """A keyed checksum type (RFC 3961 §4) and the enctype whose Kc computes it."""

    number: int
    name: str
    enctype: Enctype

    @property
    def size(self) -> int:
        """Octets of the checksum."""
        return self.enctype.mac_size


CHECKSUM_TYPES: Mapping[int, ChecksumType] = MappingProxyType(
    {e.checksum_type: ChecksumType(e.checksum_type, e.checksum_name, e) for e in ENCTYPES.values()}
)


class UnsupportedEnctype(KDCError):
    """An encryption type Orthrus does not implement: ``KDC_ERR_ETYPE_NOSUPP`` (14)."""

    def __init__(self, which: int | str) -> None:
        supported = ", ".join(f"{e.number} ({e.name})" for e in ENCTYPES.values())
        super().__init__(
            "KDC_ERR_ETYPE_NOSUPP",
            f"encryption type {which!r:.40} is not supported; use one of {supported}",
        )


class UnsupportedChecksumType(KDCError):
    """A checksum type Orthrus does not implement (unkeyed CRC32/MD5/SHA1, DES-based and
    unknown ones): ``KDC_ERR_SUMTYPE_NOSUPP`` (15)."""

    def __init__(self, number: int) -> None:
        supported = ", ".join(f"{c.number} ({c.name})" for c in CHECKSUM_TYPES.values())
        super().__init__(
            "KDC_ERR_SUMTYPE_NOSUPP",
            f"checksum type {number!r} is not supported; use one of {supported}",
        )


def enctype(which: int | str) -> Enctype:
    """The enctype of this number (e.g. 18) or name (e.g. ``aes256-cts-hmac-sha1-96``,
    any case); :class:`UnsupportedEnctype` for anything else."""
    found = ENCTYPES.get(which) if isinstance(which, int) else _BY_NAME.get(which.lower())
    if found is None:
        raise UnsupportedEnctype(which)
    return found


def checksum_type(number: int) -> ChecksumType:
    """The checksum type of this number; :class:`UnsupportedChecksumType` otherwise."""
    found = CHECKSUM_TYPES.get(number)
    if found is None:
        raise UnsupportedChecksumType(number)
    return found
