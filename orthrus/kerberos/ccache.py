"""MIT's FILE credential cache, version 4 (0x0504): what MIT's ``kinit`` writes and ``klist``
reads, so that tickets move between MIT's programs and Orthrus's.

MIT krb5 ``doc/formats/ccache_file_format.rst`` (no RFC defines it), all integers big-endian::

    05 04  header length (uint16)  header fields (tag uint16, length uint16, value)
    default principal   credential*   (until the end of the file)

    principal  ::= name type (uint32)  count (uint32)  realm (data)  components (data each)
    data       ::= length (uint32)  octets
    credential ::= client  server  keyblock (enctype uint16, data)
                   authtime starttime endtime renew_till (uint32 each)  is_skey (uint8)
                   ticket_flags (uint32)  addresses  authdata  ticket (data)  second_ticket (data)

Sans-IO: bytes in, :class:`CacheFile` out, and back; the caller reads and writes the file.
Entries are kept as written, configuration entries (realm ``X-CACHECONF:``) and flags Orthrus
does not know included, so that a cache rewritten by Orthrus loses nothing MIT put there.
:func:`credential_of` and :func:`entry_of` convert one entry to and from the client's
:class:`~orthrus.credentials.Credential`. Every length is checked against the octets that
remain before it is used; a file that does not parse is one
:class:`~orthrus.errors.MalformedMessage` naming the offset. Key octets stay out of ``repr()``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from orthrus.credentials import Credential
from orthrus.enctypes import ENCTYPES, KeyBlock
from orthrus.errors import MalformedMessage
from orthrus.kerberos.names import NT_PRINCIPAL, NT_SRV_INST, flags_from_bits, flags_to_bits
from orthrus.messages import EncryptionKey
from orthrus.octets import OctetReader
from orthrus.principal import Principal

__all__ = [
    "CONFIG_REALM",
    "CacheEntry",
    "CacheFile",
    "CacheName",
    "credential_of",
    "entry_of",
    "is_mit_ccache",
    "parse_ccache",
    "serialize_ccache",
    "with_entries",
]

_VERSION_4 = b"\x05\x04"
#: The realm of configuration entries' server names.
CONFIG_REALM = "X-CACHECONF:"
#: A bound on one cache file, far above what a user's tickets take.
MAX_CCACHE_SIZE = 1024 * 1024
#: Header field 1: the KDC's clock offset (seconds, microseconds).
_TAG_KDC_OFFSET = 1

_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")
_U8 = struct.Struct(">B")


@dataclass(frozen=True, slots=True)
class CacheName:
    """A principal as the cache holds it: any realm and components, the name type kept."""

    name_type: int
    realm: str
    components: tuple[str, ...]

    @classmethod
    def of(cls, principal: Principal) -> CacheName:
        kind = NT_SRV_INST if len(principal.components) > 1 else NT_PRINCIPAL
        return cls(kind, principal.realm, principal.components)

    def names(self, principal: Principal) -> bool:
        """Whether this is ``principal``'s name (the name type aside, RFC 4120 §6.2)."""
        return (self.realm, self.components) == (principal.realm, principal.components)

    def principal(self) -> Principal:
        """The principal (``MalformedMessage`` for a name Orthrus does not accept)."""
        return Principal(self.components, self.realm)


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One credential (or configuration entry) of the cache, field for field."""

    client: CacheName
    server: CacheName
    key: KeyBlock = field(repr=False)
    authtime: int
    starttime: int
    endtime: int
    renew_till: int
    is_skey: bool
    ticket_flags: int
    addresses: tuple[tuple[int, bytes], ...]
    authdata: tuple[tuple[int, bytes], ...]
    ticket: bytes
    second_ticket: bytes

    @property
    def is_config(self) -> bool:
        """A configuration entry (not a ticket; never listed, always kept)."""
        return self.server.realm == CONFIG_REALM


@dataclass(frozen=True, slots=True)
class CacheFile:
    """A whole version-4 cache: its header fields (kept as written), the default principal
    and the entries in file order."""

    principal: CacheName
    entries: tuple[CacheEntry, ...] = ()
    header: tuple[tuple[int, bytes], ...] = ()


def is_mit_ccache(data: bytes) -> bool:
    """True if ``data`` starts as an MIT FILE cache of any version (first octet 5).

    Orthrus's own cache is JSON and starts with ``{``."""
    return data[:1] == b"\x05"


def parse_ccache(data: bytes) -> CacheFile:
    """The contents of an MIT version-4 cache file."""
    return _Reader(data).cache()


def serialize_ccache(cache: CacheFile) -> bytes:
    """The octets of ``cache`` as a version-4 file."""
    header = b"".join(_U16.pack(tag) + _U16.pack(len(value)) + value for tag, value in cache.header)
    parts = [_VERSION_4, _U16.pack(len(header)), header, _name(cache.principal)]
    parts += [_entry(e) for e in cache.entries]
    return b"".join(parts)


def credential_of(entry: CacheEntry) -> Credential:
    """The client's view of a ticket entry (RFC 4120 §3.1.5's stored fields): the DER ticket
    as written, the session key, the times (a zero starttime is the authtime) and the
    flags Orthrus knows."""
    if entry.is_config:
        raise ValueError("a configuration entry holds no ticket")
    return Credential(
        client=entry.client.principal(),
        server=_server(entry),
        key=EncryptionKey.from_keyblock(entry.key),
        ticket=entry.ticket,
        flags=flags_from_bits(entry.ticket_flags),
        authtime=entry.authtime,
        starttime=entry.starttime or entry.authtime,
        endtime=entry.endtime,
        renew_till=entry.renew_till or None,
    )


#: The realm MIT's clients write for a ticket they asked for by a host-based name before a
#: KDC named the host's realm (the referral realm, RFC 6806 §7; curl --negotiate does so).
REFERRAL_REALM = ""


def _server(entry: CacheEntry) -> Principal:
    """The entry's server; under the referral realm, in the realm its ticket names (the
    realm of the KDC that issued it, RFC 4120 §5.3)."""
    if entry.server.realm != REFERRAL_REALM:
        return entry.server.principal()
    from orthrus.der import decode_ticket  # the DER codec loads only for referral entries

    return Principal(entry.server.components, decode_ticket(entry.ticket).realm)


def entry_of(credential: Credential, flags: int | None = None) -> CacheEntry:
    """A cache entry for a credential holding a DER ticket; ``flags`` (the KDC's 32 bits,
    when known) replace the ones the model keeps."""
    if not isinstance(credential.ticket, bytes):
        raise MalformedMessage(
            f"the ticket for {credential.server} is an Orthrus JSON ticket, which MIT's "
            "credential cache cannot hold; get it from a krb5:// KDC URL"
        )
    return CacheEntry(
        client=CacheName.of(credential.client),
        server=CacheName.of(credential.server),
        key=credential.key.to_keyblock(),
        authtime=credential.authtime,
        starttime=credential.starttime,
        endtime=credential.endtime,
        renew_till=credential.renew_till or 0,
        is_skey=False,
        ticket_flags=flags_to_bits(credential.flags) if flags is None else flags,
        addresses=(),
        authdata=(),
        ticket=credential.ticket,
        second_ticket=b"",
    )


def with_entries(cache: CacheFile, entries: Iterable[CacheEntry]) -> CacheFile:
    """``cache`` with its entries replaced (header and principal kept)."""
    return CacheFile(cache.principal, tuple(entries), cache.header)


def _data(raw: bytes) -> bytes:
    return _U32.pack(len(raw)) + raw


def _name(name: CacheName) -> bytes:
    parts = [_U32.pack(name.name_type), _U32.pack(len(name.components)), _data(name.realm.encode())]
    return b"".join(parts + [_data(c.encode()) for c in name.components])


def _pairs(pairs: tuple[tuple[int, bytes], ...]) -> bytes:
    return _U32.pack(len(pairs)) + b"".join(_U16.pack(t) + _data(v) for t, v in pairs)


def _entry(entry: CacheEntry) -> bytes:
    times = (entry.authtime, entry.starttime, entry.endtime, entry.renew_till)
    return b"".join(
        [
            _name(entry.client),
            _name(entry.server),
            _U16.pack(entry.key.enctype),
            _data(entry.key.material),
            *(_U32.pack(t) for t in times),
            _U8.pack(int(entry.is_skey)),
            _U32.pack(entry.ticket_flags),
            _pairs(entry.addresses),
            _pairs(entry.authdata),
            _data(entry.ticket),
            _data(entry.second_ticket),
        ]
    )


#: More components than any real name has: a bound before a count is trusted.
_MAX_COMPONENTS = 16
#: Likewise for addresses and authorization data elements of one entry.
_MAX_ELEMENTS = 64


class _Reader(OctetReader):
    """A cursor over a cache file's octets that never reads past its end."""

    def __init__(self, data: bytes) -> None:
        if len(data) > MAX_CCACHE_SIZE:
            raise MalformedMessage(
                f"the credentials cache is {len(data)} octets, over the {MAX_CCACHE_SIZE} bound"
            )
        super().__init__(data, "the credentials cache")

    def cache(self) -> CacheFile:
        version = self.data[:2]
        if version[:1] == b"\x05" and version != _VERSION_4:
            raise MalformedMessage(
                f"this MIT credentials cache is version 0x{version.hex()}; Orthrus reads version "
                "0x0504 (MIT's default since krb5 1.3): set 'ccache_type = 4' in krb5.conf"
            )
        if version != _VERSION_4:
            raise MalformedMessage("not an MIT credentials cache: it must start with 05 04")
        self.offset = 2
        header_end = self.integer(_U16, "header length")
        header_end += self.offset
        header: list[tuple[int, bytes]] = []
        while self.offset < header_end:
            tag = self.integer(_U16, "header tag")
            header.append((tag, self.take(self.integer(_U16, "header field length"), "header")))
        if self.offset != header_end:
            raise MalformedMessage("the credentials cache's header fields overrun its length")
        principal = self._name("default principal")
        entries: list[CacheEntry] = []
        while self.offset < len(self.data):
            entries.append(self._entry())
        return CacheFile(principal, tuple(entries), tuple(header))

    def _data(self, what: str) -> bytes:
        return self.take(self.integer(_U32, f"{what} length"), what)

    def _text(self, what: str) -> str:
        raw = self._data(what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedMessage(
                f"the credentials cache's {what} ending at offset {self.offset} is not UTF-8"
            ) from None

    def _count(self, what: str, bound: int) -> int:
        count = self.integer(_U32, f"{what} count")
        if count > bound:
            raise MalformedMessage(
                f"the credentials cache claims {count} {what}s at offset {self.offset}: corrupt"
            )
        return count

    def _name(self, what: str) -> CacheName:
        name_type = self.integer(_U32, f"{what} name type")
        count = self._count(f"{what} component", _MAX_COMPONENTS)
        realm = self._text(f"{what} realm")
        return CacheName(name_type, realm, tuple(self._text(what) for _ in range(count)))

    def _pairs(self, what: str) -> tuple[tuple[int, bytes], ...]:
        count = self._count(what, _MAX_ELEMENTS)
        return tuple((self.integer(_U16, f"{what} type"), self._data(what)) for _ in range(count))

    def _entry(self) -> CacheEntry:
        start = self.offset
        client, server = self._name("client"), self._name("server")
        enctype = self.integer(_U16, "key type")
        material = self._data("key")
        known = ENCTYPES.get(enctype)
        is_config = server.realm == CONFIG_REALM
        if not is_config and known is not None and len(material) != known.key_size:
            raise MalformedMessage(
                f"the credential at offset {start} holds a {len(material)}-octet "
                f"{known.name} key; such keys are {known.key_size} octets: the file is corrupt"
            )
        authtime, starttime, endtime, renew_till = (self.integer(_U32, "time") for _ in range(4))
        is_skey = self.integer(_U8, "is_skey") != 0
        flags = self.integer(_U32, "ticket flags")
        addresses, authdata = self._pairs("address"), self._pairs("authorization data")
        ticket, second = self._data("ticket"), self._data("second ticket")
        return CacheEntry(
            client,
            server,
            KeyBlock(enctype, material),
            authtime,
            starttime,
            endtime,
            renew_till,
            is_skey,
            flags,
            addresses,
            authdata,
            ticket,
            second,
        )
