"""Keytab reload: a rotated service key is used without restarting (RFC 4120 §3.2.3 kvno)."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pytest
from realm_helpers import SERVICE, MiniRealm, token

from orthrus.enctypes import KeyBlock
from orthrus.errors import ConfigError, ProtocolError
from orthrus.mitkeytab import MITKeytabEntry, serialize_keytab
from orthrus.principal import Principal
from orthrus.realm import KerberosKey
from orthrus.replay import MemoryReplayCache
from service_lib import KeytabSource, Verifier
from service_lib.keytab_source import keytab_realms


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rotation_without_restart(realm: MiniRealm, tmp_path: Path) -> None:
    path = realm.write_keytab(tmp_path / "http.keytab")
    ticks = Ticks()
    verifier = Verifier(KeytabSource(path, check_interval=1.0, clock=ticks), MemoryReplayCache())
    old = realm.credential("alice")
    verifier.verify(token(old))
    assert len(verifier.ticket_cache) == 1

    realm.rotate()  # kvno 2 is current, kvno 1 kept
    new = realm.credential("alice")
    assert new.ticket.kvno == 2
    realm.write_keytab(path)
    with pytest.raises(ProtocolError) as info:  # not looked at yet: less than 1 s passed
        verifier.verify(token(new))
    assert info.value.name == "KRB_AP_ERR_BADKEYVER"
    ticks.now += 1.0
    assert verifier.verify(token(new)).principal == new.client
    assert len(verifier.ticket_cache) == 1  # cleared on reload, then the new ticket
    verifier.verify(token(old))  # the old kvno still works while it is kept

    realm.rotate(keep_old=False)  # kvno 3 only: tickets of kvno 1 and 2 stop working
    realm.write_keytab(path)
    ticks.now += 1.0
    for cred in (old, new):
        with pytest.raises(ProtocolError) as info:
            verifier.verify(token(cred))
        assert info.value.name == "KRB_AP_ERR_BADKEYVER"
    assert verifier.verify(token(realm.credential("alice"))).principal == old.client


def test_stat_at_most_once_per_interval(
    realm: MiniRealm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = realm.write_keytab(tmp_path / "http.keytab")
    ticks = Ticks()
    source = KeytabSource(path, check_interval=1.0, clock=ticks)
    calls = []
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: calls.append(p) or real_stat(p, *a, **k))
    for _ in range(100):
        source.snapshot()
    assert calls == []
    ticks.now = 1.5
    for _ in range(100):
        source.snapshot()
    assert len(calls) == 1


def test_broken_new_keytab_keeps_the_old_keys(realm: MiniRealm, tmp_path: Path) -> None:
    path = realm.write_keytab(tmp_path / "http.keytab")
    ticks = Ticks()
    verifier = Verifier(KeytabSource(path, clock=ticks), MemoryReplayCache())
    path.write_bytes(b"{not a keytab")
    ticks.now = 5
    assert verifier.verify(token(realm.credential("alice")))
    assert verifier.keytab.generation == 1
    path.unlink()
    ticks.now = 10
    assert verifier.verify(token(realm.credential("alice")))


def test_keytab_file_checks(realm: MiniRealm, tmp_path: Path) -> None:
    path = realm.write_keytab(tmp_path / "http.keytab")
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        KeytabSource(path)
    os.chmod(path, 0o600)
    link = tmp_path / "link.keytab"
    link.symlink_to(path)
    with pytest.raises(ConfigError, match="symbolic link"):
        KeytabSource(link)
    with pytest.raises(ConfigError, match="does not exist"):
        KeytabSource(tmp_path / "missing")
    bad = tmp_path / "bad.keytab"
    bad.write_bytes(b"[]")
    os.chmod(bad, 0o600)
    with pytest.raises(ConfigError, match="not a valid keytab"):
        KeytabSource(bad)


def test_accepted_principals(realm: MiniRealm, tmp_path: Path) -> None:
    path = realm.write_keytab(tmp_path / "http.keytab")
    with pytest.raises(ConfigError, match=re.escape("HTTP/nothere@SVC.TEST")):
        KeytabSource(path, {Principal.parse("HTTP/nothere@SVC.TEST")})
    source = KeytabSource(path, {Principal.parse(SERVICE)})
    assert source.snapshot().principals == {Principal.parse(SERVICE)}


def mit_keytab(path: Path, *entries: MITKeytabEntry) -> Path:
    path.write_bytes(serialize_keytab(entries))
    os.chmod(path, 0o600)
    return path


HTTP = Principal.parse(SERVICE)
IMAP = Principal.parse("imap/mail@SVC.TEST")
AES256 = KeyBlock(18, bytes(range(32)))
AES256_SHA384 = KeyBlock(20, bytes(range(32, 64)))


def test_an_mit_keytab_gives_kerberos_keys(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = mit_keytab(
        tmp_path / "mit.keytab",
        MITKeytabEntry(HTTP, 2, AES256_SHA384),
        MITKeytabEntry(HTTP, 2, AES256),
        MITKeytabEntry(IMAP, 7, AES256),
    )
    ticks = Ticks()
    source = KeytabSource(path, clock=ticks)
    snapshot = source.snapshot()
    assert snapshot.keys == {}
    assert snapshot.principals == {HTTP, IMAP}
    assert snapshot.kerberos_keys == {
        HTTP: (KerberosKey(2, AES256_SHA384), KerberosKey(2, AES256)),
        IMAP: (KerberosKey(7, AES256),),
    }
    assert keytab_realms(path) == {HTTP.realm, IMAP.realm}
    assert KeytabSource(path, {IMAP}).snapshot().kerberos_keys == {IMAP: (KerberosKey(7, AES256),)}
    with pytest.raises(ConfigError, match=re.escape("HTTP/nothere@SVC.TEST")):
        KeytabSource(path, {Principal.parse("HTTP/nothere@SVC.TEST")})

    # A new version of the file is read as the Orthrus one is; the log names no key.
    mit_keytab(path, MITKeytabEntry(HTTP, 3, AES256))
    ticks.now = 5
    with caplog.at_level(logging.INFO, "orthrus.service.keytab"):
        assert source.refresh()
    assert source.snapshot().kerberos_keys == {HTTP: (KerberosKey(3, AES256),)}
    assert f"{HTTP} kvno [3]" in caplog.text
    assert AES256.material.hex() not in caplog.text
    assert "kerberos_keys" not in repr(snapshot)


def test_the_ticket_scheme_refuses_an_mit_keytab_saying_what_to_export(
    realm: MiniRealm, tmp_path: Path
) -> None:
    # An MIT keytab serves Negotiate (test_service_negotiate.py); a Ticket token is told so.
    path = mit_keytab(tmp_path / "mit.keytab", MITKeytabEntry(HTTP, 2, AES256))
    verifier = Verifier(KeytabSource(path), MemoryReplayCache())
    with pytest.raises(ProtocolError) as caught:
        verifier.verify(token(realm.credential("alice")))
    assert caught.value.name == "KRB_AP_ERR_NOT_US"
    assert "holds only Kerberos keys (an MIT keytab)" in str(caught.value)
    assert "'orthrus-kdc ktadd -k FILE SERVICE' (without --format mit)" in str(caught.value)


def test_a_bad_mit_keytab_is_a_clear_error(realm: MiniRealm, tmp_path: Path) -> None:
    path = tmp_path / "bad.keytab"
    for data, says in [
        (b"\x05\x01\x00\x00", "version 0x0501"),
        (b"\x05\x02\x00\x00\x00\x30\x00\x01", "truncated or corrupt"),
        (b"\x05\x02\x00", "record length"),
    ]:
        path.write_bytes(data)
        os.chmod(path, 0o600)
        with pytest.raises(ConfigError, match=f"keytab {path} is not a valid keytab: .*{says}"):
            KeytabSource(path)
    # A broken MIT keytab replacing a good one: the old keys stay.
    ticks = Ticks()
    verifier = Verifier(KeytabSource(realm.write_keytab(path), clock=ticks), MemoryReplayCache())
    path.write_bytes(b"\x05\x02\x00\x00\x00\x30")
    ticks.now = 5
    assert verifier.verify(token(realm.credential("alice")))
    assert verifier.keytab.generation == 1
