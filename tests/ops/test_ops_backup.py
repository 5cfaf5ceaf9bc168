"""Backups: ``dump`` → ``load`` into an empty realm → ``dump`` gives the same file; a realm
moved SQLite → PostgreSQL → SQLite the same way; ``init --master-key`` adopts the stash so the
restored keys open (identical keytabs); a damaged, foreign or re-sealed dump is refused before
anything changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from ops_support import (
    SERVICE,
    admin,
    exported_keys,
    needs_pg,
    newest_migration,
    ok,
    pg_schema,
    pg_snapshot,
)
from support import FAST_KDF, REALM, Realm, sqlite_snapshot

from orthrus.keytab import Keytab

USER = f"kim@{REALM}"
#: A user an administrator allowed as a ticket's server (modprinc --allow-svr).
SERVER_USER = f"tess@{REALM}"


@dataclass
class Backup:
    source: Realm
    dump: Path
    restored: Path
    foreign_dump: Path

    def stash(self) -> Path:
        return self.source.directory / "master.key"


def init(directory: Path, *args: str) -> None:
    ok(admin(directory, "init", "--realm", REALM, *FAST_KDF, *args))


@pytest.fixture(scope="module")
def backup(
    sqlite_realm: Realm, short_realm: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backup]:
    """A dump of the SQLite realm restored into a new one (the stash adopted); meanwhile
    another realm of the same name, with a master key of its own, is dumped too."""
    base = tmp_path_factory.mktemp("backup")
    dump, foreign_dump = base / "realm.json", base / "foreign.json"
    restored = base / "restored"
    stash = sqlite_realm.directory / "master.key"
    ok(admin(sqlite_realm.directory, "modprinc", "--allow-svr", SERVER_USER))

    with ThreadPoolExecutor(3) as pool:
        jobs = [
            pool.submit(lambda: ok(admin(short_realm, "dump", str(foreign_dump)))),
            pool.submit(init, restored, "--master-key", str(stash)),
            pool.submit(lambda: ok(admin(sqlite_realm.directory, "dump", str(dump)))),
        ]
        for job in jobs:
            job.result()
    loaded = ok(admin(restored, "load", str(dump)))  # fresh from init: no --force needed
    assert "Loaded" in loaded.stdout
    yield Backup(sqlite_realm, dump, restored, foreign_dump)


def test_dump_load_dump_gives_the_same_file(backup: Backup, tmp_path: Path) -> None:
    again = tmp_path / "again.json"
    ok(admin(backup.restored, "dump", str(again)))
    assert again.read_bytes() == backup.dump.read_bytes()
    document = json.loads(again.read_text())
    # The SQLite schema is alembic's too.
    assert sqlite_snapshot(backup.restored / "principal.db")["alembic_version"] == [
        (newest_migration(),)
    ]
    assert document["realm"] == REALM and len(document["principals"]) >= 5
    # Keys stay sealed: the dump holds wrapped keys, never the stash's key.
    stash_key = json.loads(backup.stash().read_text())["keys"][0]["key"]
    assert stash_key not in again.read_text()
    # The restored realm opens every key: it exports the very keys the original did.
    original = Keytab.from_bytes((backup.source.directory.parent / "http.keytab").read_bytes())
    exported = {(str(e.principal), e.kvno, e.key) for e in original.entries}
    assert exported <= exported_keys(backup.restored, SERVICE, USER)
    assert exported_keys(backup.restored, USER) == exported_keys(backup.source.directory, USER)


def allow_svr(directory: Path, name: str) -> bool:
    flag: bool = json.loads(ok(admin(directory, "getprinc", "--json", name)).stdout)["allow_svr"]
    return flag


def test_dump_and_load_keep_allow_svr_and_load_dumps_made_before_it(
    backup: Backup, tmp_path: Path
) -> None:
    """The flag that lets a password principal be a ticket's server goes through dump and
    load; a dump made before the flag existed still loads, every principal refused as a
    server (as the migration that added the flag leaves them)."""
    document = json.loads(backup.dump.read_text())
    flags = {p["name"]: p["allow_svr"] for p in document["principals"]}
    assert flags[SERVER_USER] is True and flags[USER] is False
    assert allow_svr(backup.restored, SERVER_USER) is True
    for principal in document["principals"]:
        del principal["allow_svr"]
    old = tmp_path / "before-allow-svr.json"
    old.write_text(json.dumps(document))
    old.chmod(0o600)
    ok(admin(backup.restored, "load", "--force", str(old)))
    assert allow_svr(backup.restored, SERVER_USER) is False


@needs_pg
def test_sqlite_to_postgresql_and_back(backup: Backup, tmp_path: Path) -> None:
    with pg_schema("move") as url:
        pg_dir, back_dir = tmp_path / "pg", tmp_path / "back"
        with ThreadPoolExecutor(2) as pool:
            jobs = [
                pool.submit(init, pg_dir, "--db-url", url, "--master-key", str(backup.stash())),
                pool.submit(init, back_dir, "--master-key", str(backup.stash())),
            ]
            for job in jobs:
                job.result()
        ok(admin(pg_dir, "load", str(backup.dump)))
        from_pg = tmp_path / "from-pg.json"
        ok(admin(pg_dir, "dump", str(from_pg)))
        assert from_pg.read_bytes() == backup.dump.read_bytes()
        assert pg_snapshot(url)["principals"]

        ok(admin(back_dir, "load", str(from_pg)))
        final = tmp_path / "final.json"
        ok(admin(back_dir, "dump", str(final)))
        # Same bytes, and every key opened under the adopted stash (load checks each one).
        assert final.read_bytes() == backup.dump.read_bytes()


def damaged_dumps(backup: Backup, directory: Path) -> dict[str, tuple[Path, str]]:
    """Bad dumps, each with the words its refusal must say."""
    text = backup.dump.read_text()
    document = json.loads(text)
    cases: dict[str, tuple[str, str]] = {}
    cases["truncated"] = (text[: len(text) // 2], "damaged")
    other_realm = json.loads(text)
    other_realm["realm"] = "OTHER.TEST"
    cases["other realm"] = (json.dumps(other_realm), "of realm OTHER.TEST")
    flipped = json.loads(text)
    principal = next(p for p in flipped["principals"] if p["name"] == USER)
    wrapped = principal["keys"][0]["wrapped"]
    middle = len(wrapped) * 3 // 4
    principal["keys"][0]["wrapped"] = (
        wrapped[:middle] + ("A" if wrapped[middle] != "A" else "B") + wrapped[middle + 1 :]
    )
    cases["altered key"] = (json.dumps(flipped), "does not open")
    # Each wrapped key is bound to its owner: moved onto another principal it does not open.
    moved = json.loads(text)
    kim, tess = (
        next(p for p in moved["principals"] if p["name"] == f"{n}@{REALM}") for n in ("kim", "tess")
    )
    assert [k["kvno"] for k in kim["keys"]] == [k["kvno"] for k in tess["keys"]]
    kim["keys"], tess["keys"] = tess["keys"], kim["keys"]
    cases["keys swapped between principals"] = (json.dumps(moved), "does not open")
    assert document["master_key"]
    paths: dict[str, tuple[Path, str]] = {}
    for index, (name, (content, words)) in enumerate(cases.items()):
        path = directory / f"bad-{index}.json"
        path.write_text(content)
        path.chmod(0o600)
        paths[name] = (path, words)
    paths["sealed under another master key"] = (backup.foreign_dump, "another master key")
    return paths


def test_bad_dumps_are_refused_before_anything_changes(backup: Backup, tmp_path: Path) -> None:
    db = backup.restored / "principal.db"
    before = sqlite_snapshot(db)
    cases = damaged_dumps(backup, tmp_path)
    with ThreadPoolExecutor(4) as pool:
        results = dict(
            zip(
                cases,
                pool.map(
                    lambda item: admin(backup.restored, "load", "--force", str(item[0])),
                    cases.values(),
                ),
                strict=True,
            )
        )
    for name, result in results.items():
        assert result.returncode != 0, name
        assert cases[name][1] in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr, name
        assert len(result.stderr.strip().splitlines()) == 1, (name, result.stderr)
    assert sqlite_snapshot(db) == before
    # Without --force a realm holding principals is not replaced, even by a good dump.
    refused = admin(backup.restored, "load", str(backup.dump))
    assert refused.returncode != 0 and "--force" in refused.stderr
    assert sqlite_snapshot(db) == before
