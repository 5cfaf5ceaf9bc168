"""Every check of the service verifier (RFC 4120 §3.2.3), each shown to refuse what it must.

Each test asserts the exact error name, so removing a check makes its test fail: the
request is then either accepted or refused by a later check with another name.
"""

from __future__ import annotations

import os
import string

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from realm_helpers import SERVICE, Clock, MakeVerifier, MiniRealm, ap_token, reseal, token

from orthrus.ap import open_ticket, read_ap_rep
from orthrus.authz import AuthzSigner
from orthrus.codec import encode
from orthrus.errors import APError, ProtocolError
from orthrus.httpauth import decode_ap_rep, decode_ap_req, encode_ap_req
from orthrus.keys import Key, KeyUsage
from orthrus.messages import Authenticator
from orthrus.principal import Principal
from orthrus.seal import seal
from service_lib import Verifier


def refused(verifier: Verifier, tok: str, name: str, **where: str) -> APError:
    """Assert ``tok`` is refused with ``name``, and that the replay cache did not grow."""
    before = len(verifier.replay_cache)  # type: ignore[arg-type]
    with pytest.raises(ProtocolError) as info:
        verifier.verify(tok, **where)
    assert info.value.name == name, info.value
    assert len(verifier.replay_cache) == before  # type: ignore[arg-type]
    assert isinstance(info.value, APError)
    return info.value


def test_a_good_ticket_gives_the_identity(realm: MiniRealm, verifier: Verifier) -> None:
    cred = realm.credential("alice")
    identity = verifier.verify(token(cred))
    assert str(identity.principal) == "alice@SVC.TEST"
    assert identity.groups == ("admins", "staff")
    assert str(identity.service) == SERVICE
    assert (identity.authtime, identity.starttime, identity.endtime) == (
        cred.authtime,
        cred.starttime,
        cred.endtime,
    )
    assert identity.auth_method == "ticket"
    assert identity.session_key == cred.session_key
    assert "session_key" not in repr(identity)
    assert cred.session_key.material.hex() not in repr(identity)
    assert len(verifier.replay_cache) == 1  # type: ignore[arg-type]


def test_mutual_reply_token_proves_the_service(realm: MiniRealm, verifier: Verifier) -> None:
    cred = realm.credential("alice")
    tok, sent = ap_token(cred, mutual=True)
    identity = verifier.verify(tok)
    assert identity.mutual_required
    part = read_ap_rep(decode_ap_rep(verifier.reply_token(identity)), cred.session_key, sent)
    assert (part.ctime, part.cusec) == (sent.ctime, sent.cusec)


def test_not_us_ticket_for_another_service(realm: MiniRealm, verifier: Verifier) -> None:
    cred = realm.credential("alice", "HTTP/other@SVC.TEST")
    error = refused(verifier, token(cred), "KRB_AP_ERR_NOT_US")
    assert "HTTP/other@SVC.TEST" in error.message


def test_not_us_ticket_from_another_realm(verifier: Verifier) -> None:
    other = MiniRealm("OTHER.TEST")
    other.add_service("HTTP/localhost@OTHER.TEST")
    other.add_user("alice")
    refused(
        verifier, token(other.credential("alice", "HTTP/localhost@OTHER.TEST")), "KRB_AP_ERR_NOT_US"
    )


def test_badkeyver_names_both_versions(realm: MiniRealm, clock: Clock) -> None:
    cred = realm.credential("alice")  # kvno 1
    realm.rotate(keep_old=False)  # the keytab now only has kvno 2
    from orthrus.replay import MemoryReplayCache
    from service_lib import KeytabSource

    verifier = Verifier(KeytabSource.from_keytab(realm.keytab()), MemoryReplayCache(), clock=clock)
    error = refused(verifier, token(cred), "KRB_AP_ERR_BADKEYVER")
    assert "kvno 1" in error.message and "kvno 2" in error.message
    assert error.data == {"ticket_kvno": 1, "available_kvnos": [2]}


def _tamper(sealed: str) -> str:
    header, key, nonce, body, tag = sealed.split(".")
    flipped = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    return ".".join((header, key, nonce, flipped, tag))


def test_modified_ticket(realm: MiniRealm, verifier: Verifier) -> None:
    cred = realm.credential("alice")
    ap_req = decode_ap_req(token(cred))
    bad = msgspec.structs.replace(
        ap_req,
        ticket=msgspec.structs.replace(ap_req.ticket, enc_part=_tamper(ap_req.ticket.enc_part)),
    )
    refused(verifier, encode_ap_req(bad), "KRB_AP_ERR_MODIFIED")


def test_modified_authenticator(realm: MiniRealm, verifier: Verifier) -> None:
    ap_req = decode_ap_req(token(realm.credential("alice")))
    bad = msgspec.structs.replace(ap_req, authenticator=_tamper(ap_req.authenticator))
    refused(verifier, encode_ap_req(bad), "KRB_AP_ERR_MODIFIED")


def _authenticator(cred_client: Principal, now: float) -> bytes:
    return encode(Authenticator(client=cred_client, ctime=int(now), cusec=0))


def test_authenticator_sealed_under_the_wrong_key(
    realm: MiniRealm, verifier: Verifier, clock: Clock
) -> None:
    cred = realm.credential("alice")
    wrong = seal(
        Key.generate(os.urandom),
        KeyUsage.AP_REQ_AUTHENTICATOR,
        _authenticator(cred.client, clock.now),
        os.urandom,
    )
    ap_req = msgspec.structs.replace(decode_ap_req(token(cred)), authenticator=wrong)
    refused(verifier, encode_ap_req(ap_req), "KRB_AP_ERR_MODIFIED")


def test_authenticator_sealed_for_the_wrong_usage(
    realm: MiniRealm, verifier: Verifier, clock: Clock
) -> None:
    cred = realm.credential("alice")
    # A TGS authenticator under the right session key must not pass as an AP one.
    wrong = seal(
        cred.session_key,
        KeyUsage.TGS_REQ_AUTHENTICATOR,
        _authenticator(cred.client, clock.now),
        os.urandom,
    )
    ap_req = msgspec.structs.replace(decode_ap_req(token(cred)), authenticator=wrong)
    refused(verifier, encode_ap_req(ap_req), "KRB_AP_ERR_MODIFIED")


def test_authenticator_from_another_ticket(realm: MiniRealm, verifier: Verifier) -> None:
    alice = decode_ap_req(token(realm.credential("alice")))
    bob = decode_ap_req(token(realm.credential("bob")))
    mixed = msgspec.structs.replace(alice, authenticator=bob.authenticator)
    refused(verifier, encode_ap_req(mixed), "KRB_AP_ERR_MODIFIED")


def test_ticket_not_yet_valid(realm: MiniRealm, verifier: Verifier, clock: Clock) -> None:
    cred = realm.credential("alice", now=clock.now + 3600)
    refused(verifier, token(cred, now=clock.now), "KRB_AP_ERR_TKT_NYV")


def test_ticket_expired(realm: MiniRealm, verifier: Verifier, clock: Clock) -> None:
    cred = realm.credential("alice", now=clock.now - 11 * 3600)
    assert cred.endtime + 300 < clock.now
    refused(verifier, token(cred, now=clock.now), "KRB_AP_ERR_TKT_EXPIRED")


def test_ticket_still_valid_within_skew_after_its_end(
    realm: MiniRealm, verifier: Verifier, clock: Clock
) -> None:
    cred = realm.credential("alice", now=clock.now - 10 * 3600 - 200)
    assert cred.endtime < clock.now < cred.endtime + 300
    verifier.verify(token(cred, now=clock.now))


def test_badmatch_authenticator_names_another_client(realm: MiniRealm, verifier: Verifier) -> None:
    cred = realm.credential("alice")
    as_bob = msgspec.structs.replace(cred, client=Principal.parse("bob@SVC.TEST"))
    refused(verifier, token(as_bob), "KRB_AP_ERR_BADMATCH")


@pytest.mark.parametrize(("offset", "word"), [(301, "ahead of"), (-301, "behind")])
def test_skew(realm: MiniRealm, verifier: Verifier, clock: Clock, offset: int, word: str) -> None:
    cred = realm.credential("alice", now=clock.now - 400)
    error = refused(verifier, token(cred, now=clock.now + offset), "KRB_AP_ERR_SKEW")
    assert f"301 s {word}" in error.message and "limit is 300 s" in error.message
    assert error.data["server_time"] == int(clock.now)
    assert error.data["client_time"] == int(clock.now + offset)


def test_skew_within_the_limit_is_accepted(
    realm: MiniRealm, verifier: Verifier, clock: Clock
) -> None:
    cred = realm.credential("alice", now=clock.now - 400)
    verifier.verify(token(cred, now=clock.now + 299))
    verifier.verify(token(cred, now=clock.now - 299))


def test_max_skew_setting(realm: MiniRealm, make_verifier: MakeVerifier, clock: Clock) -> None:
    verifier = make_verifier(max_skew=30)
    cred = realm.credential("alice", now=clock.now - 100)
    refused(verifier, token(cred, now=clock.now - 31), "KRB_AP_ERR_SKEW")


def test_replay_is_refused(realm: MiniRealm, verifier: Verifier) -> None:
    tok = token(realm.credential("alice"))
    verifier.verify(tok)
    refused(verifier, tok, "KRB_AP_ERR_REPEAT")


def test_replay_in_another_spelling_is_refused(realm: MiniRealm, verifier: Verifier) -> None:
    """base64url with other unused trailing bits: refused as malformed or as a replay."""
    ap_req = decode_ap_req(token(realm.credential("alice")))
    verifier.verify(encode_ap_req(ap_req))
    header, key, nonce, body, tag = ap_req.authenticator.split(".")
    # The tag is 16 bytes: 22 characters whose last one has 4 unused bits.
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    respelled = tag[:-1] + alphabet[alphabet.index(tag[-1]) ^ 1]
    assert respelled != tag
    twin = msgspec.structs.replace(
        ap_req, authenticator=".".join((header, key, nonce, body, respelled))
    )
    before = len(verifier.replay_cache)  # type: ignore[arg-type]
    with pytest.raises(ProtocolError) as info:
        verifier.verify(encode_ap_req(twin))
    assert info.value.name in {"KRB_AP_ERR_REPEAT", "KRB_AP_ERR_MODIFIED"}
    assert len(verifier.replay_cache) == before  # type: ignore[arg-type]


def test_binding_to_method_and_path(realm: MiniRealm, verifier: Verifier) -> None:
    cred = realm.credential("alice")
    verifier.verify(token(cred, binding=("GET", "/notes")), method="GET", path="/notes")
    refused(
        verifier,
        token(cred, binding=("GET", "/notes")),
        "KRB_AP_ERR_MODIFIED",
        method="DELETE",
        path="/notes",
    )
    refused(
        verifier,
        token(cred, binding=("GET", "/notes")),
        "KRB_AP_ERR_MODIFIED",
        method="GET",
        path="/admin/stats",
    )


def test_binding_required_when_bind_requests(realm: MiniRealm, make_verifier: MakeVerifier) -> None:
    verifier = make_verifier(bind_requests=True)
    cred = realm.credential("alice")
    refused(verifier, token(cred), "KRB_AP_ERR_MODIFIED", method="GET", path="/notes")
    verifier.verify(token(cred, binding=("GET", "/notes")), method="GET", path="/notes")
    with pytest.raises(TypeError):
        verifier.verify(token(cred))


def test_unbound_token_accepted_when_binding_optional(realm: MiniRealm, verifier: Verifier) -> None:
    verifier.verify(token(realm.credential("alice")), method="GET", path="/notes")


def test_authz_missing_is_refused(realm: MiniRealm, verifier: Verifier) -> None:
    cred = realm.credential("alice")
    stripped = reseal(cred, realm.key(), authorization_data=None)
    error = refused(verifier, token(stripped), "KRB_AP_ERR_MODIFIED")
    assert "no KDC-signed authorization data" in error.message


def test_authz_optional_when_not_required(realm: MiniRealm, make_verifier: MakeVerifier) -> None:
    verifier = make_verifier(require_authz=False)
    stripped = reseal(realm.credential("alice"), realm.key(), authorization_data=None)
    assert verifier.verify(token(stripped)).groups == ()


def test_authz_required_needs_the_kdc_keys(make_verifier: MakeVerifier) -> None:
    from orthrus.errors import ConfigError

    with pytest.raises(ConfigError, match="kdc_jwks"):
        make_verifier(jwks=False)


def test_silver_ticket_with_extra_groups_is_refused(realm: MiniRealm, verifier: Verifier) -> None:
    """A stolen service key re-seals bob's ticket claiming admins, signed by a key of its own."""
    cred = realm.credential("bob")
    part = open_ticket(cred.ticket, realm.key())
    forger = AuthzSigner(Ed25519PrivateKey.generate(), "kdc-1", realm.name)
    signed = forger.sign(part, cred.server, ("admins",))
    error = refused(
        verifier, token(reseal(cred, realm.key(), authorization_data=signed)), "KRB_AP_ERR_MODIFIED"
    )
    assert "does not verify" in error.message


def test_silver_ticket_with_a_longer_life_is_refused(realm: MiniRealm, verifier: Verifier) -> None:
    cred = realm.credential("alice")
    part = open_ticket(cred.ticket, realm.key())
    longer = reseal(cred, realm.key(), endtime=part.endtime + 86400)
    refused(verifier, token(longer), "KRB_AP_ERR_MODIFIED")


def test_silver_ticket_for_another_client_is_refused(realm: MiniRealm, verifier: Verifier) -> None:
    cred = realm.credential("bob")
    alice = Principal.parse("alice@SVC.TEST")
    forged = msgspec.structs.replace(reseal(cred, realm.key(), client=alice), client=alice)
    refused(verifier, token(forged), "KRB_AP_ERR_MODIFIED")


def test_authz_from_another_ticket_is_refused(realm: MiniRealm, verifier: Verifier) -> None:
    """alice's genuine signed data moved into bob's ticket (re-sealed with the service key)."""
    alice_part = open_ticket(realm.credential("alice").ticket, realm.key())
    bob = realm.credential("bob")
    moved = reseal(
        bob, realm.key(), authorization_data=alice_part.authorization_data, client=alice_part.client
    )
    moved = msgspec.structs.replace(moved, client=alice_part.client)
    error = refused(verifier, token(moved), "KRB_AP_ERR_MODIFIED")
    assert "another ticket" in error.message


def test_authz_signed_by_another_realms_kdc_is_refused(
    realm: MiniRealm, verifier: Verifier
) -> None:
    other = AuthzSigner(Ed25519PrivateKey.generate(), "other", realm.name)
    cred = realm.credential("alice", signer=other)
    refused(verifier, token(cred), "KRB_AP_ERR_MODIFIED")


def test_expired_ticket_reports_expiry_not_authz(
    realm: MiniRealm, verifier: Verifier, clock: Clock
) -> None:
    """Ticket times come before the signature: an old ticket says TKT_EXPIRED."""
    cred = realm.credential("alice", now=clock.now - 12 * 3600)
    refused(verifier, token(cred, now=clock.now), "KRB_AP_ERR_TKT_EXPIRED")


def test_signature_checked_once_per_ticket(
    realm: MiniRealm, verifier: Verifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orthrus.authz import AuthzClaims, AuthzVerifier

    calls = []
    original = AuthzVerifier.claims

    def counting(self: AuthzVerifier, *args: object, **kwargs: object) -> AuthzClaims:
        calls.append(1)
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    # Tickets first: the KDC checks the signature of each TGT too, and that is not counted.
    cred, other = realm.credential("alice"), realm.credential("bob")
    monkeypatch.setattr(AuthzVerifier, "claims", counting)
    for _ in range(5):
        assert verifier.verify(token(cred)).groups == ("admins", "staff")
    assert len(calls) == 1
    verifier.verify(token(other))
    assert len(calls) == 2
    assert len(verifier.ticket_cache) == 2


def test_cached_ticket_still_gets_every_authenticator_check(
    realm: MiniRealm, verifier: Verifier, clock: Clock
) -> None:
    cred = realm.credential("alice")
    verifier.verify(token(cred))  # now cached
    refused(verifier, token(cred, now=clock.now + 400), "KRB_AP_ERR_SKEW")
    refused(
        verifier,
        token(msgspec.structs.replace(cred, client=Principal.parse("bob@SVC.TEST"))),
        "KRB_AP_ERR_BADMATCH",
    )
    clock.now = cred.endtime + 301
    refused(verifier, token(cred, now=clock.now), "KRB_AP_ERR_TKT_EXPIRED")


def test_ticket_cache_is_bounded(realm: MiniRealm, make_verifier: MakeVerifier) -> None:
    verifier = make_verifier(ticket_cache_size=3)
    for _ in range(5):
        verifier.verify(token(realm.credential("alice")))
    assert len(verifier.ticket_cache) == 3


def test_rejected_bad_authz_is_not_cached(realm: MiniRealm, verifier: Verifier) -> None:
    stripped = reseal(realm.credential("alice"), realm.key(), authorization_data=None)
    refused(verifier, token(stripped), "KRB_AP_ERR_MODIFIED")
    refused(verifier, token(stripped), "KRB_AP_ERR_MODIFIED")
    assert len(verifier.ticket_cache) == 0


def test_the_verifier_clock_is_the_only_clock(
    realm: MiniRealm, verifier: Verifier, clock: Clock
) -> None:
    """A service whose clock is a year ahead of this machine's (a lab, a test) still works:
    the signed authorization data is checked against the verifier's clock too."""
    clock.now += 365 * 86400
    cred = realm.credential("alice", now=clock.now)
    assert verifier.verify(token(cred, now=clock.now)).groups == ("admins", "staff")
