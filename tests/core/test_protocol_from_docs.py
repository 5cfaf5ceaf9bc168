"""docs/protocol.md is enough to implement a service: a verifier written from it alone
(:mod:`doc_verifier`, on jwcrypto) accepts a real AP-REQ and refuses silver tickets, and
the document's test vectors are what the code computes.

The project's code only *makes* things here, as the KDC, ``orthrus-kdc ktadd`` and a client
would: the realm, the keytab file's bytes, real AP-REQs and the forgeries. Every refusal is
checked against the project's own verifier too, so the document and the code agree.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from core_realm import T0, CoreRealm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from doc_verifier import DocVerifier, Refused, b64u_decode, ckey, open_part, usage_key

from orthrus.ap import AuthenticatorFields, make_ap_req, open_ticket, seal_ticket
from orthrus.authz import AuthzSigner, session_key_hash
from orthrus.codec import encode
from orthrus.credentials import Credential
from orthrus.errors import ProtocolError
from orthrus.httpauth import encode_ap_req
from orthrus.keys import Key, KeyUsage
from orthrus.keytab import Keytab, KeytabEntry
from orthrus.messages import EncryptionKey, EncTicketPart
from orthrus.principal import Principal
from orthrus.replay import MemoryReplayCache
from orthrus.seal import seal
from service_lib import KeytabSource, Verifier

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
NOW = T0 + 60


def keytab_json(core: CoreRealm, *names: str) -> dict:
    """The keytab file ``ktadd`` would write for ``names``, as the verifier reads it."""
    entries = []
    for name in names:
        entry = core.entries[core.principal(name)]
        entries += [KeytabEntry(entry.principal, v, k.material) for v, k in entry.keys.items()]
    return json.loads(Keytab(entries=entries, kdc_jwks=core.signer.jwks()).to_bytes())


def token(
    cred: Credential,
    now: float = NOW,
    usage: KeyUsage = KeyUsage.AP_REQ_AUTHENTICATOR,
    mutual: bool = False,
) -> str:
    """A client's ``Authorization: Ticket`` token for ``cred``, made at ``now``."""
    ap_req, _ = make_ap_req(cred, now, os.urandom, AuthenticatorFields(usage, mutual=mutual))
    return encode_ap_req(ap_req)


def project_verifier(keytab: dict, now: float = NOW) -> Verifier:
    source = KeytabSource.from_keytab(Keytab.from_bytes(json.dumps(keytab).encode()))
    return Verifier(source, MemoryReplayCache(), clock=lambda: now)


def reseal(cred: Credential, service_key: Key, **changes: object) -> Credential:
    """A silver ticket: the ticket opened with the stolen service key, changed, sealed again
    (and the credential's session key the forged ticket's, to make its authenticator)."""
    opened = open_ticket(cred.ticket, service_key)
    part: EncTicketPart = msgspec.structs.replace(opened, **changes)
    ticket = seal_ticket(part, cred.ticket.server, service_key, os.urandom)
    return msgspec.structs.replace(cred, ticket=ticket, key=part.key)


def refused_by_both(keytab: dict, tok: str, now: float = NOW) -> Refused:
    """The document's verifier's refusal, after checking the project's refuses with the same
    Kerberos error."""
    with pytest.raises(ProtocolError) as project:
        project_verifier(keytab, now).verify(tok)
    with pytest.raises(Refused) as doc:
        DocVerifier(keytab).verify(tok, now)
    assert doc.value.code == project.value.name
    return doc.value


def test_the_verifier_imports_nothing_of_the_project() -> None:
    """The verifier is the document's, not the code's: standard library, jwcrypto and
    cryptography only."""
    tree = ast.parse((Path(__file__).parent / "doc_verifier.py").read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module
            roots.add(node.module.split(".")[0])
    assert roots - sys.stdlib_module_names == {"cryptography", "jwcrypto"}


def test_a_real_ap_req_is_accepted_then_its_replay_refused(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    cred = core.service_ticket(tgt, http, T0)
    keytab = keytab_json(core, "HTTP/web")
    verifier = DocVerifier(keytab)
    tok = token(cred, NOW, mutual=True)
    assert verifier.verify(tok, NOW) == ("alice@EX.TEST", ["admins"])
    identity = project_verifier(keytab).verify(tok)
    assert (str(identity.principal), list(identity.groups)) == ("alice@EX.TEST", ["admins"])
    with pytest.raises(Refused) as replay:
        verifier.verify(tok, NOW + 1)
    assert replay.value.code == "KRB_AP_ERR_REPEAT"
    assert verifier.verify(token(cred, NOW + 1), NOW + 1)[0] == "alice@EX.TEST"


Forgery = Callable[[CoreRealm, Credential, Credential, Key], Credential]


def _fresh_session_key(core: CoreRealm, alice: Credential, bob: Credential, key: Key) -> Credential:
    # A ticket the attacker made, with a session key of its own, around alice's genuine
    # signed statement (groups admins).
    return reseal(alice, key, key=EncryptionKey.from_key(Key.generate(os.urandom)))


def _moved_from_another_ticket(
    core: CoreRealm, alice: Credential, bob: Credential, key: Key
) -> Credential:
    # Bob, holding the service key, renames his own ticket alice and moves alice's signed
    # statement in: the client matches, the session key is still bob's.
    alice_part = open_ticket(alice.ticket, key)
    return reseal(
        bob, key, client=alice_part.client, authorization_data=alice_part.authorization_data
    )


def _renamed(core: CoreRealm, alice: Credential, bob: Credential, key: Key) -> Credential:
    return reseal(bob, key, client=alice.client)


def _longer_life(core: CoreRealm, alice: Credential, bob: Credential, key: Key) -> Credential:
    return reseal(alice, key, endtime=alice.endtime + 30 * 86400)


def _fresh_login(core: CoreRealm, alice: Credential, bob: Credential, key: Key) -> Credential:
    return reseal(alice, key, authtime=int(NOW))


def _no_authz(core: CoreRealm, alice: Credential, bob: Credential, key: Key) -> Credential:
    return reseal(alice, key, authorization_data=None)


def _self_signed(kid: str | None) -> Forgery:
    def forge(core: CoreRealm, alice: Credential, bob: Credential, key: Key) -> Credential:
        rogue = AuthzSigner(Ed25519PrivateKey.generate(), kid or core.signer.kid, core.name)
        part = open_ticket(bob.ticket, key)
        signed = rogue.sign(part, bob.ticket.server, ("admins",))
        return reseal(bob, key, authorization_data=signed)

    return forge


def _unsigned(core: CoreRealm, alice: Credential, bob: Credential, key: Key) -> Credential:
    part = open_ticket(bob.ticket, key)
    assert part.authorization_data is not None
    claims = part.authorization_data.split(".")[1]
    header = json.dumps({"alg": "none", "kid": core.signer.kid}).encode()
    unsigned = f"{base64.urlsafe_b64encode(header).rstrip(b'=').decode()}.{claims}."
    return reseal(bob, key, authorization_data=unsigned)


@pytest.mark.parametrize(
    ("forge", "check"),
    [
        pytest.param(_fresh_session_key, "ckey", id="own-session-key-around-genuine-authz"),
        pytest.param(_moved_from_another_ticket, "ckey", id="authz-moved-from-another-ticket"),
        pytest.param(_renamed, "sub", id="another-client"),
        pytest.param(_longer_life, "exp", id="longer-life"),
        pytest.param(_fresh_login, "iat", id="later-authtime"),
        pytest.param(_no_authz, "authz-missing", id="authz-removed"),
        pytest.param(_self_signed(None), "signature", id="self-signed-with-the-kdcs-kid"),
        pytest.param(_self_signed("rogue-1"), "kid", id="self-signed-with-its-own-kid"),
        pytest.param(_unsigned, "alg", id="alg-none"),
    ],
)
def test_silver_tickets_are_refused(
    core: CoreRealm, tgt: Credential, http: Principal, forge: Forgery, check: str
) -> None:
    """A ticket forged with the stolen service key: the KDC's signature and its binding to
    the ticket (``ckey``, client, times) refuse it, in the document's verifier and the code's."""
    key = core.key_of(http)
    bob = core.principal("bob")
    bobs = core.service_ticket(core.login(bob, core.user_key(bob, "bob-pass"), T0), http, T0)
    alices = core.service_ticket(tgt, http, T0)
    forged = forge(core, alices, bobs, key)
    refusal = refused_by_both(keytab_json(core, "HTTP/web"), token(forged))
    assert (refusal.code, refusal.check) == ("KRB_AP_ERR_MODIFIED", check)


def test_a_ticket_relabelled_for_a_service_sharing_its_key_is_refused_by_ctx(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    """Two names served with one key: a ticket for one, its clear server changed to the
    other, opens under the key; only the ``ctx`` check (and ``aud``) refuses it."""
    core.add_service("HTTP/alias")
    core.change(core.principal("HTTP/alias"), keys=core.entries[http].keys)
    cred = core.service_ticket(tgt, http, T0)
    relabelled = msgspec.structs.replace(
        cred, ticket=msgspec.structs.replace(cred.ticket, server=core.principal("HTTP/alias"))
    )
    refusal = refused_by_both(keytab_json(core, "HTTP/web", "HTTP/alias"), token(relabelled))
    assert (refusal.code, refusal.check) == ("KRB_AP_ERR_MODIFIED", "ctx")


def _as_bob(core: CoreRealm, cred: Credential) -> Credential:
    return msgspec.structs.replace(cred, client=core.principal("bob"))


def _ticket(**changes: object) -> Callable[[CoreRealm, Credential], Credential]:
    def change(core: CoreRealm, cred: Credential) -> Credential:
        return msgspec.structs.replace(cred, ticket=msgspec.structs.replace(cred.ticket, **changes))

    return change


def _same(core: CoreRealm, cred: Credential) -> Credential:
    return cred


EXPIRED = T0 + 10 * 3600 + 301


@pytest.mark.parametrize(
    ("made_at", "now", "change", "usage", "code"),
    [
        (NOW + 301, NOW, _same, 11, "KRB_AP_ERR_SKEW"),
        (EXPIRED, EXPIRED, _same, 11, "KRB_AP_ERR_TKT_EXPIRED"),
        (NOW, NOW, _as_bob, 11, "KRB_AP_ERR_BADMATCH"),
        (NOW, NOW, _same, 7, "KRB_AP_ERR_MODIFIED"),
        (NOW, NOW, _ticket(kvno=9), 11, "KRB_AP_ERR_BADKEYVER"),
        (NOW, NOW, _ticket(server=Principal.parse("HTTP/other@EX.TEST")), 11, "KRB_AP_ERR_NOT_US"),
    ],
    ids=["skew-301s", "expired", "names-bob", "tgs-usage", "unknown-kvno", "another-service"],
)
def test_the_other_checks_give_the_documents_codes(
    core: CoreRealm,
    tgt: Credential,
    http: Principal,
    made_at: float,
    now: float,
    change: Callable[[CoreRealm, Credential], Credential],
    usage: int,
    code: str,
) -> None:
    """The errors of the order-of-checks table, from the document's verifier and the code's."""
    cred = change(core, core.service_ticket(tgt, http, T0))
    tok = token(cred, made_at, usage=KeyUsage(usage))
    assert refused_by_both(keytab_json(core, "HTTP/web"), tok, now).code == code


# == The document's test vectors ==========================================================


def vectors() -> dict[str, str]:
    """The rows of the table under "## Test vectors" in docs/protocol.md."""
    section = DOC.read_text().split("\n## Test vectors\n", 1)[1]
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|$", section, re.MULTILINE)
    assert len(rows) == 7, rows
    return dict(rows)


K = bytes(range(32))
S = bytes(range(32, 64))
IV = bytes(range(0xA0, 0xAC))
PLAINTEXT = b'{"hello":"world"}'


def test_the_documents_key_encodings_are_the_codes() -> None:
    table = vectors()
    entry = KeytabEntry(Principal.parse("HTTP/web@EX.TEST"), 3, K)
    assert encode(entry).decode() == table["K, keytab entry (HTTP/web@EX.TEST, kvno 3)"]
    assert encode(EncryptionKey("A256GCM", S)).decode() == table["S, as a session key"]


def test_the_documents_derived_keys_and_ckey_are_the_codes() -> None:
    """The document's HKDF gives its vectors; that they are the code's keys is shown below,
    where they open the code's ciphertexts."""
    table = vectors()
    assert usage_key(K, 2).hex() == table["HKDF(K, usage 2)"]
    assert usage_key(K, 11).hex() == table["HKDF(K, usage 11)"]
    assert session_key_hash(Key(S)) == ckey(S) == table["ckey of S"]


@pytest.mark.parametrize(
    ("name", "key", "usage", "ctx"),
    [
        (
            "JWE: K kvno 3, usage 2, ctx HTTP/web@EX.TEST",
            Key(K, 3),
            KeyUsage.TICKET,
            "HTTP/web@EX.TEST",
        ),
        ("JWE: S as a session key, usage 11", Key(S), KeyUsage.AP_REQ_AUTHENTICATOR, None),
    ],
)
def test_the_documents_jwes_are_the_codes_and_open_with_jwcrypto(
    name: str, key: Key, usage: KeyUsage, ctx: str | None
) -> None:
    """The code seals exactly the document's JWE given its IV; jwcrypto, keyed with the
    document's HKDF output, opens it, and refuses it for another usage or ``ctx``."""
    vector = vectors()[name]
    assert seal(key, usage, PLAINTEXT, lambda n: IV, context=ctx) == vector
    assert open_part(vector, key.material, int(usage), ctx) == json.loads(PLAINTEXT)
    header = json.loads(b64u_decode(vector.split(".")[0]))
    assert header["kid"] == str(key.kvno)
    for other_usage, other_ctx in ((int(usage) + 1, ctx), (int(usage), "HTTP/other@EX.TEST")):
        with pytest.raises(Refused):
            open_part(vector, key.material, other_usage, other_ctx)
