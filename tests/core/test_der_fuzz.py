"""Hypothesis against :mod:`orthrus.der`: random bytes and mutated valid messages never raise
anything but :class:`~orthrus.errors.MalformedMessage`; models round-trip through DER."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_der_vectors import FULL, MIT

from orthrus import der
from orthrus.der import (
    Authenticator,
    Checksum,
    EncKDCRepPart,
    EncryptedData,
    EncryptionKey,
    KDCRep,
    KDCReq,
    KDCReqBody,
    KRBError,
    LastReqEntry,
    PAData,
    PrincipalName,
    Ticket,
)
from orthrus.errors import MalformedMessage

DECODERS: list[Callable[[bytes], Any]] = [
    *{id(f[1]): f[1] for f in FULL}.values(),
    der.decode_kdc_req,
    der.decode_pa_tgs_req,
    der.decode_ad_if_relevant,
]


def only_malformed(decode: Callable[[bytes], Any], data: bytes) -> None:
    """``decode(data)`` returns, or raises MalformedMessage and nothing else."""
    try:
        decode(data)
    except MalformedMessage as error:
        assert error.name in {"KRB_ERR_GENERIC", "KRB_ERR_FIELD_TOOLONG"}


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=600), which=st.integers(0, len(DECODERS) - 1))
def test_random_bytes_raise_only_malformed(data: bytes, which: int) -> None:
    only_malformed(DECODERS[which], data)


@settings(max_examples=300, deadline=None)
@given(
    tag=st.sampled_from([0x30, 0x61, 0x62, 0x63, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x7A, 0x7E]),
    body=st.binary(max_size=300),
    which=st.integers(0, len(DECODERS) - 1),
)
def test_random_bodies_under_real_tags_raise_only_malformed(
    tag: int, body: bytes, which: int
) -> None:
    length = bytes([len(body)]) if len(body) < 128 else bytes([0x82, *len(body).to_bytes(2)])
    only_malformed(DECODERS[which], bytes([tag]) + length + body)


#: Up to four edits of a message: flip, cut, insert or delete an octet somewhere.
EDITS = st.lists(
    st.tuples(
        st.sampled_from(["flip", "cut", "insert", "delete"]),
        st.integers(0, 10_000),
        st.integers(0, 255),
    ),
    min_size=1,
    max_size=4,
)


def edited(message: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    """``message`` with each of ``edits`` made in turn (positions wrap around its length)."""
    data = bytearray(message)
    for kind, where, value in edits:
        at = where % (len(data) + 1)
        if kind == "flip" and at < len(data):
            data[at] ^= value or 1
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data.insert(at, value)
        elif kind == "delete" and at < len(data):
            del data[at]
    return bytes(data)


@settings(max_examples=500, deadline=None)
@given(vector=st.sampled_from(FULL), edits=EDITS)
def test_mutated_valid_messages_raise_only_malformed(
    vector: tuple[str, Callable[[bytes], Any], Any, Any], edits: list[tuple[str, int, int]]
) -> None:
    name, decode, _, _ = vector
    only_malformed(decode, edited(MIT[name], edits))


# -- round trips -----------------------------------------------------------------------------

int32 = st.integers(-(2**31), 2**31 - 1)
uint32 = st.integers(0, 2**32 - 1)
micros = st.integers(0, 999_999)
# KerberosTime: seconds since the epoch, up to the end of year 9999.
times = st.integers(0, 253402300799)
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
octets = st.binary(max_size=40)
principals = st.builds(PrincipalName, int32, st.lists(text, max_size=4).map(tuple))
encrypted = st.builds(EncryptedData, int32, octets, st.none() | uint32)
keys = st.builds(EncryptionKey, int32, octets)
tickets = st.builds(Ticket, text, principals, encrypted)
padata = st.none() | st.lists(st.builds(PAData, int32, octets), max_size=3).map(tuple)


def round_trips(encode: Callable[[Any], bytes], decode: Callable[[bytes], Any], value: Any) -> None:
    encoded = encode(value)
    decoded = decode(encoded)
    assert decoded == value
    assert encode(decoded) == encoded  # DER: one encoding per value


@settings(max_examples=100, deadline=None)
@given(
    st.builds(
        Authenticator,
        crealm=text,
        cname=principals,
        cusec=micros,
        ctime=times,
        cksum=st.none() | st.builds(Checksum, int32, octets),
        subkey=st.none() | keys,
        seq_number=st.none() | uint32,
    )
)
def test_authenticator_round_trips(value: Authenticator) -> None:
    round_trips(der.encode_authenticator, der.decode_authenticator, value)


@settings(max_examples=100, deadline=None)
@given(
    msg_type=st.sampled_from([10, 12]),
    body=st.builds(
        KDCReqBody,
        kdc_options=uint32,
        realm=text,
        till=times,
        nonce=uint32,
        etype=st.lists(int32, max_size=6).map(tuple),
        cname=st.none() | principals,
        sname=st.none() | principals,
        from_=st.none() | times,
        additional_tickets=st.none() | st.lists(tickets, max_size=2).map(tuple),
    ),
    pa=padata,
)
def test_kdc_req_round_trips(
    msg_type: int, body: KDCReqBody, pa: tuple[PAData, ...] | None
) -> None:
    value = KDCReq(msg_type, body, pa)
    round_trips(der.encode_kdc_req, der.decode_kdc_req, value)
    assert der.decode_kdc_req_body(der.encode_kdc_req_body(body)) == body


@settings(max_examples=100, deadline=None)
@given(
    rep=st.builds(KDCRep, st.sampled_from([11, 13]), text, principals, tickets, encrypted, padata),
    part=st.builds(
        EncKDCRepPart,
        key=keys,
        last_req=st.lists(st.builds(LastReqEntry, int32, times), max_size=2).map(tuple),
        nonce=uint32,
        flags=uint32,
        authtime=times,
        endtime=times,
        srealm=text,
        sname=principals,
        renew_till=st.none() | times,
    ),
)
def test_kdc_rep_and_its_enc_part_round_trip(rep: KDCRep, part: EncKDCRepPart) -> None:
    decode = der.decode_as_rep if rep.msg_type == 11 else der.decode_tgs_rep
    round_trips(der.encode_kdc_rep, decode, rep)
    round_trips(der.encode_enc_kdc_rep_part, der.decode_enc_kdc_rep_part, part)


@settings(max_examples=100, deadline=None)
@given(
    st.builds(
        KRBError,
        stime=times,
        susec=micros,
        error_code=int32,
        realm=text,
        sname=principals,
        ctime=st.none() | times,
        cusec=st.none() | micros,
        crealm=st.none() | text,
        cname=st.none() | principals,
        e_text=st.none() | text,
        e_data=st.none() | octets,
    )
)
def test_krb_error_round_trips(value: KRBError) -> None:
    round_trips(der.encode_krb_error, der.decode_krb_error, value)
