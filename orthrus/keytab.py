"""The keytab format: a service's long-term keys by principal and kvno, as JSON.

Plays the role of MIT's keytab file (one entry per principal, kvno and enctype). Only the
format is here; reading and writing files (mode 0600) is the callers' job.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from orthrus.codec import decode, encode
from orthrus.errors import MalformedMessage
from orthrus.keys import KEY_SIZE, Key
from orthrus.messages import Kvno
from orthrus.mitkeytab import is_mit_keytab
from orthrus.principal import Principal

__all__ = ["Keytab", "KeytabEntry"]


class KeytabEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One key of one principal."""

    principal: Principal
    kvno: Kvno
    key: Annotated[bytes, msgspec.Meta(min_length=KEY_SIZE, max_length=KEY_SIZE)]
    enctype: Literal["A256GCM"] = "A256GCM"

    def to_key(self) -> Key:
        return Key(self.key, self.kvno, self.enctype)

    def __repr__(self) -> str:
        return f"KeytabEntry(principal={self.principal!r}, kvno={self.kvno})"


class Keytab(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Keys of one or more principals, plus the KDC's public signing keys (a JWKS)."""

    format: Literal["orthrus-keytab/1"] = "orthrus-keytab/1"
    entries: list[KeytabEntry] = []
    kdc_jwks: dict[str, Any] | None = None

    @classmethod
    def from_bytes(cls, data: bytes) -> Keytab:
        if is_mit_keytab(data):
            raise MalformedMessage(
                "this is an MIT keytab (from ktadd --format mit, ktutil or kadmin), not an "
                "Orthrus one; export the Orthrus keytab with 'orthrus-kdc ktadd -k FILE "
                "SERVICE' (without --format mit)"
            )
        return decode(data, cls)

    def to_bytes(self) -> bytes:
        return encode(self) + b"\n"

    def keys_by_principal(self) -> dict[Principal, dict[int, Key]]:
        """Every principal's keys by kvno."""
        table: dict[Principal, dict[int, Key]] = {}
        for entry in self.entries:
            table.setdefault(entry.principal, {})[entry.kvno] = entry.to_key()
        return table

    def merged(self, entries: list[KeytabEntry], kdc_jwks: dict[str, Any] | None) -> Keytab:
        """This keytab with ``entries`` added, replacing any with the same principal and kvno."""
        new = {(e.principal, e.kvno) for e in entries}
        kept = [e for e in self.entries if (e.principal, e.kvno) not in new]
        ordered = sorted(kept + entries, key=lambda e: (str(e.principal), e.kvno))
        return Keytab(entries=ordered, kdc_jwks=kdc_jwks or self.kdc_jwks)
