"""MIT's FILE keytab format, version 0x0502: what ``ktutil``, ``kadmin ktadd`` and ``klist -k`` use.

MIT krb5 ``doc/formats/keytab_file_format.rst`` (no RFC defines it): two octets ``05 02``, then
records, each a signed 32-bit big-endian length and that many octets. A negative length is a
hole of that many zeros (a deleted entry), zero ends the file. An entry::

    num_components (uint16)  realm (uint16 length + octets)  components (each the same)
    name_type (uint32)  timestamp (uint32)  vno8 (uint8)
    enctype (uint16)  key length (uint16)  key contents
    vno (uint32, MIT 1.14 and later: overrides vno8 when present and nonzero)

Version 0x0501 (native byte order, no name type, the realm counted among the components:
MIT before 1.0 and DCE) is refused with a sentence saying how to convert it, as nothing
written this century uses it. Sans-IO: bytes in, entries out, and back; the caller reads and
writes the file (mode 0600) and passes the time. Every length is checked against the octets
that remain before it is used, and a file that does not parse is one
:class:`~orthrus.errors.MalformedMessage` naming the offset, never a traceback. The format is
read with :mod:`struct`: it is a few fixed-size integers and counted strings, for which no
maintained parser library exists that keeps key bytes out of ``repr()``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from orthrus.enctypes import ENCTYPES, KeyBlock
from orthrus.errors import MalformedMessage
from orthrus.octets import OctetReader
from orthrus.principal import Principal
from orthrus.realm import KerberosKey

__all__ = [
    "NT_PRINCIPAL",
    "MITKeytabEntry",
    "append_entries",
    "is_mit_keytab",
    "parse_keytab",
    "serialize_keytab",
]

_MAGIC = 0x05
_VERSION_2 = b"\x05\x02"
_VERSION_1 = b"\x05\x01"
#: RFC 4120 §6.2 KRB5_NT_PRINCIPAL: what MIT's ktutil and kadmin write for a parsed name.
NT_PRINCIPAL = 1

_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")
_U8 = struct.Struct(">B")


@dataclass(frozen=True, slots=True)
class MITKeytabEntry:
    """One key of one principal in an MIT keytab (MIT's ``krb5_keytab_entry``).

    ``timestamp`` is when the key was written (seconds since 1970, as ``klist -k -t``
    shows it); ``key`` keeps its octets out of ``repr()``.
    """

    principal: Principal
    kvno: int
    key: KeyBlock
    timestamp: int = 0
    name_type: int = NT_PRINCIPAL

    def __post_init__(self) -> None:
        if not 0 <= self.kvno <= 0xFFFFFFFF or not 0 <= self.timestamp <= 0xFFFFFFFF:
            raise ValueError("a keytab entry's kvno and timestamp are 32-bit unsigned")

    @property
    def enctype(self) -> int:
        return self.key.enctype

    def to_kerberos_key(self) -> KerberosKey:
        """The key as the realm's types hold it (no salt: a keytab does not record it)."""
        return KerberosKey(self.kvno, self.key)


def is_mit_keytab(data: bytes) -> bool:
    """True if ``data`` starts as an MIT keytab of any version (first octet 5).

    Orthrus's own keytab is JSON and starts with ``{``; version 0x0501 counts as MIT here so
    that :func:`parse_keytab` refuses it with its own sentence.
    """
    return data[:1] == bytes([_MAGIC])


def parse_keytab(data: bytes) -> tuple[MITKeytabEntry, ...]:
    """Every entry of an MIT keytab file's contents, in file order (holes skipped)."""
    return _Reader(data).entries()[0]


def serialize_keytab(entries: Iterable[MITKeytabEntry]) -> bytes:
    """A new version 0x0502 keytab holding ``entries``."""
    return _VERSION_2 + b"".join(_record(e) for e in entries)


def append_entries(data: bytes, entries: Iterable[MITKeytabEntry]) -> bytes:
    """``data`` (an existing keytab, or empty for a new one) with ``entries`` added after its
    last record, as MIT's ``ktadd`` adds: existing entries and holes stay as they are, and an
    entry already present is written again (MIT readers take the first match)."""
    if not data:
        return serialize_keytab(entries)
    end = _Reader(data).entries()[1]
    return data[:end] + b"".join(_record(e) for e in entries)


def _record(entry: MITKeytabEntry) -> bytes:
    principal = entry.principal
    parts = [_U16.pack(len(principal.components)), _counted(principal.realm)]
    parts += [_counted(c) for c in principal.components]
    parts += [
        _U32.pack(entry.name_type),
        _U32.pack(entry.timestamp),
        _U8.pack(entry.kvno & 0xFF),
        _U16.pack(entry.key.enctype),
        _U16.pack(len(entry.key.material)),
        entry.key.material,
        _U32.pack(entry.kvno),
    ]
    body = b"".join(parts)
    return _I32.pack(len(body)) + body


def _counted(text: str) -> bytes:
    raw = text.encode("ascii")
    return _U16.pack(len(raw)) + raw


class _Reader(OctetReader):
    """A cursor over a keytab's octets that never reads past the record it is in."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data, "the keytab")

    def entries(self) -> tuple[tuple[MITKeytabEntry, ...], int]:
        """The entries, and the offset where the next record would go."""
        header = self.data[:2]
        if header == _VERSION_1:
            raise MalformedMessage(
                "this is an MIT keytab of version 0x0501 (native byte order, from MIT krb5 "
                "before 1.0 or DCE), which Orthrus does not read; convert it with MIT's ktutil "
                "('rkt OLD' then 'wkt NEW' writes version 0x0502)"
            )
        if header != _VERSION_2:
            raise MalformedMessage(
                "not an MIT keytab: it must start with the octets 05 02 (version 0x0502)"
            )
        self.offset = 2
        found: list[MITKeytabEntry] = []
        while self.offset < len(self.data):
            start = self.offset
            size = self.integer(_I32, "record length")
            if size == 0:
                return tuple(found), start
            length = abs(size)
            if length > len(self.data) - self.offset:
                raise MalformedMessage(
                    f"the keytab record at offset {start} is {length} octets long but only "
                    f"{len(self.data) - self.offset} remain: the file is truncated or corrupt"
                )
            end = self.offset + length
            if size > 0:
                self.limit = end
                found.append(self._entry(start))
                self.limit = len(self.data)
            self.offset = end
        return tuple(found), self.offset

    def _text(self, what: str) -> str:
        raw = self.take(self.integer(_U16, f"{what} length"), what)
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise MalformedMessage(
                f"the keytab's {what} ending at offset {self.offset} is not ASCII text"
            ) from None

    def _entry(self, start: int) -> MITKeytabEntry:
        count = self.integer(_U16, "component count")
        realm = self._text("realm")
        components = tuple(self._text("name component") for _ in range(count))
        try:
            principal = Principal(components, realm)
        except MalformedMessage as exc:
            raise MalformedMessage(
                f"the keytab entry at offset {start} names a principal Orthrus does not "
                f"accept: {exc.message}"
            ) from None
        name_type = self.integer(_U32, "name type")
        timestamp = self.integer(_U32, "timestamp")
        kvno = self.integer(_U8, "key version")
        enctype = self.integer(_U16, "encryption type")
        material = self.take(self.integer(_U16, "key length"), "key")
        _check_key(enctype, material, principal, start)
        if self.limit - self.offset >= _U32.size:
            kvno = self.integer(_U32, "key version") or kvno
        return MITKeytabEntry(principal, kvno, KeyBlock(enctype, material), timestamp, name_type)


def _check_key(enctype: int, material: bytes, principal: Principal, start: int) -> None:
    # Enctypes Orthrus does not implement (RC4, DES3, Camellia) are kept as they are: a
    # keytab may hold them beside AES keys, and whoever uses them refuses them then.
    known = ENCTYPES.get(enctype)
    size = known.key_size if known else None
    if not material or (size is not None and len(material) != size):
        raise MalformedMessage(
            f"the keytab entry at offset {start} ({principal}, enctype {enctype}) holds a "
            f"{len(material)}-octet key"
            + (f"; {known.name} keys are {size} octets" if known else "")
            + ": the file is corrupt"
        )
