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


def test_a_new_file_remembers_from_its_creation_and_an_old_one_keeps_its_date(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rc.sqlite"
    assert SQLiteReplayCache(path, clock=lambda: 100.0).remembers_since() == 100.0
    assert SQLiteReplayCache(path, clock=lambda: 500.0).remembers_since() == 100.0  # restart


def test_a_file_deleted_while_in_use_is_made_again(tmp_path: Path) -> None:
    """Another process deleted the file: this one notices at its next store (it would
    otherwise keep writing to a file nobody else reads) and dates the new file now."""
    path = tmp_path / "rc.sqlite"
    now = [100.0]
    cache = SQLiteReplayCache(path, clock=lambda: now[0])
    assert cache.check_and_store(b"a", 400, 100)
    path.unlink()
    now[0] = 150.0
    assert cache.check_and_store(b"b", 400, 150)
    assert cache.remembers_since() == 150.0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(cache) == 1


def test_a_damaged_file_is_set_aside_and_made_again(tmp_path: Path) -> None:
    path = tmp_path / "rc.sqlite"
    now = [100.0]
    cache = SQLiteReplayCache(path, clock=lambda: now[0])
    assert cache.check_and_store(b"a", 400, 100)
    cache.close()
    path.write_bytes(b"garbage " * 1000)
    now[0] = 120.0
    assert cache.check_and_store(b"a", 400, 120)  # a new, empty file...
    assert cache.remembers_since() == 120.0  # ...dated now
    assert (tmp_path / "rc.sqlite.damaged").read_bytes().startswith(b"garbage")


def test_a_full_file_prunes_then_refuses_rather_than_forget(tmp_path: Path) -> None:
    """Bounded: when the file holds ``max_entries`` live entries a new one is refused (503),
    never stored by forgetting a live one; expired entries make room."""
    from orthrus_io.errors import Unavailable

    cache = SQLiteReplayCache(tmp_path / "rc.sqlite", max_entries=3)
    for name in (b"a", b"b"):
        assert cache.check_and_store(name, 200, 100)
    assert cache.check_and_store(b"c", 1000, 100)
    with pytest.raises(Unavailable, match="3 unexpired entries"):
        cache.check_and_store(b"d", 1000, 150)
    assert not cache.check_and_store(b"a", 200, 150)  # a replay is still a replay
    assert cache.check_and_store(b"d", 1000, 300)  # a and b expired: pruned to make room
    assert len(cache) == 2


def test_the_default_replay_cache_is_a_file_in_the_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service_lib import VerifierSettings, open_replay_cache

    settings = VerifierSettings(keytab="k")
    assert settings.replay_cache == "sqlite"
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    cache = open_replay_cache(settings)
    assert isinstance(cache, SQLiteReplayCache)
    assert cache.path == state / "orthrus" / "replay.sqlite"
    assert stat.S_IMODE(os.stat(state / "orthrus").st_mode) == 0o700
    memory = open_replay_cache(VerifierSettings(keytab="k", replay_cache="memory"), lambda: 7.0)
    assert memory.remembers_since() == 7.0
