"""Kerberos encryption types: RFC 3961's framework, RFC 3962's and RFC 8009's AES types.

One module per RFC, in authlib's manner: :mod:`.rfc3961` (keys, n-fold, DK, the simplified
profile), :mod:`.rfc3962` (AES-CTS, HMAC-SHA1-96, PBKDF2-HMAC-SHA1), :mod:`.rfc8009`
(HMAC-SHA2, KDF-HMAC-SHA2, PBKDF2-HMAC-SHA2), :mod:`.registry` (numbers and names).
Sans-IO: the caller passes each confounder (``os.urandom(16)`` at the edge).

    e = enctype(18)
    key = e.string_to_key("pass phrase", b"EXAMPLE.TESTalice")
    sealed = e.encrypt(key, KeyUsage.TICKET, plaintext, os.urandom(e.confounder_size))
    e.decrypt(key, KeyUsage.TICKET, sealed) == plaintext
"""

from orthrus.enctypes.registry import (
    CHECKSUM_TYPES,
    ENCTYPES,
    ChecksumType,
    UnsupportedChecksumType,
    UnsupportedEnctype,
    checksum_type,
    enctype,
)
from orthrus.enctypes.rfc3961 import DerivedKeys, Enctype, IntegrityError, KeyBlock

__all__ = [
    "CHECKSUM_TYPES",
    "ENCTYPES",
    "ChecksumType",
    "DerivedKeys",
    "Enctype",
    "IntegrityError",
    "KeyBlock",
    "UnsupportedChecksumType",
    "UnsupportedEnctype",
    "checksum_type",
    "enctype",
]
