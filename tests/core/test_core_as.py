"""The AS exchange (login), KDC side and client side, with a fake clock."""

from __future__ import annotations

import base64
import os

import msgspec
import pytest
from core_realm import T0, CoreRealm, cheap_kdf, password_key

from orthrus import codec
from orthrus.ap import open_ticket
from orthrus.as_exchange import handle_as_req, read_as_rep
from orthrus.errors import ProtocolError
from orthrus.keys import Key, KeyUsage
from orthrus.messages import ASReq, PAData, PAEncTimestamp
from orthrus.principal import Principal
from orthrus.realm import RealmPolicy
from orthrus.seal import seal

HOUR, DAY = 3600, 86400
START = int(T0)


def refused(core: CoreRealm, req: ASReq, now: float = T0) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        core.as_exchange(req, now)
    assert 400 <= caught.value.http_status < 500
    return caught.value


def with_body(req: ASReq, **changes: object) -> ASReq:
    return msgspec.structs.replace(req, body=msgspec.structs.replace(req.body, **changes))


def with_stamp(req: ASReq, key: Key, usage: KeyUsage, stamp: PAEncTimestamp) -> ASReq:
    sealed = seal(key, usage, codec.encode(stamp), os.urandom)
    return msgspec.structs.replace(req, padata=[PAData("enc-timestamp", sealed)])


# -- happy path ------------------------------------------------------------------------------


def test_login_gives_a_tgt(core: CoreRealm, alice: Principal, alice_key: Key) -> None:
    req = core.as_req(alice, alice_key, T0, renewable_life=7 * DAY)
    rep = core.as_exchange(req, T0)
    tgt = read_as_rep(rep, req, alice_key, T0)
    assert tgt.client == alice
    assert tgt.server == core.tgs == rep.ticket.server
    assert sorted(tgt.flags) == ["initial", "pre-authent", "renewable"]
    assert (tgt.authtime, tgt.starttime) == (START, START)
    assert tgt.endtime == START + 10 * HOUR
    assert tgt.renew_till == START + 7 * DAY
    assert rep.ticket.kvno == 1
    # The ticket, opened with the krbtgt key, agrees with what the client was told.
    part = open_ticket(rep.ticket, core.key_of(core.tgs))
    assert part.client == alice
    assert part.key == tgt.key
    assert (part.starttime, part.endtime, part.renew_till) == (
        tgt.starttime,
        tgt.endtime,
        tgt.renew_till,
    )
    assert core.verifier().verify(part, core.tgs, 300, now=T0) == ("admins",)


def test_each_login_has_a_new_session_key(
    core: CoreRealm, alice: Principal, alice_key: Key
) -> None:
    first, second = (core.login(alice, alice_key) for _ in range(2))
    assert first.session_key != second.session_key


def test_not_renewable_unless_asked(core: CoreRealm, alice: Principal, alice_key: Key) -> None:
    tgt = core.login(alice, alice_key)
    assert sorted(tgt.flags) == ["initial", "pre-authent"]
    assert tgt.renew_till is None
    short = core.login(alice, alice_key, lifetime=2 * HOUR, renewable_life=HOUR)
    assert short.renew_till is None  # a renewable life shorter than the life is no renewal
    assert "renewable" not in short.flags


@pytest.mark.parametrize(
    ("lifetime", "expected"),
    [(0, 10 * HOUR), (1800, 1800), (HOUR, HOUR), (10 * HOUR, 10 * HOUR), (3 * DAY, 10 * HOUR)],
)
def test_lifetime_honoured_up_to_the_realm_maximum(
    core: CoreRealm, alice: Principal, alice_key: Key, lifetime: int, expected: int
) -> None:
    tgt = core.login(alice, alice_key, lifetime=lifetime)
    assert tgt.endtime - tgt.starttime == expected


def test_lifetime_capped_by_client_and_server_max_life(
    core: CoreRealm, alice: Principal, alice_key: Key
) -> None:
    core.change(alice, max_life=HOUR)
    assert core.login(alice, alice_key).endtime == START + HOUR
    assert core.login(alice, alice_key, lifetime=1800).endtime == START + 1800
    core.change(alice, max_life=None)
    core.change(core.tgs, max_life=2 * HOUR)
    assert core.login(alice, alice_key).endtime == START + 2 * HOUR


def test_renewable_life_capped_by_policy_and_principal(alice_key: Key) -> None:
    core = CoreRealm(policy=RealmPolicy("EX.TEST", max_life=HOUR, max_renewable_life=DAY))
    alice = core.add_user("alice", "alice-pass")
    key = core.user_key(alice, "alice-pass")
    tgt = core.login(alice, key, renewable_life=30 * DAY)
    assert tgt.endtime == START + HOUR
    assert tgt.renew_till == START + DAY
    core.change(alice, max_renewable_life=5 * HOUR)
    assert core.login(alice, key, renewable_life=30 * DAY).renew_till == START + 5 * HOUR
    assert core.login(alice, key, renewable_life=3 * HOUR).renew_till == START + 3 * HOUR


def test_a_till_in_the_past_is_never_valid(
    core: CoreRealm, alice: Principal, alice_key: Key
) -> None:
    req = core.as_req(alice, alice_key, T0)
    for till in (START - 10, START, 1):
        error = refused(core, with_body(req, till=till))
        assert error.name == "KDC_ERR_NEVER_VALID"
        assert "-l" in error.message


def test_as_for_a_service_ticket(core: CoreRealm, alice: Principal, alice_key: Key, http) -> None:
    req = core.as_req(alice, alice_key, T0, server=http)
    credential = read_as_rep(core.as_exchange(req), req, alice_key, T0)
    assert credential.server == http
    assert "initial" in credential.flags


# -- pre-authentication ----------------------------------------------------------------------


def test_preauth_required_carries_kvno_and_kdf(core: CoreRealm, alice: Principal) -> None:
    error = refused(core, core.as_req(alice, None))
    assert error.name == "KDC_ERR_PREAUTH_REQUIRED"
    assert error.code == 25
    assert error.http_status == 401
    params = cheap_kdf(str(alice))
    assert error.data["kvno"] == 1
    kdf = error.data["kdf"]
    assert base64.b64decode(kdf["salt"]) == params.salt
    assert kdf == {
        "salt": kdf["salt"],
        "algorithm": "argon2id",
        "iterations": 1,
        "memory_kib": 8192,
        "lanes": 1,
    }
    # The hint is enough to derive the key, and it is public: no key material in it.
    hinted = msgspec.convert(kdf, type(params))
    assert password_key("alice-pass", alice, hinted, 1) == core.key_of(alice)
    assert core.key_of(alice).material.hex() not in str(error.to_json())


def test_wrong_password_is_preauth_failed(core: CoreRealm, alice: Principal) -> None:
    wrong = password_key("alice-pas", alice, cheap_kdf(str(alice)), 1)
    error = refused(core, core.as_req(alice, wrong))
    assert error.name == "KDC_ERR_PREAUTH_FAILED"
    assert error.code == 24
    assert error.data["kvno"] == 1
    assert "alice-pas" not in error.message


@pytest.mark.parametrize("offset", [301, -301, 3600, -86400])
def test_preauth_outside_skew_is_refused(
    core: CoreRealm, alice: Principal, alice_key: Key, offset: int
) -> None:
    error = refused(core, core.as_req(alice, alice_key, T0 + offset), T0)
    assert error.name == "KRB_AP_ERR_SKEW"
    assert ("ahead of" if offset > 0 else "behind") in error.message


@pytest.mark.parametrize("offset", [300, -300, 0])
def test_preauth_at_the_skew_limit_is_accepted(
    core: CoreRealm, alice: Principal, alice_key: Key, offset: int
) -> None:
    req = core.as_req(alice, alice_key, T0 + offset)
    assert read_as_rep(core.as_exchange(req, T0), req, alice_key, T0 + offset).client == alice


def test_preauth_from_a_wildly_wrong_clock_is_skew(
    core: CoreRealm, alice: Principal, alice_key: Key
) -> None:
    stamp = PAEncTimestamp(patimestamp=2**40 - 1, pausec=0)
    req = with_stamp(core.as_req(alice, None), alice_key, KeyUsage.AS_REQ_PA_ENC_TIMESTAMP, stamp)
    assert refused(core, req).name == "KRB_AP_ERR_SKEW"


@pytest.mark.parametrize(
    "usage", [u for u in KeyUsage if u is not KeyUsage.AS_REQ_PA_ENC_TIMESTAMP]
)
def test_preauth_sealed_for_another_usage_is_refused(
    core: CoreRealm, alice: Principal, alice_key: Key, usage: KeyUsage
) -> None:
    stamp = PAEncTimestamp(patimestamp=START, pausec=0)
    req = with_stamp(core.as_req(alice, None), alice_key, usage, stamp)
    assert refused(core, req).name == "KDC_ERR_PREAUTH_FAILED"


@pytest.mark.parametrize(
    "value",
    [
        "x",
        "a.b.c.d.e",
        "eyJhbGciOiJkaXIifQ....",
        "e30.." + "A" * 16 + ".AA." + "A" * 22,
    ],
)
def test_garbage_preauth_is_preauth_failed(core: CoreRealm, alice: Principal, value: str) -> None:
    req = msgspec.structs.replace(core.as_req(alice, None), padata=[PAData("enc-timestamp", value)])
    assert refused(core, req).name == "KDC_ERR_PREAUTH_FAILED"


def test_preauth_naming_an_unknown_kvno_is_preauth_failed(
    core: CoreRealm, alice: Principal, alice_key: Key
) -> None:
    for kvno in (0, 2, 99):
        assert refused(core, core.as_req(alice, alice_key.with_kvno(kvno))).name == (
            "KDC_ERR_PREAUTH_FAILED"
        )


def test_preauth_garbage_plaintext_is_preauth_failed(
    core: CoreRealm, alice: Principal, alice_key: Key
) -> None:
    sealed = seal(alice_key, KeyUsage.AS_REQ_PA_ENC_TIMESTAMP, b'{"when": 1}', os.urandom)
    req = msgspec.structs.replace(
        core.as_req(alice, None), padata=[PAData("enc-timestamp", sealed)]
    )
    assert refused(core, req).name == "KDC_ERR_PREAUTH_FAILED"


def test_old_password_no_longer_logs_in_after_a_change(core: CoreRealm, alice: Principal) -> None:
    """After cpw the old key stays (for tickets already issued) but logs nobody in."""
    old = core.key_of(alice)
    params = cheap_kdf(str(alice), 2)
    new = password_key("new-pass", alice, params, 2)
    core.change(alice, keys={1: old, 2: new}, kvno=2, kdf=params)
    error = refused(core, core.as_req(alice, old))
    assert error.name == "KDC_ERR_PREAUTH_FAILED"
    assert error.data["kvno"] == 2  # the hint leads the client to the current key
    assert core.login(alice, new).client == alice


def test_no_preauth_principal_gets_the_kdf_in_the_reply(core: CoreRealm) -> None:
    carol = core.add_user("carol", "carol-pass", requires_preauth=False)
    req = core.as_req(carol, None)
    rep = core.as_exchange(req)
    assert rep.kdf == cheap_kdf(str(carol))
    key = password_key("carol-pass", carol, rep.kdf, 1)
    tgt = read_as_rep(rep, req, key, T0)
    assert sorted(tgt.flags) == ["initial"]


# -- who may ask -----------------------------------------------------------------------------


def test_unknown_client(core: CoreRealm) -> None:
    error = refused(core, core.as_req(core.principal("mallory"), None))
    assert error.name == "KDC_ERR_C_PRINCIPAL_UNKNOWN"
    assert error.code == 6
    assert "mallory@EX.TEST" in error.message


def test_unknown_server(core: CoreRealm, alice: Principal, alice_key: Key) -> None:
    req = core.as_req(alice, alice_key, server=core.principal("HTTP/nowhere"))
    error = refused(core, req)
    assert error.name == "KDC_ERR_S_PRINCIPAL_UNKNOWN"
    assert "HTTP/nowhere@EX.TEST" in error.message


def test_other_realm(core: CoreRealm, alice_key: Key) -> None:
    stranger = Principal.parse("alice@OTHER.TEST")
    assert refused(core, core.as_req(stranger, alice_key)).name == "KDC_ERR_WRONG_REALM"
    alice = core.principal("alice")
    req = core.as_req(alice, alice_key, server=Principal.parse("krbtgt/OTHER.TEST@OTHER.TEST"))
    assert refused(core, req).name == "KDC_ERR_WRONG_REALM"


def test_disallowed_principals(core: CoreRealm, alice: Principal, alice_key: Key, http) -> None:
    core.change(alice, allow_tickets=False)
    error = refused(core, core.as_req(alice, alice_key))
    assert error.name == "KDC_ERR_POLICY"
    assert error.http_status == 403
    core.change(alice, allow_tickets=True)
    core.change(http, allow_tickets=False)
    assert refused(core, core.as_req(alice, alice_key, server=http)).name == "KDC_ERR_POLICY"


def test_handle_as_req_is_pure(core: CoreRealm, alice: Principal, alice_key: Key) -> None:
    """The KDC side keeps no state: the same request is answered twice (no replay cache)."""
    req = core.as_req(alice, alice_key)
    handle_as_req(req, core.ctx, T0)
    handle_as_req(req, core.ctx, T0)
    assert len(core.replay) == 0
