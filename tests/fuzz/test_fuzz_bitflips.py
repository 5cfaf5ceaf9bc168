"""Bit flips: every bit of one valid message of each type flipped in turn (issue 8, item 3).

Each flipped message goes to its receiver, which must refuse it; a flip counts as accepted
when the exchange goes through anyway: a request the KDC or the service accepts (for an
AS-REQ, whose body is not protected in transit, a reply the client then accepts), a reply
the client accepts. Every attempt gets fresh replay caches, so only the flip decides. The
count accepted must be 0 for every type; the unflipped message is accepted (control).
The tally is printed (``pytest -s``) and written to ``$ORTHRUS_FUZZ_REPORT`` if set.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "core"))
from core_realm import T0, CoreRealm

from orthrus import codec
from orthrus.ap import APRules, AuthenticatorFields, make_ap_rep, make_ap_req, read_ap_rep
from orthrus.as_exchange import handle_as_req, read_as_rep
from orthrus.b64 import b64u_decode
from orthrus.errors import ProtocolError
from orthrus.httpauth import decode_ap_rep, decode_ap_req, encode_ap_rep, encode_ap_req
from orthrus.keytab import Keytab, KeytabEntry
from orthrus.kpasswd import (
    KpasswdRep,
    KpasswdReq,
    handle_kpasswd_req,
    make_kpasswd_req,
    read_kpasswd_rep,
)
from orthrus.messages import ASRep, ASReq, TGSRep, TGSReq
from orthrus.priv import PrivChannel, decode_priv, encode_priv
from orthrus.replay import MemoryReplayCache
from orthrus.session_proof import ProofRules, ProofTarget, check_session_proof, make_session_proof
from orthrus.session_token import (
    SessionClaims,
    issue_session_token,
    verify_session_token,
)
from orthrus.tgs_exchange import handle_tgs_req, make_tgs_req, read_tgs_rep
from service_lib import KeytabSource, Verifier

TALLY: dict[str, tuple[int, int]] = {}


def flips(data: bytes) -> Iterator[bytes]:
    for index in range(len(data)):
        for bit in range(8):
            flipped = bytearray(data)
            flipped[index] ^= 1 << bit
            yield bytes(flipped)


def count_accepted(name: str, data: bytes, accepts: Callable[[bytes], object]) -> int:
    """Flip every bit of ``data``; return how many flipped messages ``accepts`` took."""
    accepts(data)  # control: the unflipped message goes through
    accepted = 0
    for flipped in flips(data):
        try:
            accepts(flipped)
        except ProtocolError:
            continue
        accepted += 1
    TALLY[name] = (len(data) * 8, accepted)
    print(f"bit flips {name}: {len(data) * 8} tried, {accepted} accepted")
    return accepted


@dataclasses.dataclass
class Setting:
    core: CoreRealm
    alice_key: Any
    tgt: Any


@pytest.fixture(scope="module")
def realm() -> Setting:
    core = CoreRealm()
    alice = core.add_user("alice", "alice-pass", groups=("admins",))
    core.add_service("HTTP/web")
    core.add_service("kadmin/changepw")
    key = core.user_key(alice, "alice-pass")
    return Setting(core, key, core.login(alice, key, T0, renewable_life=86400))


def fresh(core: CoreRealm) -> Any:
    return dataclasses.replace(core.ctx, replay_cache=MemoryReplayCache())


def test_bit_flips_of_as_req_and_as_rep_are_all_refused(realm: Setting) -> None:
    core, key = realm.core, realm.alice_key
    req = core.as_req(core.principal("alice"), key, T0, renewable_life=3600)

    def as_req_accepted(data: bytes) -> None:  # the KDC may answer; the client must refuse
        rep = handle_as_req(codec.decode(data, ASReq), core.ctx, T0)
        read_as_rep(codec.decode(codec.encode(rep), ASRep), req, key, T0)

    rep = codec.encode(handle_as_req(req, core.ctx, T0))
    assert count_accepted("AS-REQ", codec.encode(req), as_req_accepted) == 0
    accepted = count_accepted(
        "AS-REP", rep, lambda d: read_as_rep(codec.decode(d, ASRep), req, key, T0)
    )
    assert accepted == 0


def test_bit_flips_of_tgs_req_and_tgs_rep_are_all_refused(realm: Setting) -> None:
    core, http = realm.core, realm.core.principal("HTTP/web")
    request = make_tgs_req(realm.tgt, http, T0, os.urandom)

    def tgs_req_accepted(data: bytes) -> None:
        handle_tgs_req(codec.decode(data, TGSReq), fresh(core), T0)

    rep = codec.encode(handle_tgs_req(request.message, fresh(core), T0))
    assert count_accepted("TGS-REQ", codec.encode(request.message), tgs_req_accepted) == 0
    accepted = count_accepted(
        "TGS-REP", rep, lambda d: read_tgs_rep(codec.decode(d, TGSRep), request, T0)
    )
    assert accepted == 0


def test_bit_flips_of_ap_req_and_ap_rep_are_all_refused(realm: Setting) -> None:
    core = realm.core
    http = core.principal("HTTP/web")
    cred = core.service_ticket(realm.tgt, http, T0)
    entry = core.entries[http]
    keytab = Keytab(
        entries=[KeytabEntry(http, v, k.material) for v, k in entry.keys.items()],
        kdc_jwks=core.signer.jwks(),
    )
    verifier = Verifier(KeytabSource.from_keytab(keytab), MemoryReplayCache(), clock=lambda: T0)
    ap_req, sent = make_ap_req(cred, T0, os.urandom, AuthenticatorFields(mutual=True))

    def ap_req_accepted(data: bytes) -> None:
        verifier.replay_cache = MemoryReplayCache()
        verifier.verify(encode_ap_req(codec.decode(data, type(ap_req))))

    assert count_accepted("AP-REQ", codec.encode(ap_req), ap_req_accepted) == 0
    verifier.replay_cache = MemoryReplayCache()
    identity = verifier.verify(encode_ap_req(ap_req))
    assert identity.ap is not None
    ap_rep = make_ap_rep(identity.ap, os.urandom)
    raw = b64u_decode(encode_ap_rep(ap_rep))

    def ap_rep_accepted(data: bytes) -> None:
        read_ap_rep(codec.decode(data, type(ap_rep)), cred.session_key, sent)

    assert count_accepted("AP-REP", raw, ap_rep_accepted) == 0
    assert decode_ap_rep(encode_ap_rep(ap_rep)) == ap_rep
    assert decode_ap_req(encode_ap_req(ap_req)) == ap_req


def test_bit_flips_of_krb_priv_are_all_refused() -> None:
    client = PrivChannel.initiator(os.urandom)
    message = encode_priv(client.seal(b'{"text": "pay 100 to bob"}', T0, os.urandom))

    def priv_accepted(data: bytes) -> None:
        PrivChannel.acceptor(client.key, client.initial_seq).open(decode_priv(data), T0)

    assert count_accepted("KRB-PRIV", message, priv_accepted) == 0


def test_bit_flips_of_kpasswd_req_and_rep_are_all_refused(realm: Setting) -> None:
    core, key = realm.core, realm.alice_key
    changepw = core.principal("kadmin/changepw")
    req = core.as_req(core.principal("alice"), key, T0, server=changepw)
    ticket = read_as_rep(core.as_exchange(req, T0), req, key, T0)
    message, state = make_kpasswd_req(ticket, "new-password-1", T0, os.urandom)
    keys = {1: core.key_of(changepw)}

    def kpasswd_req_accepted(data: bytes) -> KpasswdRep:
        rules = APRules(replay_cache=MemoryReplayCache())
        return handle_kpasswd_req(
            codec.decode(data, KpasswdReq), lambda p: keys, rules, T0, lambda p, pw: 2, os.urandom
        )

    assert count_accepted("KPASSWD-REQ", codec.encode(message), kpasswd_req_accepted) == 0
    reply = codec.encode(kpasswd_req_accepted(codec.encode(message)))

    def kpasswd_rep_accepted(data: bytes) -> None:
        channel = PrivChannel(state.channel.key, "initiator", (state.channel.initial_seq,) * 2)
        read_kpasswd_rep(
            codec.decode(data, KpasswdRep), dataclasses.replace(state, channel=channel), T0
        )

    assert count_accepted("KPASSWD-REP", reply, kpasswd_rep_accepted) == 0


def test_bit_flips_of_a_session_token_are_all_refused(realm: Setting) -> None:
    core = realm.core
    http = core.principal("HTTP/web")
    cred = core.service_ticket(realm.tgt, http, T0)
    claims = SessionClaims(
        server=http,
        ticket=cred.ticket,
        kind="proof",
        issued_at=int(T0),
        expires_at=int(T0) + 600,
    )
    keys = {1: core.key_of(http)}
    token = issue_session_token(claims, keys[1]).encode()

    def session_accepted(data: bytes) -> None:
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError as exc:  # not a header value at all
            raise ProtocolError("KRB_ERR_GENERIC", "not ASCII") from exc
        verify_session_token(text, "proof", lambda p: keys if p == http else None, T0, 300)

    assert count_accepted("session token", token, session_accepted) == 0


def test_bit_flips_of_a_session_proof_are_all_refused(realm: Setting) -> None:
    core = realm.core
    http = core.principal("HTTP/web")
    cred = core.service_ticket(realm.tgt, http, T0)
    bound = ProofTarget("session.token.here", "GET", "/notes")
    proof = make_session_proof(cred.session_key, bound, T0, os.urandom).encode()

    def proof_accepted(data: bytes) -> None:
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError as exc:  # not a header value at all
            raise ProtocolError("KRB_ERR_GENERIC", "not ASCII") from exc
        rules = ProofRules(MemoryReplayCache(), http)
        check_session_proof(text, cred.session_key, bound, T0, rules)

    assert count_accepted("session proof", proof, proof_accepted) == 0


def test_zz_write_tally() -> None:
    """Writes the tally for scripts/fuzz.sh (runs last: names sort after the others)."""
    report = os.environ.get("ORTHRUS_FUZZ_REPORT")
    if report:
        Path(report).write_text(json.dumps(TALLY, indent=1))
    assert all(accepted == 0 for _, accepted in TALLY.values())


_ = msgspec
