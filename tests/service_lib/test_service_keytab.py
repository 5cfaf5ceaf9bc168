"""Keytab reload: a rotated service key is used without restarting (RFC 4120 §3.2.3 kvno)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from realm_helpers import SERVICE, MiniRealm, token

from orthrus.errors import ConfigError, ProtocolError
from orthrus.principal import Principal
from orthrus.replay import MemoryReplayCache
from service_lib import KeytabSource, Verifier


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
