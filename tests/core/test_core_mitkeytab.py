"""MIT's keytab format (:mod:`orthrus.mitkeytab`): the octets of MIT's format document, holes,
the 32-bit kvno, appending, and every corrupt file refused with one clear error."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orthrus.enctypes import KeyBlock
from orthrus.errors import MalformedMessage
from orthrus.mitkeytab import (
    MITKeytabEntry,
    append_entries,
    is_mit_keytab,
    parse_keytab,
    serialize_keytab,
)
from orthrus.principal import Principal

HTTP = Principal.parse("HTTP/localhost@EXAMPLE.TEST")
ALICE = Principal.parse("alice@EXAMPLE.TEST")
KEY32 = bytes(range(32))
KEY16 = bytes(range(16, 32))


def http_entry(kvno: int = 3, enctype: int = 18, material: bytes = KEY32) -> MITKeytabEntry:
    return MITKeytabEntry(HTTP, kvno, KeyBlock(enctype, material), timestamp=1_700_000_000)


#: HTTP/localhost@EXAMPLE.TEST, kvno 3, aes256-cts-hmac-sha1-96, as laid out field by field in
#: MIT's doc/formats/keytab_file_format.rst.
HTTP_RECORD = b"".join(
    [
        b"\x00\x02",  # two components
        b"\x00\x0cEXAMPLE.TEST",
        b"\x00\x04HTTP",
        b"\x00\x09localhost",
        b"\x00\x00\x00\x01",  # KRB5_NT_PRINCIPAL
        struct.pack(">I", 1_700_000_000),
        b"\x03",  # vno8
        b"\x00\x12\x00\x20" + KEY32,  # enctype 18, 32 octets
        b"\x00\x00\x00\x03",  # vno32
    ]
)
HTTP_FILE = b"\x05\x02" + struct.pack(">i", len(HTTP_RECORD)) + HTTP_RECORD


def test_the_octets_of_mits_format_document() -> None:
    assert serialize_keytab([http_entry()]) == HTTP_FILE
    assert parse_keytab(HTTP_FILE) == (http_entry(),)


def test_round_trip_of_several_principals_and_enctypes() -> None:
    entries = [
        http_entry(),
        http_entry(enctype=17, material=KEY16),
        MITKeytabEntry(ALICE, 1, KeyBlock(20, KEY32), 5, name_type=3),
    ]
    assert parse_keytab(serialize_keytab(entries)) == tuple(entries)
    assert parse_keytab(b"\x05\x02") == ()


def test_a_kvno_above_255_lives_in_the_32_bit_field() -> None:
    data = serialize_keytab([http_entry(kvno=300)])
    assert data[-4:] == struct.pack(">I", 300)
    assert data[-4 - 32 - 4 - 1] == 300 & 0xFF  # vno8 holds the low octet
    assert parse_keytab(data)[0].kvno == 300


def test_vno8_when_the_32_bit_kvno_is_absent_or_zero() -> None:
    without = HTTP_RECORD[:-4]
    assert parse_keytab(b"\x05\x02" + struct.pack(">i", len(without)) + without)[0].kvno == 3
    zero = without + b"\x00\x00\x00\x00"
    assert parse_keytab(b"\x05\x02" + struct.pack(">i", len(zero)) + zero)[0].kvno == 3


def test_an_entry_in_a_larger_slot_ignores_the_zeros_after_it() -> None:
    # MIT reuses a hole larger than the new entry: the record length is the hole's.
    padded = HTTP_RECORD + bytes(11)
    data = b"\x05\x02" + struct.pack(">i", len(padded)) + padded
    assert parse_keytab(data) == (http_entry(),)


def test_holes_are_skipped_and_a_zero_length_ends_the_file() -> None:
    hole = struct.pack(">i", -20) + bytes(20)
    data = b"\x05\x02" + hole + HTTP_FILE[2:] + b"\x00\x00\x00\x00" + b"ignored after the end"
    assert parse_keytab(data) == (http_entry(),)


def test_append_keeps_the_file_and_writes_after_its_last_record() -> None:
    hole = struct.pack(">i", -8) + bytes(8)
    existing = HTTP_FILE + hole + b"\x00\x00\x00\x00"
    new = MITKeytabEntry(ALICE, 2, KeyBlock(17, KEY16))
    data = append_entries(existing, [new])
    assert data.startswith(HTTP_FILE + hole)
    assert parse_keytab(data) == (http_entry(), new)
    assert append_entries(b"", [new]) == serialize_keytab([new])
    # Appending what is there already writes it again, as MIT's ktadd does.
    assert parse_keytab(append_entries(HTTP_FILE, [http_entry()])) == (http_entry(),) * 2


def test_format_detection() -> None:
    assert is_mit_keytab(HTTP_FILE)
    assert is_mit_keytab(b"\x05\x01")
    assert not is_mit_keytab(b'{"format": "orthrus-keytab/1"}')
    assert not is_mit_keytab(b"")


def test_key_bytes_stay_out_of_repr() -> None:
    entry = http_entry()
    text = repr(entry) + repr(parse_keytab(HTTP_FILE))
    assert "HTTP/localhost@EXAMPLE.TEST" in text
    assert KEY32.hex() not in text and repr(KEY32) not in text


def test_an_enctype_orthrus_does_not_implement_is_kept() -> None:
    rc4 = http_entry(enctype=23, material=KEY16)
    assert parse_keytab(serialize_keytab([rc4])) == (rc4,)


def test_to_kerberos_key() -> None:
    key = http_entry().to_kerberos_key()
    assert (key.kvno, key.enctype, key.key.material, key.salt) == (3, 18, KEY32, None)


def record(body: bytes, size: int | None = None) -> bytes:
    return b"\x05\x02" + struct.pack(">i", len(body) if size is None else size) + body


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"\x05\x01\x00\x00\x00\x00", "version 0x0501"),
        (b'{"format": "orthrus-keytab/1"}', "must start with the octets 05 02"),
        (b"", "must start with the octets 05 02"),
        (record(HTTP_RECORD, len(HTTP_RECORD) + 1), "truncated or corrupt"),
        (b"\x05\x02" + struct.pack(">i", -100) + bytes(10), "truncated or corrupt"),
        (b"\x05\x02\x00\x00", "record length"),
        (HTTP_FILE + b"\x00\x00\x01", "record length"),
        (record(HTTP_RECORD[: -4 - 32]), "key at offset"),
        (record(b"\xff\xff" + HTTP_RECORD[2:]), "name component at offset"),
        (record(b"\x00\x01\x00\x0cEXAMPLE.TES\xd8"), "realm ending at offset"),
        (record(HTTP_RECORD.replace(b"EXAMPLE.TEST", b"example.test")), "does not accept"),
        (record(b"\x00\x00" + HTTP_RECORD[2:]), "does not accept"),
        (record(HTTP_RECORD.replace(b"\x00\x12\x00\x20", b"\x00\x12\x00\x10")), "keys are 32"),
        (record(HTTP_RECORD[:-40] + b"\x00\x17\x00\x00\x00\x00\x00\x03"), "0-octet key"),
    ],
)
def test_a_corrupt_file_is_one_clear_error(data: bytes, says: str) -> None:
    with pytest.raises(MalformedMessage) as caught:
        parse_keytab(data)
    assert says in caught.value.message
    if data:  # empty is a new keytab to append to
        with pytest.raises(MalformedMessage):
            append_entries(data, [http_entry()])


def test_every_truncation_is_an_error_or_a_shorter_keytab() -> None:
    data = serialize_keytab([http_entry(), http_entry(kvno=4)])
    for end in range(len(data)):
        with contextlib.suppress(MalformedMessage):
            assert len(parse_keytab(data[:end])) < 2


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_octets_never_raise_anything_else(tail: bytes) -> None:
    for data in (b"\x05\x02" + tail, HTTP_FILE[:6] + tail):
        with contextlib.suppress(MalformedMessage):
            parse_keytab(data)


def test_entry_fields_are_bounded() -> None:
    with pytest.raises(ValueError, match="32-bit"):
        MITKeytabEntry(HTTP, 2**32, KeyBlock(18, KEY32))
