"""orthrus.der and gss_tokens held to asn1tools, a maintained ASN.1 compiler, as an oracle
(tests/der_oracle.py): the same bytes and the same models through both.

- MIT's reference encodings, hypothesis-generated models and mutated messages: where both
  accept, both give the same model, and writing it gives the same octets;
- where the oracle accepts what orthrus.der refuses, the input is not DER: the oracle's
  own DER writer gives other octets for the value it read (a BER length, a padded INTEGER,
  octets after the message, a time with a zone) — the one case named, "not canonical";
- orthrus.der never accepts what the oracle refuses;
- where the oracle is wrong, the test names it (it reads an OID 2.x with x over 39 wrongly).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from der_oracle import (
    GSS_READER,
    GSS_SPEC,
    READER,
    SPEC,
    SequenceOf,
    model,
    oracle_decode,
    oracle_encode,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from test_der_fuzz import (
    EDITS,
    edited,
    encrypted,
    int32,
    keys,
    micros,
    octets,
    padata,
    principals,
    text,
    tickets,
    times,
    uint32,
)
from test_der_vectors import FULL, MIT, OPTIONAL_VARIANTS

from orthrus import der
from orthrus.der import tlv
from orthrus.der import types as t
from orthrus.errors import MalformedMessage
from orthrus.kerberos import gss_tokens as g

ETYPE_INFO2 = SequenceOf(model(t.ETypeInfo2Entry))
PADATA = SequenceOf(model(t.PAData))
AUTHDATA = SequenceOf(model(t.AuthorizationDataEntry))

#: decode function -> (the oracle's ASN.1 type, the model, the msg-type the tag implies)
ORACLE: dict[Callable[[bytes], Any], tuple[str, Any, int | None]] = {
    der.decode_authenticator: ("Authenticator", t.Authenticator, None),
    der.decode_ticket: ("Ticket", t.Ticket, None),
    der.decode_enc_ticket_part: ("EncTicketPart", t.EncTicketPart, None),
    der.decode_enc_kdc_rep_part: ("EncKDCRepPartAny", t.EncKDCRepPart, None),
    der.decode_as_rep: ("AS-REP", t.KDCRep, 11),
    der.decode_tgs_rep: ("TGS-REP", t.KDCRep, 13),
    der.decode_ap_req: ("AP-REQ", t.APReq, None),
    der.decode_ap_rep: ("AP-REP", t.APRep, None),
    der.decode_enc_ap_rep_part: ("EncAPRepPart", t.EncAPRepPart, None),
    der.decode_as_req: ("AS-REQ", t.KDCReq, 10),
    der.decode_tgs_req: ("TGS-REQ", t.KDCReq, 12),
    der.decode_kdc_req_body: ("KDC-REQ-BODY", t.KDCReqBody, None),
    der.decode_krb_priv: ("KRB-PRIV", t.KRBPriv, None),
    der.decode_enc_krb_priv_part: ("EncKrbPrivPart", t.EncKrbPrivPart, None),
    der.decode_krb_error: ("KRB-ERROR", t.KRBError, None),
    der.decode_pa_enc_timestamp: ("PA-ENC-TIMESTAMP", t.EncryptedData, None),
    der.decode_pa_enc_ts_enc: ("PA-ENC-TS-ENC", t.PAEncTsEnc, None),
    der.decode_etype_info2: ("ETYPE-INFO2", ETYPE_INFO2, None),
    der.decode_method_data: ("METHOD-DATA", PADATA, None),
    der.decode_authorization_data: ("AuthorizationData", AUTHDATA, None),
}
#: The type the oracle writes where it reads a CHOICE.
ENCODED_AS = {"EncKDCRepPartAny": "EncTGSRepPart"}
REFUSED = object()


def ours(decode: Callable[[bytes], Any], data: bytes) -> Any:
    try:
        return decode(data)
    except MalformedMessage:
        return REFUSED


def theirs(decode: Callable[[bytes], Any], data: bytes) -> Any:
    type_name, cls, msg_type = ORACLE[decode]
    try:
        value = oracle_decode(type_name, cls, data)
    except MalformedMessage:
        return REFUSED
    # The oracle's module takes any msg-type under either tag; orthrus.der checks it.
    return REFUSED if msg_type is not None and value.msg_type != msg_type else value


def canonical(decode: Callable[[bytes], Any], data: bytes) -> bool:
    """Whether ``data`` is the DER of the value the oracle reads from it."""
    type_name = ORACLE[decode][0]
    value = READER.decode(type_name, data)
    try:
        encoded = bytes(SPEC.encode(type_name, value))
    except IndexError:
        # asn1tools reads a BIT STRING whose unused-bit count exceeds its octets (X.690
        # §8.6.2.3 forbids it) and then cannot write it back: not DER.
        return False
    return encoded == data


def agree(decode: Callable[[bytes], Any], data: bytes) -> Any:
    """orthrus.der and the oracle read ``data`` alike (see the module's docstring)."""
    mine, oracle = ours(decode, data), theirs(decode, data)
    if oracle is REFUSED:
        assert mine is REFUSED, "orthrus.der accepts what asn1tools refuses"
    elif mine is REFUSED:
        assert not canonical(decode, data), "orthrus.der refuses DER that asn1tools reads"
    else:
        assert mine == oracle
    return mine


VECTORS = [(v[0], v[1], v[2]) for v in FULL + OPTIONAL_VARIANTS if v[1] in ORACLE]


@pytest.mark.parametrize(("vector", "decode", "encode"), VECTORS, ids=[v[0] for v in VECTORS])
def test_mit_reference_encodings_read_and_write_as_the_oracle_does(
    vector: str, decode: Callable[[bytes], Any], encode: Callable[[Any], bytes]
) -> None:
    value = agree(decode, MIT[vector])
    assert value is not REFUSED
    type_name, cls, _ = ORACLE[decode]
    assert oracle_encode(ENCODED_AS.get(type_name, type_name), cls, value) == encode(value)


def test_the_oracle_is_not_a_copy() -> None:
    """Refusals the oracle makes too, so that agreement is not vacuous."""
    assert theirs(der.decode_ap_req, b"\x6e\x00") is REFUSED
    assert ours(der.decode_ap_req, MIT["ap_req"][:-1]) is REFUSED
    assert theirs(der.decode_ap_req, MIT["ap_req"][:-1]) is REFUSED


@settings(max_examples=400, deadline=None)
@given(vector=st.sampled_from(VECTORS), edits=EDITS)
def test_mutated_messages_read_as_the_oracle_reads_them(
    vector: tuple[str, Callable[[bytes], Any], Any], edits: list[tuple[str, int, int]]
) -> None:
    name, decode, _ = vector
    agree(decode, edited(MIT[name], edits))


def stamp(time: bytes, usec: bytes) -> bytes:
    """A PA-ENC-TS-ENC written by hand, in DER or not."""
    fields = tlv.tlv(0xA0, tlv.tlv(tlv.GENERALIZED_TIME, time))
    return tlv.tlv(tlv.SEQUENCE, fields + tlv.tlv(0xA1, tlv.tlv(tlv.INTEGER, usec)))


GOOD_STAMP = stamp(b"19940610060317Z", b"\x05")


@pytest.mark.parametrize(
    ("decode", "data", "der_form"),
    [
        (der.decode_pa_enc_ts_enc, b"\x30\x81" + GOOD_STAMP[1:], GOOD_STAMP),
        (der.decode_ap_req, MIT["ap_req"] + b"\x00", MIT["ap_req"]),
        (der.decode_pa_enc_ts_enc, stamp(b"19940610060317+0000", b"\x05"), GOOD_STAMP),
        (der.decode_pa_enc_ts_enc, stamp(b"19940610060317Z", b"\x00\x05"), GOOD_STAMP),
    ],
    ids=["long-form-length", "octet-after-the-message", "zone-offset", "padded-integer"],
)
def test_what_only_the_oracle_reads_is_not_der(
    decode: Callable[[bytes], Any], data: bytes, der_form: bytes
) -> None:
    """The named case: asn1tools (its BER reader) reads these as the value whose DER is
    ``der_form``; they are not DER, and orthrus.der refuses them (RFC 4120 §5.1 wants DER;
    tests/test_attacks.py)."""
    assert ours(decode, data) is REFUSED
    assert theirs(decode, data) == ours(decode, der_form) is not REFUSED
    assert not canonical(decode, data) and canonical(decode, der_form)


# -- models written by both -------------------------------------------------------------------


def written_alike(
    decode: Callable[[bytes], Any], encode: Callable[[Any], bytes], value: Any
) -> None:
    """Both write ``value`` to the same octets, and both read them back to ``value``."""
    type_name, cls, _ = ORACLE[decode]
    encoded = encode(value)
    assert oracle_encode(ENCODED_AS.get(type_name, type_name), cls, value) == encoded
    assert agree(decode, encoded) == value


authenticators = st.builds(
    t.Authenticator,
    crealm=text,
    cname=principals,
    cusec=micros,
    ctime=times,
    cksum=st.none() | st.builds(t.Checksum, int32, octets),
    subkey=st.none() | keys,
    seq_number=st.none() | uint32,
    authorization_data=st.none()
    | st.lists(st.builds(t.AuthorizationDataEntry, int32, octets), max_size=2).map(tuple),
)


@settings(max_examples=150, deadline=None)
@given(authenticators)
def test_authenticators_are_written_as_the_oracle_writes_them(value: t.Authenticator) -> None:
    written_alike(der.decode_authenticator, der.encode_authenticator, value)


@settings(max_examples=150, deadline=None)
@given(
    msg_type=st.sampled_from([10, 12]),
    body=st.builds(
        t.KDCReqBody,
        kdc_options=uint32,
        realm=text,
        till=times,
        nonce=uint32,
        etype=st.lists(int32, max_size=6).map(tuple),
        cname=st.none() | principals,
        sname=st.none() | principals,
        from_=st.none() | times,
        rtime=st.none() | times,
        addresses=st.none()
        | st.lists(st.builds(t.HostAddress, int32, octets), max_size=2).map(tuple),
        enc_authorization_data=st.none() | encrypted,
        additional_tickets=st.none() | st.lists(tickets, max_size=2).map(tuple),
    ),
    pa=padata,
)
def test_kdc_requests_are_written_as_the_oracle_writes_them(
    msg_type: int, body: t.KDCReqBody, pa: tuple[t.PAData, ...] | None
) -> None:
    decode = der.decode_as_req if msg_type == 10 else der.decode_tgs_req
    written_alike(decode, der.encode_kdc_req, t.KDCReq(msg_type, body, pa))
    written_alike(der.decode_kdc_req_body, der.encode_kdc_req_body, body)


@settings(max_examples=150, deadline=None)
@given(
    rep=st.builds(
        t.KDCRep, st.sampled_from([11, 13]), text, principals, tickets, encrypted, padata
    ),
    part=st.builds(
        t.EncTicketPart,
        flags=uint32,
        key=keys,
        crealm=text,
        cname=principals,
        transited=st.builds(t.TransitedEncoding, int32, octets),
        authtime=times,
        endtime=times,
        starttime=st.none() | times,
        renew_till=st.none() | times,
        authorization_data=st.none()
        | st.lists(st.builds(t.AuthorizationDataEntry, int32, octets), max_size=2).map(tuple),
    ),
    ap=st.builds(t.APReq, uint32, tickets, encrypted),
)
def test_replies_tickets_and_ap_requests_are_written_as_the_oracle_writes_them(
    rep: t.KDCRep, part: t.EncTicketPart, ap: t.APReq
) -> None:
    decode = der.decode_as_rep if rep.msg_type == 11 else der.decode_tgs_rep
    written_alike(decode, der.encode_kdc_rep, rep)
    written_alike(der.decode_enc_ticket_part, der.encode_enc_ticket_part, part)
    written_alike(der.decode_ap_req, der.encode_ap_req, ap)


# -- SPNEGO and the Kerberos mechanism's tokens (RFC 4178 §4.2, RFC 4121 §4.1) ----------------

NEG_STATES = ["accept-completed", "accept-incomplete", "reject", "request-mic"]
oids = st.sampled_from([g.KRB5_OID, g.MS_KRB5_OID, "1.3.6.1.4.1.311.2.2.10", "2.39.1.128"])


def oracle_reads_right(oid: str) -> bool:
    """Whether asn1tools reads ``oid`` right (see the test below)."""
    first, second, *_ = oid.split(".")
    return first != "2" or int(second) < 40


def test_an_oid_whose_second_arc_is_over_39_under_2_is_where_the_oracle_is_wrong() -> None:
    """Named case: asn1tools reads the first subidentifier 1079 (X.690 §8.19.4: 2.999) as
    26.39; it writes it right. gss_tokens reads it as written."""
    init = g.NegTokenInit(("2.999.1.128", g.KRB5_OID))
    token = g.encode_neg_token_init(init)
    oracle = {
        "thisMech": g.SPNEGO_OID,
        "innerContextToken": ("negTokenInit", {"mechTypes": list(init.mech_types)}),
    }
    assert bytes(GSS_SPEC.encode("InitialNegToken", oracle)) == token
    _, inner = GSS_READER.decode("InitialNegToken", token)["innerContextToken"]
    assert inner["mechTypes"][0] == "26.39.1.128"
    assert g.decode_initial_token(token) == init


@settings(max_examples=150, deadline=None)
@given(
    init=st.builds(
        g.NegTokenInit, st.lists(oids, min_size=1, max_size=3).map(tuple), st.none() | octets
    ),
    resp=st.builds(
        g.NegTokenResp,
        st.none()
        | st.sampled_from(["accept-completed", "accept-incomplete", "reject", "request-mic"]),
        st.none() | oids,
        st.none() | octets,
    ),
    krb=st.builds(
        g.KerberosToken,
        st.sampled_from([g.TOK_AP_REQ, g.TOK_AP_REP, g.TOK_KRB_ERROR]),
        st.sampled_from([MIT["ap_req"], MIT["ap_rep"], MIT["error"]]),
        st.sampled_from(sorted(g.KERBEROS_MECHS)),
    ),
)
def test_spnego_tokens_are_written_and_read_as_the_oracle_does(
    init: g.NegTokenInit, resp: g.NegTokenResp, krb: g.KerberosToken
) -> None:
    token = g.encode_neg_token_init(init)
    inner: dict[str, Any] = {"mechTypes": list(init.mech_types)}
    if init.mech_token is not None:
        inner["mechToken"] = init.mech_token
    oracle = {"thisMech": g.SPNEGO_OID, "innerContextToken": ("negTokenInit", inner)}
    assert bytes(GSS_SPEC.encode("InitialNegToken", oracle)) == token
    assert GSS_READER.decode("InitialNegToken", token) == oracle
    assert g.decode_initial_token(token) == init

    answer = g.encode_neg_token_resp(resp)
    fields = {"negState": resp.neg_state, "supportedMech": resp.supported_mech}
    fields["responseToken"] = resp.response_token
    fields = {k: v for k, v in fields.items() if v is not None}
    assert bytes(GSS_SPEC.encode("NegotiationToken", ("negTokenResp", fields))) == answer
    assert g.decode_neg_token_resp(answer) == resp

    framed = g.encode_kerberos_token(krb)
    value = {"thisMech": krb.mech, "tokId": krb.tok_id, "message": krb.message}
    assert bytes(GSS_SPEC.encode("KerberosToken", value)) == framed
    assert g.decode_kerberos_token(framed) == krb == g.decode_initial_token(framed)


@settings(max_examples=300, deadline=None)
@given(
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), min_size=1, max_size=3),
    cut=st.integers(0, 400),
)
def test_mutated_spnego_tokens_that_orthrus_reads_the_oracle_reads_alike(
    edits: list[tuple[int, int]], cut: int
) -> None:
    """A flipped or cut NegTokenInit: whatever gss_tokens accepts, asn1tools reads to the
    same mechanisms and token (the reverse is the named case: asn1tools reads BER and
    ignores octets after a token, gss_tokens does not)."""
    framed = g.encode_kerberos_token(g.KerberosToken(g.TOK_AP_REQ, MIT["ap_req"]))
    data = bytearray(g.encode_neg_token_init(g.NegTokenInit((g.KRB5_OID, g.MS_KRB5_OID), framed)))
    for at, value in edits:
        data[at % len(data)] ^= value
    token = bytes(data[: max(cut, 1)] if cut < len(data) else data)
    try:
        first = g.decode_initial_token(token)
    except MalformedMessage:
        return
    mechs = first.mech_types if isinstance(first, g.NegTokenInit) else (first.mech,)
    if not all(map(oracle_reads_right, mechs)):
        return  # the named case above
    if isinstance(first, g.NegTokenInit):
        _, inner = GSS_READER.decode("InitialNegToken", token)["innerContextToken"]
        assert tuple(inner["mechTypes"]) == first.mech_types
        assert inner.get("mechToken") == first.mech_token
    else:
        value = GSS_READER.decode("KerberosToken", token)
        assert (value["thisMech"], value["message"]) == (first.mech, first.message)
