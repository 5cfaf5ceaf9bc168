"""The keytab format, and secrets kept out of every repr()."""

from __future__ import annotations

import json
import os

import pytest
from core_realm import T0, CoreRealm

from orthrus.ap import APRules, AuthenticatorFields, make_ap_req, verify_ap_req
from orthrus.b64 import b64u_encode
from orthrus.credentials import Credential
from orthrus.errors import MalformedMessage
from orthrus.keys import Key
from orthrus.keytab import Keytab, KeytabEntry
from orthrus.principal import Principal
from orthrus.replay import MemoryReplayCache
from orthrus.tgs_exchange import make_tgs_req

HTTP = Principal.parse("HTTP/web@EX.TEST")
IMAP = Principal.parse("imap/mail@EX.TEST")


def entry(principal: Principal, kvno: int) -> KeytabEntry:
    return KeytabEntry(principal, kvno, os.urandom(32))


def test_round_trip() -> None:
    jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "abc", "kid": "k1"}]}
    keytab = Keytab(entries=[entry(HTTP, 1), entry(HTTP, 2), entry(IMAP, 1)], kdc_jwks=jwks)
    data = keytab.to_bytes()
    assert data.endswith(b"\n")
    assert json.loads(data)["format"] == "orthrus-keytab/1"
    assert Keytab.from_bytes(data) == keytab
    table = Keytab.from_bytes(data).keys_by_principal()
    assert sorted(table[HTTP]) == [1, 2]
    assert table[HTTP][2] == Key(keytab.entries[1].key, 2)
    assert table[IMAP][1].kvno == 1


def test_merged_replaces_same_principal_and_kvno() -> None:
    old1, old2, imap = entry(HTTP, 1), entry(HTTP, 2), entry(IMAP, 1)
    keytab = Keytab(entries=[old2, imap, old1], kdc_jwks={"keys": []})
    new2, new3 = entry(HTTP, 2), entry(HTTP, 3)
    merged = keytab.merged([new3, new2], None)
    assert merged.entries == [old1, new2, new3, imap]
    assert merged.kdc_jwks == {"keys": []}  # kept when none is given
    jwks = {"keys": [{"kid": "k2"}]}
    assert keytab.merged([], jwks).kdc_jwks == jwks
    assert keytab.merged([], None).entries == [old1, old2, imap]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{}x",
        b'{"format": "orthrus-keytab/2"}',
        b'{"entries": [{"principal": "HTTP/web@EX.TEST", "kvno": 1, "key": "AAAA"}]}',
        b'{"entries": [{"principal": "web", "kvno": 1, "key": "' + b"A" * 44 + b'"}]}',
        b'{"entries": [], "extra": 1}',
        b'{"entries": [{"principal": "HTTP/web@EX.TEST", "kvno": -1, "key": "'
        + b"A" * 43
        + b'="}]}',
    ],
)
def test_malformed_keytabs(data: bytes) -> None:
    with pytest.raises(MalformedMessage):
        Keytab.from_bytes(data)


def test_keytab_verifies_tickets_under_every_kept_kvno(
    core: CoreRealm, tgt: Credential, http: Principal
) -> None:
    """A ticket issued under kvno 1 still verifies after the key changed to kvno 2, with
    the keytab holding both versions; a keytab holding only kvno 2 says BADKEYVER."""
    old_ticket = core.service_ticket(tgt, http, T0)
    core.change(http, keys={1: core.key_of(http), 2: Key.generate(os.urandom, 2)}, kvno=2)
    new_ticket = core.service_ticket(tgt, http, T0 + 1)
    assert (old_ticket.ticket.kvno, new_ticket.ticket.kvno) == (1, 2)
    keytab = Keytab(
        entries=[
            KeytabEntry(http, kvno, key.material) for kvno, key in core.entries[http].keys.items()
        ]
    )
    keytab = Keytab.from_bytes(keytab.to_bytes())
    keys = keytab.keys_by_principal()
    for ticket in (old_ticket, new_ticket):
        ap_req, _ = make_ap_req(ticket, T0 + 2, os.urandom, AuthenticatorFields())
        verify_ap_req(ap_req, keys.get, T0 + 2, APRules(MemoryReplayCache()))
    only_new = {http: {2: keys[http][2]}}
    ap_req, _ = make_ap_req(old_ticket, T0 + 2, os.urandom, AuthenticatorFields())
    with pytest.raises(Exception, match="KRB_AP_ERR_BADKEYVER"):
        verify_ap_req(ap_req, only_new.get, T0 + 2, APRules(MemoryReplayCache()))


def secrets_of(key: Key) -> list[str]:
    raw = key.material
    return [raw.hex(), b64u_encode(raw), repr(raw), json.dumps(list(raw))[1:40]]


def test_no_repr_shows_key_material(core: CoreRealm, tgt: Credential, http: Principal) -> None:
    ticket = core.service_ticket(tgt, http, T0)
    request = make_tgs_req(tgt, http, T0, os.urandom)
    ap_req, authenticator = make_ap_req(
        ticket, T0, os.urandom, AuthenticatorFields(subkey=Key.generate(os.urandom))
    )
    verified = verify_ap_req(
        ap_req, lambda p: core.entries[p].keys, T0, APRules(MemoryReplayCache())
    )
    service_key = core.key_of(http)
    keytab_entry = KeytabEntry(http, 1, service_key.material)
    secrets = [
        *secrets_of(service_key),
        *secrets_of(tgt.session_key),
        *secrets_of(ticket.session_key),
        *secrets_of(request.subkey),
        *secrets_of(authenticator.subkey.to_key()),
        *secrets_of(core.key_of(core.principal("alice"))),
        *secrets_of(core.key_of(core.tgs)),
    ]
    objects = [
        service_key,
        tgt,
        ticket,
        tgt.key,
        request,
        authenticator,
        verified,
        keytab_entry,
        Keytab(entries=[keytab_entry]),
        core.entries[http],
        core.entries[core.principal("alice")],
        core.entries[core.tgs],
        core.ctx,
    ]
    for obj in objects:
        text = repr(obj) + str(obj)
        for secret in secrets:
            assert secret not in text, f"{type(obj).__name__} shows key material"
    assert repr(keytab_entry) == "KeytabEntry(principal=Principal('HTTP/web@EX.TEST'), kvno=1)"
    assert "EncryptionKey(enctype='A256GCM')" in repr(tgt)


def test_an_mit_keytab_is_named_as_such() -> None:
    with pytest.raises(MalformedMessage, match="this is an MIT keytab"):
        Keytab.from_bytes(b"\x05\x02\x00\x00\x00\x00")
