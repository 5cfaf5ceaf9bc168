"""MIT's FILE credential cache, version 4 (orthrus.kerberos.ccache): written, read back,
MIT's configuration entries and unknown flags kept, and every malformed file one
MalformedMessage naming where it broke."""

from __future__ import annotations

import dataclasses
import os
import struct

import msgspec
import pytest

from orthrus import der
from orthrus.credentials import Credential
from orthrus.enctypes import KeyBlock
from orthrus.errors import MalformedMessage
from orthrus.kerberos.ccache import (
    CacheEntry,
    CacheFile,
    CacheName,
    credential_of,
    entry_of,
    is_mit_ccache,
    parse_ccache,
    serialize_ccache,
)
from orthrus.messages import EncryptionKey, Ticket
from orthrus.principal import Principal, krbtgt

ALICE = Principal.parse("alice@MIT.TEST")
KEY = KeyBlock(18, bytes(range(32)))


def credential() -> Credential:
    return Credential(
        client=ALICE,
        server=krbtgt("MIT.TEST"),
        key=EncryptionKey.from_keyblock(KEY),
        ticket=b"\x61\x03\x02\x01\x05",  # the DER is kept as written, not decoded here
        flags=["initial", "pre-authent", "renewable"],
        authtime=1_800_000_000,
        starttime=1_800_000_000,
        endtime=1_800_036_000,
        renew_till=1_800_604_800,
    )


def config_entry() -> CacheEntry:
    """What MIT's kinit adds: ``krb5_ccache_conf_data/fast_avail/krbtgt...@X-CACHECONF:``."""
    server = CacheName(1, "X-CACHECONF:", ("krb5_ccache_conf_data", "fast_avail"))
    return CacheEntry(
        CacheName.of(ALICE), server, KeyBlock(0, b""), 0, 0, 0, 0, False, 0, (), (), b"yes", b""
    )


def test_a_credential_round_trips_through_the_file() -> None:
    cache = CacheFile(CacheName.of(ALICE), (entry_of(credential()),), ((1, bytes(8)),))
    data = serialize_ccache(cache)
    assert data[:2] == b"\x05\x04" and is_mit_ccache(data)
    read = parse_ccache(data)
    assert read == cache
    assert credential_of(read.entries[0]) == credential()


def test_configuration_entries_and_unknown_flags_are_kept_but_not_tickets() -> None:
    ok_as_delegate = 1 << (31 - 13)
    entry = entry_of(credential(), flags=0x40E10000 | ok_as_delegate)
    cache = CacheFile(CacheName.of(ALICE), (config_entry(), entry))
    read = parse_ccache(serialize_ccache(cache))
    assert read.entries[0].is_config and read.entries[0].ticket == b"yes"
    assert read.entries[1].ticket_flags & ok_as_delegate
    with pytest.raises(ValueError, match="configuration entry"):
        credential_of(read.entries[0])


def test_the_key_stays_out_of_repr() -> None:
    assert KEY.material.hex() not in repr(entry_of(credential()))
    assert "material" not in repr(entry_of(credential()))


def test_a_json_ticket_cannot_go_into_an_mit_cache() -> None:
    json_ticket = Ticket(krbtgt("MIT.TEST"), 1, "sealed")
    with pytest.raises(MalformedMessage, match="JSON ticket"):
        entry_of(msgspec.structs.replace(credential(), ticket=json_ticket))


def test_every_truncation_is_one_malformed_message() -> None:
    data = serialize_ccache(CacheFile(CacheName.of(ALICE), (entry_of(credential()),)))
    for end in range(len(data)):
        if end in (2 + 2 + 0, len(data)):
            continue
        prefix = data[:end]
        try:
            parse_ccache(prefix)
        except MalformedMessage:
            continue
        # A cut exactly between the principal and the first entry is a valid empty cache.
        assert parse_ccache(prefix).entries == ()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x05\x03" + bytes(20), "version 0x0503"),
        (b"{}", "not an MIT credentials cache"),
        (b"\x05\x04\x00\x04\x00\x01\x00\x08", "needs 8 octets"),
        (b"\x05\x04\x00\x00" + struct.pack(">II", 1, 2**31), "claims"),
        (os.urandom(1024 * 1024 + 1), "bound"),
    ],
)
def test_malformed_files_say_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(MalformedMessage, match=message):
        parse_ccache(data)


def test_a_key_of_the_wrong_size_for_its_type_is_corrupt() -> None:
    entry = entry_of(credential())
    short = CacheEntry(
        **{**{f: getattr(entry, f) for f in entry.__slots__}, "key": KeyBlock(18, bytes(16))}
    )  # type: ignore[arg-type]
    data = serialize_ccache(CacheFile(CacheName.of(ALICE), (short,)))
    with pytest.raises(MalformedMessage, match="16-octet aes256-cts-hmac-sha1-96 key"):
        parse_ccache(data)


def test_a_ticket_under_the_referral_realm_is_read_in_the_realm_its_ticket_names() -> None:
    """curl --negotiate (MIT's GSS-API) stores ``HTTP/host@`` (the referral realm, RFC 6806
    §7): the credential is the service of the realm its ticket names, not a malformed name."""
    web = Principal.parse("HTTP/web.mit.test@MIT.TEST")
    sname = der.PrincipalName(3, web.components)
    ticket = der.encode_ticket(der.Ticket("MIT.TEST", sname, der.EncryptedData(18, b"x" * 40, 1)))
    entry = entry_of(msgspec.structs.replace(credential(), server=web, ticket=ticket))
    as_mit_wrote_it = dataclasses.replace(entry, server=CacheName(3, "", web.components))
    data = serialize_ccache(CacheFile(CacheName.of(ALICE), (as_mit_wrote_it,)))
    assert credential_of(parse_ccache(data).entries[0]).server == web
