"""Cross-realm trust in the protocol core (RFC 4120 §1.2, §3.3.3.2): the transited field's
encoding, and a ticket of B.TEST for a client of A.TEST through a cross-realm TGT."""

from __future__ import annotations

import dataclasses
import os

import pytest
from core_realm import T0
from kerberos_realm import KerberosRealm, random_keys
from two_realms import A, B, TwoRealms

from orthrus.ap import open_ticket
from orthrus.crossrealm import CrossRealmPolicy, decode_transited, encode_transited
from orthrus.enctypes import enctype
from orthrus.errors import MalformedMessage, ProtocolError
from orthrus.kerberos.client import KerberosCredential, tgs_request
from orthrus.kerberos.tickets import open_kerberos_ticket, seal_kerberos_ticket
from orthrus.keys import Key
from orthrus.messages import EncryptionKey, EncTicketPart, KDCReqBody
from orthrus.principal import Principal
from orthrus.realm import PrincipalEntry
from orthrus.tgs_exchange import make_tgs_req, read_tgs_rep


def test_transited_decodes_rfc_4120_example() -> None:
    # RFC 4120 §3.3.3.2's example of DOMAIN-X500-COMPRESS.
    assert decode_transited("EDU,MIT.,ATHENA.,WASHINGTON.EDU,CS.") == (
        "EDU",
        "MIT.EDU",
        "ATHENA.MIT.EDU",
        "WASHINGTON.EDU",
        "CS.WASHINGTON.EDU",
    )
    assert decode_transited("/COM,/HP,/APOLLO") == ("/COM", "/COM/HP", "/COM/HP/APOLLO")


def test_transited_round_trips_with_escapes() -> None:
    realms = ("A.TEST", "ODD,NAME", "BACK\\SLASH")
    assert decode_transited(encode_transited(realms)) == realms
    assert encode_transited(()) == "" and decode_transited("") == ()


@pytest.mark.parametrize("contents", [",A.TEST", "A.TEST,", "A.TEST,,B.TEST", "A\\", "R," * 17])
def test_transited_without_definite_realms_is_refused(contents: str) -> None:
    with pytest.raises(MalformedMessage):
        decode_transited(contents)


def test_client_of_a_gets_ticket_of_b() -> None:
    realms = TwoRealms()
    realms.policy(foreign_groups={f"*@{A}": ("guests",), f"alice@{A}": ("readers",)})
    cross = realms.cross_tgt()
    assert cross.server == realms.trust and cross.client == realms.alice
    request = make_tgs_req(cross, realms.svc, T0 + 1, os.urandom)
    ticket = read_tgs_rep(realms.b.tgs_exchange(request, T0 + 1), request, T0 + 1)
    assert ticket.client == realms.alice and ticket.server == realms.svc
    assert "transited-policy-checked" in ticket.flags
    part = open_ticket(ticket.ticket, realms.b.key_of(realms.svc))
    assert part.client == realms.alice and part.transited == ""
    # B.TEST vouches for the client with its own key, with its own groups for it only.
    groups = realms.b.verifier().verify(part, realms.svc, 300, T0 + 1)
    assert groups == ("guests", "readers")


def test_foreign_client_has_no_groups_unless_mapped() -> None:
    realms = TwoRealms()
    ticket = realms.b.service_ticket(realms.cross_tgt(), realms.svc, T0 + 1)
    part = open_ticket(ticket.ticket, realms.b.key_of(realms.svc))
    assert realms.b.verifier().verify(part, realms.svc, 300, T0 + 1) == ()


def test_path_through_a_trusted_realm_is_recorded() -> None:
    realms = TwoRealms()
    realms.policy(capaths={"C.TEST": ("A.TEST",)})
    ticket = realms.b.service_ticket(realms.forged("carol@C.TEST"), realms.svc, T0 + 1)
    part = open_ticket(ticket.ticket, realms.b.key_of(realms.svc))
    assert part.client.realm == "C.TEST" and decode_transited(part.transited) == (A,)
    assert "transited-policy-checked" in part.flags


def test_local_tickets_carry_no_transited_path() -> None:
    realms = TwoRealms()
    part = open_ticket(realms.cross_tgt().ticket, realms.a.key_of(realms.trust))
    assert part.transited == "" and "transited-policy-checked" not in part.flags


def test_cross_realm_tgt_cannot_be_renewed_at_b() -> None:
    realms = TwoRealms()
    cross = realms.cross_tgt()
    body = KDCReqBody(server=cross.server, nonce=1, till=cross.endtime, options=["renew"])
    with pytest.raises(ProtocolError) as caught:
        realms.b.tgs_exchange(make_tgs_req(cross, cross.server, T0 + 1, os.urandom, body), T0 + 1)
    assert caught.value.name == "KDC_ERR_POLICY"
    assert B in str(caught.value)


# -- the Kerberos wire ------------------------------------------------------------------------


def der_cross_tgt(realm: KerberosRealm, client: str, transited: str) -> KerberosCredential:
    """A DER cross-realm TGT ``krbtgt/EX.TEST@A.TEST`` made with the trust key."""
    trust = Principal(("krbtgt", realm.name), A)
    key = random_keys()[0]
    realm.entries[trust] = PrincipalEntry(
        trust, {1: Key.generate(os.urandom, 1)}, 1, kerberos_keys=(key,)
    )
    session = enctype(20).random_to_key(os.urandom(32))
    part = EncTicketPart(
        flags=["pre-authent"],
        key=EncryptionKey.from_keyblock(session),
        client=Principal.parse(client),
        authtime=int(T0),
        starttime=int(T0),
        endtime=int(T0) + 3600,
        transited=transited,
    )
    ticket = seal_kerberos_ticket(part, trust, key.key, 1, os.urandom)
    return KerberosCredential(part.client, trust, ticket, session, part.endtime)


def test_der_transited_path_is_written_and_checked() -> None:
    realm = KerberosRealm()
    web = realm.add_krb_service("HTTP/web")
    realm.ctx = dataclasses.replace(
        realm.ctx, cross_realm=CrossRealmPolicy(capaths={"C.TEST": (A,)})
    )
    reply = realm.reply(tgs_request(der_cross_tgt(realm, "carol@C.TEST", ""), web, T0, os.urandom))
    part = open_kerberos_ticket(reply.ticket, realm.entries[web])
    assert part.client == Principal.parse("carol@C.TEST") and part.transited == A
    assert "transited-policy-checked" in part.flags
    forged = der_cross_tgt(realm, "carol@C.TEST", "EVIL.TEST")
    assert realm.error(tgs_request(forged, web, T0 + 1, os.urandom)).error_code == 12


# -- referrals (RFC 6806 §8) ------------------------------------------------------------------


def ask_a(realms: TwoRealms, server: str, *options: str) -> Principal:
    """The server of the ticket A.TEST's TGS issues to alice for ``server``."""
    tgt = realms.a.login(realms.alice, realms.a.user_key(realms.alice, "alice-pass"))
    body = KDCReqBody(
        server=Principal.parse(server), nonce=7, till=tgt.endtime, options=list(options)
    )  # type: ignore[arg-type]
    request = make_tgs_req(tgt, body.server, T0 + 1, os.urandom, body)
    return realms.a.tgs_exchange(request, T0 + 1).ticket.server


def test_a_refers_a_canonicalize_request_for_bs_service() -> None:
    realms = TwoRealms()
    assert ask_a(realms, f"HTTP/svc@{B}", "canonicalize") == realms.trust
    realms.a.ctx = dataclasses.replace(
        realms.a.ctx, cross_realm=CrossRealmPolicy(domain_realm={".b.test": B})
    )
    assert ask_a(realms, f"HTTP/web.b.test@{A}", "canonicalize") == realms.trust


@pytest.mark.parametrize(
    ("server", "options"),
    [
        (f"HTTP/svc@{B}", ()),
        ("HTTP/svc@C.TEST", ("canonicalize",)),
        (f"HTTP/x@{A}", ("canonicalize",)),
    ],
)
def test_no_referral_without_canonicalize_or_trust(server: str, options: tuple[str, ...]) -> None:
    with pytest.raises(ProtocolError) as caught:
        ask_a(TwoRealms(), server, *options)
    assert caught.value.name == "KDC_ERR_S_PRINCIPAL_UNKNOWN"
