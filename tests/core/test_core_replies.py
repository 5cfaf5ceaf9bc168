"""The client's checks of KDC replies, the AP exchange, and mutual authentication."""

from __future__ import annotations

import dataclasses
import os

import msgspec
import pytest
from core_realm import T0, CoreRealm

from orthrus import codec
from orthrus.ap import (
    APRules,
    AuthenticatorFields,
    make_ap_rep,
    make_ap_req,
    read_ap_rep,
    verify_ap_req,
)
from orthrus.as_exchange import read_as_rep
from orthrus.credentials import Credential
from orthrus.errors import APError, MalformedMessage
from orthrus.httpauth import http_binding
from orthrus.keys import Key, KeyUsage
from orthrus.messages import APRep, ASRep, EncAPRepPart, EncKDCRepPart, TGSRep
from orthrus.principal import Principal
from orthrus.replay import MemoryReplayCache
from orthrus.seal import open_sealed, seal
from orthrus.tgs_exchange import make_tgs_req, read_tgs_rep


def forged(call, *args) -> str:
    with pytest.raises(APError) as caught:
        call(*args)
    assert caught.value.name == "KRB_AP_ERR_MODIFIED"
    return caught.value.message


# -- AS-REP ----------------------------------------------------------------------------------


@pytest.fixture
def as_pair(core: CoreRealm, alice: Principal, alice_key: Key):
    req = core.as_req(alice, alice_key, T0)
    return req, core.as_exchange(req, T0)


def test_as_rep_read(as_pair, alice_key: Key) -> None:
    req, rep = as_pair
    assert read_as_rep(rep, req, alice_key, T0).endtime > T0


def test_as_rep_with_another_nonce(as_pair, alice_key: Key) -> None:
    req, rep = as_pair
    other = msgspec.structs.replace(req, body=msgspec.structs.replace(req.body, nonce=1))
    assert "another nonce" in forged(read_as_rep, rep, other, alice_key, T0)


def test_as_rep_for_another_server(
    core: CoreRealm, as_pair, alice: Principal, alice_key: Key, http: Principal
) -> None:
    req, rep = as_pair
    # A genuine reply, same nonce, but for a ticket to another server than asked for.
    other_req = msgspec.structs.replace(req, body=msgspec.structs.replace(req.body, server=http))
    other_rep = core.as_exchange(other_req, T0)
    assert "names server" in forged(read_as_rep, other_rep, req, alice_key, T0)
    # Only the clear ticket relabelled: refused too.
    relabelled = msgspec.structs.replace(
        rep, ticket=msgspec.structs.replace(rep.ticket, server=http)
    )
    assert "names server" in forged(read_as_rep, relabelled, req, alice_key, T0)


def test_as_rep_for_another_client(as_pair, alice_key: Key) -> None:
    req, rep = as_pair
    bob = msgspec.structs.replace(rep, client=Principal.parse("bob@EX.TEST"))
    assert "is for bob@EX.TEST" in forged(read_as_rep, bob, req, alice_key, T0)


def test_as_rep_under_another_key(
    core: CoreRealm, as_pair, alice_key: Key, alice: Principal
) -> None:
    req, rep = as_pair
    forged(read_as_rep, rep, req, Key.generate(os.urandom, 1), T0)
    # An impostor KDC sealing its own part under a key of its choosing: refused.
    bob_key = core.user_key(core.principal("bob"), "bob-pass")
    bob_req = core.as_req(core.principal("bob"), bob_key, T0)
    bob_rep = core.as_exchange(bob_req, T0)
    spliced = msgspec.structs.replace(rep, enc_part=bob_rep.enc_part)
    forged(read_as_rep, spliced, req, alice_key, T0)


def test_as_rep_part_sealed_for_another_usage(as_pair, alice_key: Key) -> None:
    req, rep = as_pair
    part = codec.decode(
        open_sealed(alice_key, KeyUsage.AS_REP_ENC_PART, rep.enc_part), EncKDCRepPart
    )
    resealed = seal(alice_key, KeyUsage.TGS_REP_ENC_PART_SESSKEY, codec.encode(part), os.urandom)
    forged(read_as_rep, msgspec.structs.replace(rep, enc_part=resealed), req, alice_key, T0)


def test_as_rep_that_decrypts_to_garbage(as_pair, alice_key: Key) -> None:
    req, rep = as_pair
    garbage = seal(alice_key, KeyUsage.AS_REP_ENC_PART, b'{"nonce": "x"}', os.urandom)
    message = forged(
        read_as_rep, msgspec.structs.replace(rep, enc_part=garbage), req, alice_key, T0
    )
    assert "garbage" in message


def test_as_rep_with_impossible_times(as_pair, alice_key: Key) -> None:
    req, rep = as_pair
    late = T0 + 10 * 3600 + 301
    assert "impossible ticket times" in forged(read_as_rep, rep, req, alice_key, late)


# -- TGS-REP ---------------------------------------------------------------------------------


@pytest.fixture
def tgs_pair(core: CoreRealm, tgt: Credential, http: Principal):
    request = make_tgs_req(tgt, http, T0, os.urandom)
    return request, core.tgs_exchange(request, T0)


def test_tgs_rep_checks(core: CoreRealm, tgs_pair, tgt: Credential, http: Principal) -> None:
    request, rep = tgs_pair
    assert read_tgs_rep(rep, request, T0).server == http
    other_nonce = dataclasses.replace(
        request,
        message=msgspec.structs.replace(
            request.message, body=msgspec.structs.replace(request.message.body, nonce=3)
        ),
    )
    assert "another nonce" in forged(read_tgs_rep, rep, other_nonce, T0)
    bob = msgspec.structs.replace(rep, client=Principal.parse("bob@EX.TEST"))
    assert "is for bob" in forged(read_tgs_rep, bob, request, T0)
    relabelled = msgspec.structs.replace(
        rep, ticket=msgspec.structs.replace(rep.ticket, server=core.tgs)
    )
    assert "names server" in forged(read_tgs_rep, relabelled, request, T0)
    # Another request's reply (other subkey) does not open.
    second = make_tgs_req(tgt, http, T0, os.urandom)
    forged(read_tgs_rep, rep, second, T0)


def test_tgs_rep_under_the_session_key_instead_of_the_subkey(tgs_pair, tgt: Credential) -> None:
    request, rep = tgs_pair
    part = seal(tgt.session_key, KeyUsage.TGS_REP_ENC_PART_SUBKEY, b"{}", os.urandom)
    forged(read_tgs_rep, msgspec.structs.replace(rep, enc_part=part), request, T0)


def test_as_rep_is_not_a_tgs_rep(core: CoreRealm, as_pair) -> None:
    _, rep = as_pair
    with pytest.raises(MalformedMessage):
        codec.decode(codec.encode(rep), TGSRep)
    assert codec.decode(codec.encode(rep), ASRep) == rep


# -- AP exchange and mutual authentication ---------------------------------------------------


@pytest.fixture
def service_ticket(core: CoreRealm, tgt: Credential, http: Principal) -> Credential:
    return core.service_ticket(tgt, http, T0)


@pytest.fixture
def keys_for(core: CoreRealm, http: Principal):
    return lambda p: core.entries[p].keys if p == http else None


def test_ap_exchange_with_mutual_auth(
    service_ticket: Credential, keys_for, alice: Principal
) -> None:
    ap_req, sent = make_ap_req(service_ticket, T0, os.urandom, AuthenticatorFields(mutual=True))
    verified = verify_ap_req(ap_req, keys_for, T0 + 1, APRules(MemoryReplayCache()))
    assert verified.ticket.client == alice
    assert verified.mutual_required
    part = read_ap_rep(make_ap_rep(verified, os.urandom), service_ticket.session_key, sent)
    assert (part.ctime, part.cusec) == (sent.ctime, sent.cusec)


def mut_fail(ap_rep: APRep, key: Key, sent) -> str:
    with pytest.raises(APError) as caught:
        read_ap_rep(ap_rep, key, sent)
    assert caught.value.name == "KRB_AP_ERR_MUT_FAIL"
    assert caught.value.code == 46
    return caught.value.message


def test_ap_rep_for_another_authenticator_is_mut_fail(service_ticket: Credential, keys_for) -> None:
    ap_req, sent = make_ap_req(service_ticket, T0, os.urandom, AuthenticatorFields(mutual=True))
    verified = verify_ap_req(ap_req, keys_for, T0, APRules(MemoryReplayCache()))
    ap_rep = make_ap_rep(verified, os.urandom)
    for change in ({"ctime": sent.ctime - 1}, {"cusec": (sent.cusec + 1) % 1_000_000}):
        other = msgspec.structs.replace(sent, **change)
        assert "another authenticator" in mut_fail(ap_rep, service_ticket.session_key, other)


def test_ap_rep_under_another_key_is_mut_fail(service_ticket: Credential, keys_for) -> None:
    ap_req, sent = make_ap_req(service_ticket, T0, os.urandom, AuthenticatorFields(mutual=True))
    verified = verify_ap_req(ap_req, keys_for, T0, APRules(MemoryReplayCache()))
    ap_rep = make_ap_rep(verified, os.urandom)
    assert "impostor" in mut_fail(ap_rep, Key.generate(os.urandom), sent)
    # An impostor echoing the time under a key of its own, or another usage: refused.
    echo = EncAPRepPart(ctime=sent.ctime, cusec=sent.cusec)
    fake = APRep(
        seal(Key.generate(os.urandom), KeyUsage.AP_REP_ENC_PART, codec.encode(echo), os.urandom)
    )
    mut_fail(fake, service_ticket.session_key, sent)
    wrong_usage = seal(
        service_ticket.session_key, KeyUsage.AP_REQ_AUTHENTICATOR, codec.encode(echo), os.urandom
    )
    mut_fail(APRep(wrong_usage), service_ticket.session_key, sent)
    garbage = seal(service_ticket.session_key, KeyUsage.AP_REP_ENC_PART, b"[]", os.urandom)
    mut_fail(APRep(garbage), service_ticket.session_key, sent)


def test_ap_checks_in_order(
    core: CoreRealm, service_ticket: Credential, keys_for, http: Principal
) -> None:
    def refused(ap_req, keys=keys_for, now=T0, rules=None) -> str:
        with pytest.raises(APError) as caught:
            verify_ap_req(ap_req, keys, now, rules or APRules(MemoryReplayCache()))
        return caught.value.name

    ap_req, _ = make_ap_req(service_ticket, T0, os.urandom, AuthenticatorFields())
    assert refused(ap_req, keys=lambda p: None) == "KRB_AP_ERR_NOT_US"
    assert refused(ap_req, keys=lambda p: {2: core.key_of(http)}) == "KRB_AP_ERR_BADKEYVER"
    assert refused(ap_req, keys=lambda p: {1: Key.generate(os.urandom, 1)}) == (
        "KRB_AP_ERR_MODIFIED"
    )
    tgs_usage = APRules(MemoryReplayCache(), usage=KeyUsage.TGS_REQ_AUTHENTICATOR)
    assert refused(ap_req, rules=tgs_usage) == "KRB_AP_ERR_MODIFIED"
    late = service_ticket.endtime + 301
    late_req, _ = make_ap_req(service_ticket, late, os.urandom, AuthenticatorFields())
    assert refused(late_req, now=late) == "KRB_AP_ERR_TKT_EXPIRED"
    assert refused(ap_req, now=T0 + 301) == "KRB_AP_ERR_SKEW"
    cache = MemoryReplayCache()
    verify_ap_req(ap_req, keys_for, T0, APRules(cache))
    assert refused(ap_req, rules=APRules(cache)) == "KRB_AP_ERR_REPEAT"


def test_ap_request_binding(service_ticket: Credential, keys_for) -> None:
    bound = AuthenticatorFields(checksum=http_binding("GET", "/api"))
    ap_req, _ = make_ap_req(service_ticket, T0, os.urandom, bound)
    cache = MemoryReplayCache()
    other = APRules(cache, expected_checksum=http_binding("POST", "/api"))
    with pytest.raises(APError, match="does not match"):
        verify_ap_req(ap_req, keys_for, T0, other)
    assert len(cache) == 0  # refused for the binding: not in the replay cache
    verify_ap_req(
        ap_req, keys_for, T0, APRules(cache, expected_checksum=http_binding("get", "/api"))
    )
    unbound, _ = make_ap_req(service_ticket, T0, os.urandom, AuthenticatorFields())
    rules = APRules(MemoryReplayCache(), expected_checksum=http_binding("GET", "/api"))
    with pytest.raises(APError, match="no checksum"):
        verify_ap_req(unbound, keys_for, T0, rules)
    lenient = APRules(
        MemoryReplayCache(), expected_checksum=http_binding("GET", "/api"), require_checksum=False
    )
    verify_ap_req(unbound, keys_for, T0, lenient)
