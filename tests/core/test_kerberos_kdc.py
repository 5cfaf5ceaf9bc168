"""The KDC's answers on the Kerberos wire (RFC 4120 §3.1, §3.3; DER, RFC 3962/8009), driven
sans-IO by the Kerberos client of :mod:`orthrus.kerberos.client`."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from core_realm import T0
from kerberos_realm import ETYPES, ITERATIONS, KerberosRealm

from kdc.kerberos_keys import default_salt
from orthrus import der
from orthrus.der import (
    PA_ETYPE_INFO2,
    decode_enc_ticket_part,
    decode_etype_info2,
    decode_method_data,
    find_padata,
    tlv,
)
from orthrus.enctypes import checksum_type, enctype
from orthrus.kerberos import kdc
from orthrus.kerberos.client import (
    KerberosCredential,
    as_request,
    read_kdc_rep,
    tgs_request,
)
from orthrus.kerberos.names import flags_from_bits, principal_name
from orthrus.kerberos.tickets import AD_ORTHRUS_AUTHZ, encrypt, open_kerberos_ticket
from orthrus.keys import KeyUsage
from orthrus.principal import Principal

PASSWORD = "correct horse"


@pytest.fixture
def realm() -> KerberosRealm:
    return KerberosRealm()


def test_as_without_preauth_asks_for_it_with_salt_and_iteration_count(realm: KerberosRealm) -> None:
    alice = realm.add_krb_user("alice", PASSWORD)
    error = realm.error(as_request(alice, realm.tgs, ETYPES, T0, os.urandom))
    assert error.error_code == 25  # KDC_ERR_PREAUTH_REQUIRED
    assert error.e_data is not None
    hint = find_padata(decode_method_data(error.e_data), PA_ETYPE_INFO2)
    assert hint is not None
    (entry,) = decode_etype_info2(hint.value)
    assert (entry.etype, entry.salt) == (20, default_salt(alice).decode())
    assert entry.s2kparams == ITERATIONS.to_bytes(4, "big")


@pytest.mark.parametrize("etype", ETYPES)
def test_as_gives_a_tgt_under_the_enctype_the_client_prefers(
    realm: KerberosRealm, etype: int
) -> None:
    alice = realm.add_krb_user("alice", PASSWORD)
    tgt = realm.krb_login(alice, PASSWORD, etypes=(etype, *ETYPES))
    assert tgt.session_key.enctype == etype
    assert tgt.client == alice and tgt.server == realm.tgs
    assert {"initial", "pre-authent"} <= set(flags_from_bits(tgt.flags))
    part = open_kerberos_ticket(tgt.ticket, realm.entries[realm.tgs])
    assert part.client == alice and part.key.to_keyblock() == tgt.session_key
    assert part.authorization_data is not None  # KDC-signed, inside AD-IF-RELEVANT
    assert realm.signer.verify_own(part, realm.tgs, 300, T0).groups == ()


@pytest.mark.parametrize("etype", [17, 19, 23])
def test_as_for_an_enctype_the_client_has_no_key_of_is_etype_nosupp(
    realm: KerberosRealm, etype: int
) -> None:
    alice = realm.add_krb_user("alice", PASSWORD)
    error = realm.error(as_request(alice, realm.tgs, (etype,), T0, os.urandom))
    assert error.error_code == 14  # KDC_ERR_ETYPE_NOSUPP


def test_tgs_gives_a_service_ticket_the_service_key_opens(realm: KerberosRealm) -> None:
    alice = realm.add_krb_user("alice", PASSWORD, groups=("staff",))
    web = realm.add_krb_service("HTTP/web")
    tgt = realm.krb_login(alice, PASSWORD)
    request = tgs_request(tgt, web, T0 + 1, os.urandom)
    ticket = read_kdc_rep(realm.reply(request, T0 + 1), request)
    assert ticket.server == web
    part = open_kerberos_ticket(ticket.ticket, realm.entries[web])
    assert part.client == alice
    assert realm.verifier().verify(part, web, 300, T0 + 1) == ("staff",)
    raw = enctype(20).decrypt(realm.krb_key(web), KeyUsage.TICKET, ticket.ticket.enc_part.cipher)
    entries = decode_enc_ticket_part(raw).authorization_data or ()
    assert entries and entries[0].ad_type == 1  # AD-IF-RELEVANT, which MIT clients ignore
    assert AD_ORTHRUS_AUTHZ < 0


def test_tgt_renewed_on_the_kerberos_wire(realm: KerberosRealm) -> None:
    alice = realm.add_krb_user("alice", PASSWORD)
    key = enctype(20).string_to_key(PASSWORD, default_salt(alice), ITERATIONS.to_bytes(4, "big"))
    request = as_request(alice, realm.tgs, ETYPES, T0, os.urandom, key, renewable_life=86400)
    assert request.message.req_body.rtime == int(T0) + 86400
    tgt = read_kdc_rep(realm.reply(request), request, key)
    assert "renewable" in flags_from_bits(tgt.flags)
    renew = tgs_request(tgt, realm.tgs, T0 + 60, os.urandom, options=("renew",))
    renewed = read_kdc_rep(realm.reply(renew, T0 + 60), renew)
    assert renewed.endtime > tgt.endtime


def test_garbage_is_a_krb_error_with_no_exchange(realm: KerberosRealm) -> None:
    for datagram in (b"", b"\x6a\xff", b"\x6c\xff", b"\xff\xff", b"\x6a\x03\x30\x01"):
        answer = realm.send(datagram)
        assert answer.exchange is None
        assert realm.error(datagram).error_code == 60  # KRB_ERR_GENERIC


def test_a_reply_too_big_for_a_datagram_is_response_too_big(realm: KerberosRealm) -> None:
    alice = realm.add_krb_user("alice", PASSWORD)
    key = enctype(20).string_to_key(PASSWORD, default_salt(alice), ITERATIONS.to_bytes(4, "big"))
    request = as_request(alice, realm.tgs, ETYPES, T0, os.urandom, key)
    answer = kdc.answer(request.encode(), realm.ctx, T0, max_reply=200)
    assert answer.error == "KRB_ERR_RESPONSE_TOO_BIG"
    assert realm.send(request.encode()).error is None  # unlimited (TCP): the AS-REP itself


def test_principal_without_kerberos_keys_is_etype_nosupp_saying_what_to_do(
    realm: KerberosRealm,
) -> None:
    bob = realm.add_user("bob", PASSWORD)
    error = realm.error(as_request(bob, realm.tgs, ETYPES, T0, os.urandom))
    assert error.error_code == 14
    assert error.e_text is not None and "orthrus-kdc cpw" in error.e_text


def tgs_req_with(
    realm: KerberosRealm,
    tgt: KerberosCredential,
    server: Principal,
    cksumtype: int | None,
    sealed_etype: int | None = None,
    short_options: bool = False,
) -> bytes:
    """A TGS-REQ whose authenticator carries a checksum of ``cksumtype`` over the body (None:
    no checksum), its EncryptedData labelled ``sealed_etype`` (default: the session key's);
    ``short_options``: the body's kdc-options sent as a BIT STRING of no bits, as the body's
    decoder reads it (a minimal named-bit list) but never writes it."""
    session = tgt.session_key
    body = der.KDCReqBody(
        kdc_options=0,
        realm=server.realm,
        till=int(T0) + 3600,
        nonce=7,
        etype=(session.enctype,),
        sname=principal_name(server),
    )
    cksum = None
    if cksumtype is not None:
        kind = checksum_type(cksumtype).enctype
        key = (
            session if kind.number == session.enctype else kind.random_to_key(b"k" * kind.key_size)
        )
        data = _body_octets(body, short_options)
        cksum = der.Checksum(cksumtype, kind.checksum(key, KeyUsage.TGS_REQ_AUTH_CHECKSUM, data))
    authenticator = der.Authenticator(
        crealm=tgt.client.realm,
        cname=principal_name(tgt.client),
        cusec=0,
        ctime=int(T0),
        cksum=cksum,
    )
    sealed = encrypt(
        session, KeyUsage.TGS_REQ_AUTHENTICATOR, der.encode_authenticator(authenticator), os.urandom
    )
    label = session.enctype if sealed_etype is None else sealed_etype
    ap_req = der.APReq(0, tgt.ticket, der.EncryptedData(label, sealed))
    padata = (der.PAData(der.PA_TGS_REQ, der.encode_ap_req(ap_req)),)
    if not short_options:
        return der.encode_kdc_req(der.KDCReq(12, body, padata))
    fields = (
        tlv.tlv(0xA1, tlv.write_integer(5))
        + tlv.tlv(0xA2, tlv.write_integer(12))
        + tlv.tlv(0xA3, der.encode_method_data(padata))
        + tlv.tlv(0xA4, _body_octets(body, short_options))
    )
    return tlv.tlv(tlv.application(12), tlv.tlv(tlv.SEQUENCE, fields))


def _body_octets(body: der.KDCReqBody, short_options: bool) -> bytes:
    data = der.encode_kdc_req_body(body)
    if not short_options:
        return data
    thirty_two_bits = tlv.tlv(0xA0, tlv.tlv(tlv.BIT_STRING, tlv.flags_octets(body.kdc_options)))
    assert body.kdc_options == 0 and data[2:].startswith(thirty_two_bits)
    return tlv.tlv(tlv.SEQUENCE, tlv.tlv(0xA0, b"\x03\x01\x00") + data[2 + len(thirty_two_bits) :])


def test_tgs_authenticator_checksum_bound_rightly_is_accepted(realm: KerberosRealm) -> None:
    alice = realm.add_krb_user("alice", PASSWORD)
    web = realm.add_krb_service("HTTP/web")
    tgt = realm.krb_login(alice, PASSWORD)
    assert realm.send(tgs_req_with(realm, tgt, web, 20)).error is None  # hmac-sha384-192


def test_tgs_checksum_covers_the_body_as_sent_not_as_encoded_again(realm: KerberosRealm) -> None:
    """A body whose kdc-options a peer sent in fewer than 32 bits (MIT reads them so) is
    encoded again in 32: the authenticator's checksum covers the octets as sent (RFC 4120
    §5.4.1; MIT's KDC checksums the req-body it received), so the request is answered."""
    alice = realm.add_krb_user("alice", PASSWORD)
    web = realm.add_krb_service("HTTP/web")
    tgt = realm.krb_login(alice, PASSWORD)
    request = tgs_req_with(realm, tgt, web, 20, short_options=True)
    body = der.decode_kdc_req(request).req_body
    assert body.octets is not None and body.octets != der.encode_kdc_req_body(body)
    assert replace(body, nonce=8).octets is None  # a changed copy is encoded, never stale
    assert realm.send(request).error is None


def test_tgs_authenticator_without_a_checksum_of_the_body_is_modified(
    realm: KerberosRealm,
) -> None:
    """The body of a TGS-REQ travels in clear: an authenticator that does not bind it (RFC
    4120 §5.4.1) would let anyone change the service, times or options asked for."""
    alice = realm.add_krb_user("alice", PASSWORD)
    web = realm.add_krb_service("HTTP/web")
    tgt = realm.krb_login(alice, PASSWORD)
    assert realm.error(tgs_req_with(realm, tgt, web, None)).error_code == 41


def test_tgs_checksum_of_a_type_the_session_key_cannot_make_is_inapp_cksum(
    realm: KerberosRealm,
) -> None:
    """A checksum type of another enctype than the session key's (RFC 3961 §4: a keyed
    checksum goes with its key) is refused before it is compared: KRB_AP_ERR_INAPP_CKSUM."""
    alice = realm.add_krb_user("alice", PASSWORD)
    web = realm.add_krb_service("HTTP/web")
    tgt = realm.krb_login(alice, PASSWORD)
    assert tgt.session_key.enctype == 20
    assert realm.error(tgs_req_with(realm, tgt, web, 16)).error_code == 50


def test_authenticator_labelled_with_another_enctype_is_modified(realm: KerberosRealm) -> None:
    """An EncryptedData whose etype is not its key's is refused, even though the ciphertext
    itself would open under the key: the label is part of what the client sent."""
    alice = realm.add_krb_user("alice", PASSWORD)
    web = realm.add_krb_service("HTTP/web")
    tgt = realm.krb_login(alice, PASSWORD)
    assert realm.error(tgs_req_with(realm, tgt, web, 20, sealed_etype=18)).error_code == 41


def test_forwarded_tgt_on_the_kerberos_wire(realm: KerberosRealm) -> None:
    """FORWARDED (RFC 4120 §2.6) from a FORWARDABLE TGT: a TGT flagged forwarded; from a TGT
    that is not forwardable, KDC_ERR_BADOPTION (13), as on the JSON wire; and
    CNAME-IN-ADDL-TKT (constrained delegation, the JSON API's only) is refused with 13."""
    alice = realm.add_krb_user("alice", PASSWORD)
    web = realm.add_krb_service("HTTP/web")
    key = enctype(20).string_to_key(PASSWORD, default_salt(alice), ITERATIONS.to_bytes(4, "big"))
    login = as_request(alice, realm.tgs, ETYPES, T0, os.urandom, key, options=("forwardable",))
    tgt = read_kdc_rep(realm.reply(login, T0), login, key)
    assert "forwardable" in flags_from_bits(tgt.flags)
    request = tgs_request(tgt, realm.tgs, T0 + 1, os.urandom, options=("forwarded",))
    forwarded = read_kdc_rep(realm.reply(request, T0 + 1), request)
    assert {"forwarded", "forwardable"} <= set(flags_from_bits(forwarded.flags))
    plain = realm.krb_login(alice, PASSWORD)
    refused = tgs_request(plain, realm.tgs, T0 + 1, os.urandom, options=("forwarded",))
    assert realm.error(refused, T0 + 1).error_code == 13
    proxy = tgs_request(tgt, web, T0 + 1, os.urandom)
    body = proxy.message.req_body
    bits = body.kdc_options | (1 << (31 - 14))  # cname-in-addl-tkt, MS-SFU §2.2.1
    asked = replace(proxy, message=replace(proxy.message, req_body=replace(body, kdc_options=bits)))
    assert realm.error(asked, T0 + 1).error_code == 13
