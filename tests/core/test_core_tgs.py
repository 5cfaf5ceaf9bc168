"""The TGS exchange (service tickets and renewal), KDC side, with a fake clock."""

from __future__ import annotations

import dataclasses
import os

import msgspec
import pytest
from core_realm import T0, CoreRealm, flip_byte, with_part

from orthrus.ap import AuthenticatorFields, make_ap_req, open_ticket
from orthrus.codec import body_checksum
from orthrus.credentials import Credential
from orthrus.errors import ProtocolError
from orthrus.keys import Key, KeyUsage
from orthrus.messages import KDCReqBody, TGSReq
from orthrus.principal import Principal
from orthrus.tgs_exchange import TGSRequest, make_tgs_req, read_tgs_rep

HOUR, DAY = 3600, 86400
START = int(T0)


def request(
    tgt: Credential, server: Principal, now: float = T0, body: KDCReqBody | None = None
) -> TGSRequest:
    return make_tgs_req(tgt, server, now, os.urandom, body)


def refused(core: CoreRealm, message: TGSRequest | TGSReq, now: float = T0) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        core.tgs_exchange(message, now)
    assert 400 <= caught.value.http_status < 500
    return caught.value


def with_ticket_part(tgt: Credential, enc_part: str) -> Credential:
    return msgspec.structs.replace(
        tgt, ticket=msgspec.structs.replace(tgt.ticket, enc_part=enc_part)
    )


def renew_body(tgt: Credential, server: Principal | None = None) -> KDCReqBody:
    return KDCReqBody(
        server=server or tgt.server,
        nonce=int.from_bytes(os.urandom(7), "big"),
        till=tgt.renew_till or tgt.endtime,
        options=["renew"],
    )


# -- service tickets -------------------------------------------------------------------------


def test_service_ticket(core: CoreRealm, tgt: Credential, http: Principal, alice) -> None:
    req = request(tgt, http, T0 + 60)
    rep = core.tgs_exchange(req, T0 + 60)
    ticket = read_tgs_rep(rep, req, T0 + 60)
    assert ticket.client == alice and ticket.server == http
    assert ticket.flags == ["pre-authent"]
    assert (ticket.authtime, ticket.starttime) == (START, START + 60)
    assert ticket.endtime == tgt.endtime
    assert ticket.renew_till is None
    assert ticket.session_key != tgt.session_key
    part = open_ticket(rep.ticket, core.key_of(http))
    assert part.client == alice
    assert part.key == ticket.key
    assert core.verifier().verify(part, http, 300, now=T0) == ("admins",)
    assert len(core.replay) == 1


def test_service_ticket_uses_the_current_service_key(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    core.change(http, keys={1: core.key_of(http), 2: Key.generate(os.urandom, 2)}, kvno=2)
    ticket = core.service_ticket(tgt, http)
    assert ticket.ticket.kvno == 2
    open_ticket(ticket.ticket, core.key_of(http, 2))


def test_service_ticket_never_outlives_the_tgt(
    core: CoreRealm, alice: Principal, alice_key: Key, http: Principal
) -> None:
    tgt = core.login(alice, alice_key, T0, lifetime=HOUR, renewable_life=DAY)
    for now in (T0, T0 + 1800, T0 + HOUR - 1):
        ticket = core.service_ticket(tgt, http, now)
        assert ticket.endtime == tgt.endtime
        assert ticket.renew_till is None
    body = KDCReqBody(
        server=http,
        nonce=5,
        till=START + 5 * DAY,
        renew_till=START + 30 * DAY,
        options=["renewable"],
    )
    req = request(tgt, http, T0, body)
    ticket = read_tgs_rep(core.tgs_exchange(req), req, T0)
    assert ticket.endtime == tgt.endtime
    assert ticket.renew_till == tgt.renew_till
    assert "renewable" in ticket.flags


def test_service_ticket_capped_by_service_max_life(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    core.change(http, max_life=HOUR)
    assert core.service_ticket(tgt, http, T0 + 10).endtime == START + 10 + HOUR


def test_service_ticket_shorter_life_honoured(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    req = request(tgt, http, T0, KDCReqBody(server=http, nonce=7, till=START + 1800))
    assert read_tgs_rep(core.tgs_exchange(req), req, T0).endtime == START + 1800
    req = request(tgt, http, T0, KDCReqBody(server=http, nonce=8, till=START - 1))
    assert refused(core, req).name == "KDC_ERR_NEVER_VALID"


def test_tgt_under_an_older_krbtgt_key_still_works(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    core.change(core.tgs, keys={1: core.key_of(core.tgs), 2: Key.generate(os.urandom, 2)}, kvno=2)
    assert core.service_ticket(tgt, http).server == http
    core.change(core.tgs, keys={2: core.key_of(core.tgs, 2)})
    error = refused(core, request(tgt, http))
    assert error.name == "KRB_AP_ERR_BADKEYVER"
    assert error.data == {"ticket_kvno": 1, "available_kvnos": [2]}


# -- tampering, replay, binding ----------------------------------------------------------------


@pytest.mark.parametrize("part", [0, 2, 3, 4])
def test_tampered_tgt_is_modified(
    core: CoreRealm, tgt: Credential, http: Principal, part: int
) -> None:
    enc_part = tgt.ticket.enc_part
    tampered = with_part(enc_part, part, flip_byte(enc_part.split(".")[part], 5))
    error = refused(core, request(with_ticket_part(tgt, tampered), http))
    assert error.name == "KRB_AP_ERR_MODIFIED"
    assert len(core.replay) == 0


@pytest.mark.parametrize("cut", [1, 10, 40])
def test_truncated_tgt_is_modified(
    core: CoreRealm, tgt: Credential, http: Principal, cut: int
) -> None:
    truncated = tgt.ticket.enc_part[:-cut]
    assert refused(core, request(with_ticket_part(tgt, truncated), http)).name == (
        "KRB_AP_ERR_MODIFIED"
    )


def test_tgt_with_a_swapped_ticket_name_is_refused(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    """The clear server name is bound into the sealed ticket: relabelling it fails."""
    other_tgs = core.add_service("krbtgt/OTHER.TEST")
    core.change(other_tgs, keys={1: core.key_of(core.tgs)})
    relabelled = msgspec.structs.replace(
        tgt, ticket=msgspec.structs.replace(tgt.ticket, server=other_tgs)
    )
    assert refused(core, request(relabelled, http)).name == "KDC_ERR_WRONG_REALM"


def test_expired_tgt(core: CoreRealm, tgt: Credential, http: Principal) -> None:
    late = tgt.endtime + 301
    error = refused(core, request(tgt, http, late), late)
    assert error.name == "KRB_AP_ERR_TKT_EXPIRED"
    # At end + skew the TGT still passes the time check, but any ticket would be past.
    on_time = tgt.endtime + 300
    assert refused(core, request(tgt, http, on_time), on_time).name == "KDC_ERR_NEVER_VALID"
    just_before = tgt.endtime - 1
    assert core.service_ticket(tgt, http, just_before).endtime == tgt.endtime


def test_tgt_not_yet_valid(core: CoreRealm, tgt: Credential, http: Principal) -> None:
    early = T0 - 301
    assert refused(core, request(tgt, http, early), early).name == "KRB_AP_ERR_TKT_NYV"


def test_replayed_request_is_refused(core: CoreRealm, tgt: Credential, http: Principal) -> None:
    req = request(tgt, http)
    core.tgs_exchange(req, T0)
    error = refused(core, req, T0 + 1)
    assert error.name == "KRB_AP_ERR_REPEAT"
    assert error.code == 34
    # Once the authenticator is too old to pass the skew check, that is what refuses it.
    assert refused(core, req, T0 + 302).name == "KRB_AP_ERR_SKEW"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"server": Principal.parse("krbtgt/EX.TEST@EX.TEST")}, id="server"),
        pytest.param({"nonce": 12345}, id="nonce"),
        pytest.param({"till": START + 60}, id="till"),
        pytest.param({"options": ["renewable"]}, id="options"),
        pytest.param({"renew_till": START + DAY}, id="renew_till"),
    ],
)
def test_body_changed_under_a_valid_authenticator_is_modified(
    core: CoreRealm, tgt: Credential, http: Principal, change: dict
) -> None:
    req = request(tgt, http)
    changed = msgspec.structs.replace(
        req.message, body=msgspec.structs.replace(req.message.body, **change)
    )
    error = refused(core, changed)
    assert error.name == "KRB_AP_ERR_MODIFIED"
    assert "changed after the client made it" in error.message


def test_rejected_request_does_not_enter_the_replay_cache(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    """An attacker racing a changed body with the client's authenticator cannot lock the
    client's own request out: refused requests never reach the replay cache."""
    req = request(tgt, http)
    changed = msgspec.structs.replace(
        req.message, body=msgspec.structs.replace(req.message.body, nonce=1)
    )
    assert refused(core, changed).name == "KRB_AP_ERR_MODIFIED"
    assert len(core.replay) == 0
    assert read_tgs_rep(core.tgs_exchange(req), req, T0).server == http
    assert len(core.replay) == 1


@pytest.mark.parametrize("case", ["unknown-service", "revoked-client", "bad-option"])
def test_request_refused_after_the_authenticator_checks_leaves_no_replay_entry(
    core: CoreRealm, tgt: Credential, http: Principal, alice: Principal, case: str
) -> None:
    """The replay entry is stored only once every check has passed, including the TGS's
    own (service known, client still there, options allowed): a refused request changes
    no state, and the same request is refused for the same reason again."""
    if case == "unknown-service":
        req, expected = request(tgt, core.principal("HTTP/nowhere")), "KDC_ERR_S_PRINCIPAL_UNKNOWN"
    elif case == "revoked-client":
        req, expected = request(tgt, http), "KDC_ERR_CLIENT_REVOKED"
        del core.entries[alice]
    else:
        req, expected = request(tgt, http, T0, renew_body(tgt, http)), "KDC_ERR_BADOPTION"
    assert refused(core, req).name == expected
    assert len(core.replay) == 0
    assert refused(core, req, T0 + 1).name == expected


def test_authenticator_sealed_for_ap_usage_is_modified(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    body = KDCReqBody(server=http, nonce=99, till=tgt.endtime)
    for usage in (KeyUsage.AP_REQ_AUTHENTICATOR, KeyUsage.AS_REQ_PA_ENC_TIMESTAMP):
        fields = AuthenticatorFields(usage=usage, checksum=body_checksum(body))
        ap_req, _ = make_ap_req(tgt, T0, os.urandom, fields)
        assert refused(core, TGSReq(ap_req=ap_req, body=body)).name == "KRB_AP_ERR_MODIFIED"


def test_authenticator_without_checksum_is_modified(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    body = KDCReqBody(server=http, nonce=99, till=tgt.endtime)
    fields = AuthenticatorFields(usage=KeyUsage.TGS_REQ_AUTHENTICATOR)
    ap_req, _ = make_ap_req(tgt, T0, os.urandom, fields)
    error = refused(core, TGSReq(ap_req=ap_req, body=body))
    assert error.name == "KRB_AP_ERR_MODIFIED"
    assert "no checksum" in error.message


def test_authenticator_under_another_key_is_modified(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    stolen = msgspec.structs.replace(
        tgt, key=msgspec.structs.replace(tgt.key, value=os.urandom(32))
    )
    assert refused(core, request(stolen, http)).name == "KRB_AP_ERR_MODIFIED"


@pytest.mark.parametrize("offset", [301, -301])
def test_authenticator_skew(core: CoreRealm, tgt: Credential, http: Principal, offset: int) -> None:
    error = refused(core, request(tgt, http, T0 + 600 + offset), T0 + 600)
    assert error.name == "KRB_AP_ERR_SKEW"
    assert "KDC" in error.message


def test_authenticator_of_another_client_is_badmatch(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    posing = msgspec.structs.replace(tgt, client=core.principal("bob"))
    error = refused(core, request(posing, http))
    assert error.name == "KRB_AP_ERR_BADMATCH"
    assert "bob@EX.TEST" in error.message and "alice@EX.TEST" in error.message


# -- which tickets and services ----------------------------------------------------------------


def test_tgt_of_another_realm_is_wrong_realm(core: CoreRealm, http: Principal) -> None:
    other = CoreRealm("OTHER.TEST")
    carol = other.add_user("carol", "carol-pass")
    foreign = other.login(carol, other.user_key(carol, "carol-pass"))
    assert foreign.server == Principal.parse("krbtgt/OTHER.TEST@OTHER.TEST")
    error = refused(core, request(foreign, http))
    assert error.name == "KDC_ERR_WRONG_REALM"
    assert "EX.TEST" in error.message


def test_service_ticket_offered_as_tgt_is_not_us(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    service_ticket = core.service_ticket(tgt, http)
    error = refused(core, request(service_ticket, http, T0 + 1), T0 + 1)
    assert error.name == "KRB_AP_ERR_NOT_US"
    assert "orthrus kinit" in error.message


def test_unknown_service(core: CoreRealm, tgt: Credential) -> None:
    for name in ("HTTP/nowhere@EX.TEST", "HTTP/web@OTHER.TEST"):
        error = refused(core, request(tgt, Principal.parse(name)))
        assert error.name == "KDC_ERR_S_PRINCIPAL_UNKNOWN"
        assert name in error.message


def test_disallowed_service(core: CoreRealm, tgt: Credential, http: Principal) -> None:
    core.change(http, allow_tickets=False)
    assert refused(core, request(tgt, http)).name == "KDC_ERR_POLICY"


def test_password_principal_is_a_server_only_with_allow_svr(
    core: CoreRealm, tgt: Credential
) -> None:
    """A principal whose key comes from a password (bob) is no ticket's server unless
    allow_svr is set; that refusal comes before the disabled check, and with names hidden it
    is exactly the answer for a name that does not exist."""
    bob = core.principal("bob")
    core.change(bob, allow_tickets=False)
    assert refused(core, request(tgt, bob)).name == "KDC_ERR_MUST_USE_USER2USER"
    core.change(bob, allow_svr=True)
    assert refused(core, request(tgt, bob)).name == "KDC_ERR_POLICY"
    core.change(bob, allow_svr=False, allow_tickets=True)
    policy = dataclasses.replace(core.policy, hide_unknown_principals=True)
    core.ctx = dataclasses.replace(core.ctx, policy=policy)
    answers = []
    for name in ("bob@EX.TEST", "nobody@EX.TEST"):
        error = refused(core, request(tgt, Principal.parse(name)))
        answers.append((error.http_status, str(error.to_json()).replace(name, "S")))
    assert answers[0] == answers[1]
    assert "KDC_ERR_S_PRINCIPAL_UNKNOWN" in answers[0][1]


def test_client_deleted_or_disabled_after_tgt(
    core: CoreRealm, tgt: Credential, http: Principal, alice: Principal
) -> None:
    core.change(alice, allow_tickets=False)
    assert refused(core, request(tgt, http)).name == "KDC_ERR_CLIENT_REVOKED"
    del core.entries[alice]
    error = refused(core, request(tgt, http))
    assert error.name == "KDC_ERR_CLIENT_REVOKED"
    assert error.http_status == 403


def test_groups_come_from_the_database_at_issue(
    core: CoreRealm, tgt: Credential, http: Principal, alice: Principal
) -> None:
    core.change(alice, groups=("admins", "ops"))
    part = open_ticket(core.service_ticket(tgt, http).ticket, core.key_of(http))
    assert core.verifier().verify(part, http, 300, now=T0) == ("admins", "ops")


# -- renewal -------------------------------------------------------------------------------------


def renew(core: CoreRealm, tgt: Credential, now: float) -> Credential:
    req = request(tgt, tgt.server, now, renew_body(tgt))
    return read_tgs_rep(core.tgs_exchange(req, now), req, now)


def test_renewal_before_endtime(core: CoreRealm, tgt: Credential, http: Principal) -> None:
    now = T0 + 9 * HOUR
    renewed = renew(core, tgt, now)
    assert renewed.server == core.tgs
    assert renewed.starttime == int(now)
    assert renewed.endtime == int(now) + 10 * HOUR
    assert renewed.renew_till == tgt.renew_till
    assert renewed.authtime == tgt.authtime
    assert sorted(renewed.flags) == ["pre-authent", "renewable"]
    assert renewed.session_key != tgt.session_key
    # The renewed TGT works for service tickets past the old TGT's end.
    later = T0 + 12 * HOUR
    assert core.service_ticket(renewed, http, later).endtime == renewed.endtime


def test_renewal_never_passes_renew_till(core: CoreRealm, alice: Principal, alice_key: Key) -> None:
    tgt = core.login(alice, alice_key, T0, lifetime=10 * HOUR, renewable_life=DAY)
    renewed = renew(core, tgt, T0 + 9 * HOUR)
    renewed = renew(core, renewed, T0 + 18 * HOUR)
    assert renewed.endtime == tgt.renew_till == START + DAY
    # After renew_till (the ticket itself still within its end + skew), no more renewal.
    late = tgt.renew_till + 100
    req = request(renewed, renewed.server, late, renew_body(renewed))
    error = refused(core, req, late)
    assert error.name == "KRB_AP_ERR_TKT_EXPIRED"
    assert "renewable life is over" in error.message


def test_renewal_of_a_non_renewable_tgt(core: CoreRealm, alice: Principal, alice_key: Key) -> None:
    tgt = core.login(alice, alice_key, T0)
    req = request(tgt, tgt.server, T0 + 60, renew_body(tgt))
    error = refused(core, req, T0 + 60)
    assert error.name == "KDC_ERR_BADOPTION"
    assert "-r" in error.message


def test_renewal_for_another_server_is_badoption(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    req = request(tgt, http, T0, renew_body(tgt, http))
    assert refused(core, req).name == "KDC_ERR_BADOPTION"


def test_tgs_reply_without_subkey_is_sealed_under_the_session_key(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    from orthrus.kdcrep import ReplyExpectation, read_kdc_reply

    body = KDCReqBody(server=http, nonce=42, till=tgt.endtime)
    fields = AuthenticatorFields(usage=KeyUsage.TGS_REQ_AUTHENTICATOR, checksum=body_checksum(body))
    ap_req, _ = make_ap_req(tgt, T0, os.urandom, fields)
    rep = core.tgs_exchange(TGSReq(ap_req=ap_req, body=body))
    expect = ReplyExpectation(tgt.client, http, 42, T0)
    usage = KeyUsage.TGS_REP_ENC_PART_SESSKEY
    credential = read_kdc_reply(
        rep.client, rep.ticket, rep.enc_part, (tgt.session_key, usage), expect
    )
    assert credential.server == http
