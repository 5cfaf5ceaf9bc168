"""Replay caches: the SQLite one shared by processes (RFC 4120 §3.2.3 "replay cache")."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from realm_helpers import MiniRealm, token

from orthrus.errors import ConfigError, ProtocolError
from orthrus.replay import MemoryReplayCache
from service_lib import KeytabSource, SQLiteReplayCache, Verifier


def test_insert_if_absent(tmp_path: Path) -> None:
    cache = SQLiteReplayCache(tmp_path / "rc.sqlite")
    assert cache.check_and_store(b"a", 200, 100)
    assert not cache.check_and_store(b"a", 200, 150)
    assert cache.check_and_store(b"b", 200, 150)
    assert stat.S_IMODE(os.stat(tmp_path / "rc.sqlite").st_mode) == 0o600
    other = SQLiteReplayCache(tmp_path / "rc.sqlite")  # a second handle: another process
    assert not other.check_and_store(b"a", 300, 160)


def test_expired_entry_can_be_stored_again(tmp_path: Path) -> None:
    cache = SQLiteReplayCache(tmp_path / "rc.sqlite")
    assert cache.check_and_store(b"a", 200, 100)
    assert cache.check_and_store(b"a", 500, 201)
    assert not cache.check_and_store(b"a", 500, 400)


def test_pruning(tmp_path: Path) -> None:
    cache = SQLiteReplayCache(tmp_path / "rc.sqlite", prune_every=10)
    for i in range(9):
        cache.check_and_store(b"old%d" % i, 100, 50)
    assert len(cache) == 9
    cache.check_and_store(b"new", 1000, 500)  # the 10th insert prunes
    assert len(cache) == 1


def test_unopenable_path(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="replay cache"):
        SQLiteReplayCache(tmp_path / "file" / "rc.sqlite")


_RACER = textwrap.dedent(
    """
    import sys
    from service_lib import SQLiteReplayCache
    cache = SQLiteReplayCache(sys.argv[1])
    won = sum(cache.check_and_store(b"entry-%d" % i, 10**10, 1.0) for i in range(int(sys.argv[2])))
    print(won)
    """
)


def test_two_processes_accept_each_entry_once(tmp_path: Path) -> None:
    path = str(tmp_path / "rc.sqlite")
    SQLiteReplayCache(Path(path))
    count = 300
    racers = [
        subprocess.Popen([sys.executable, "-c", _RACER, path, str(count)], stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    won = [int(p.communicate(timeout=30)[0]) for p in racers]
    assert sum(won) == count
    assert len(SQLiteReplayCache(Path(path))) == count


def test_a_token_accepted_by_one_process_is_refused_by_another(
    realm: MiniRealm, tmp_path: Path
) -> None:
    path = tmp_path / "rc.sqlite"
    SQLiteReplayCache(path)  # the services' cache, older than the client's request
    keytab = realm.write_keytab(tmp_path / "http.keytab")
    tok = token(realm.credential("alice"))
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from service_lib import KeytabSource, SQLiteReplayCache, Verifier
        v = Verifier(KeytabSource(Path(sys.argv[1])), SQLiteReplayCache(Path(sys.argv[2])))
        print(v.verify(sys.argv[3]).principal)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(keytab), str(path), tok], capture_output=True, text=True
    )
    assert out.stdout.strip() == "alice@SVC.TEST", out.stderr
    here = Verifier(KeytabSource(keytab), SQLiteReplayCache(path))
    with pytest.raises(ProtocolError) as info:
        here.verify(tok)
    assert info.value.name == "KRB_AP_ERR_REPEAT"
    # Caches of separate processes without sharing would both accept it.
    assert Verifier(KeytabSource(keytab), MemoryReplayCache()).verify(tok)
