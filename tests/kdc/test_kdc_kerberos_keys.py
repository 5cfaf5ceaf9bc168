"""The Kerberos keys of the realm database (issue 14 §4): one RFC 3961 key per realm enctype
and kvno, made from the password (PBKDF2, salt ``REALMname``, the realm's iteration count) or
random, sealed under the master key, filled into ``PrincipalEntry.kerberos_keys``, kept and
pruned with the key versions, carried by dump/load, listed by getprinc."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from alembic import command
from alembic.config import Config
from click.testing import CliRunner
from sqlalchemy import event, text
from support import FAST_KDF, REALM, open_store

import kdc
from kdc.cli import cli
from kdc.config import KDCSettings, load_settings
from kdc.dump import dump_realm, load_realm
from kdc.kerberos_keys import default_salt, seal_owner
from kdc.store import NewPrincipal, Store, make_engine
from orthrus.enctypes import ENCTYPES, enctype
from orthrus.errors import ConfigError
from orthrus.principal import Principal, krbtgt
from orthrus_io.principal_report import NO_KERBEROS_KEYS

ALICE = Principal.parse(f"alice@{REALM}")
ALICE_PASS = "alice-kerberos-pass"
HOST = Principal.parse(f"host/x@{REALM}")
SVC = Principal.parse(f"HTTP/keys.example.test@{REALM}")
ALL_ENCTYPES = tuple(e.name for e in ENCTYPES.values())
ITERATIONS = 1000  # FAST_KDF's


def admin(directory: Path, *args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(cli, ["--dir", str(directory), *args], input=input)
    assert result.exit_code == 0, result.output
    return result.output


def failing(directory: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--dir", str(directory), *args])
    assert result.exit_code != 0
    return result.output + str(result.exception or "")


@pytest.fixture
def realm_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "kdc"
    admin(directory, "init", "--realm", REALM, *FAST_KDF)
    return directory


@pytest.fixture
def store(realm_dir: Path) -> Iterator[Store]:
    with open_store(realm_dir) as opened:
        yield opened


def expected_password_key(number: int, principal: Principal, password: str, count: int) -> bytes:
    salt = default_salt(principal)
    return enctype(number).string_to_key(password, salt, count.to_bytes(4, "big")).material


def test_the_default_salt_is_the_realm_then_the_name_components() -> None:
    """RFC 4120 §4: "REALMname", components concatenated without separators."""
    assert default_salt(ALICE) == b"EXAMPLE.TESTalice"
    assert default_salt(HOST) == b"EXAMPLE.TESThostx"


def test_settings_default_and_kdc_toml(realm_dir: Path) -> None:
    defaults = KDCSettings(realm=REALM, database_url="sqlite://")
    assert defaults.enctypes == ("aes256-cts-hmac-sha384-192", "aes256-cts-hmac-sha1-96")
    assert defaults.enctype_numbers == (20, 18)
    assert defaults.kerberos_iterations == 32768
    written = (realm_dir / "kdc.toml").read_text()
    assert 'enctypes = ["aes256-cts-hmac-sha384-192", "aes256-cts-hmac-sha1-96"]' in written
    assert f"kerberos_iterations = {ITERATIONS}" in written
    assert load_settings(realm_dir, env={}).enctypes == defaults.enctypes


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('enctypes = ["des-cbc-crc"]', "'des-cbc-crc' is not an encryption type Orthrus supports"),
        ('enctypes = ["rc4-hmac", "aes256-cts-hmac-sha1-96"]', "'rc4-hmac' is not an encryption"),
        ("enctypes = []", "key 'enctypes': name at least one of"),
        ('enctypes = ["aes256-cts-hmac-sha1-96", "AES256-CTS-HMAC-SHA1-96"]', "twice"),
        ("kerberos_iterations = 999", "key 'kerberos_iterations'"),
        ("kerberos_iterations = 16777216", "key 'kerberos_iterations'"),
    ],
)
def test_a_bad_enctypes_or_iterations_is_a_config_error(
    realm_dir: Path, line: str, says: str
) -> None:
    config = realm_dir / "kdc.toml"
    key = line.split(" ")[0]
    kept = [x for x in config.read_text().splitlines() if not x.startswith(f"{key} ")]
    config.write_text("\n".join([*kept, line]) + "\n")
    with pytest.raises(ConfigError, match=re.escape(says)):
        load_settings(realm_dir, env={})
    assert says in failing(realm_dir, "getprinc", str(ALICE))


def test_init_refuses_an_unknown_enctype_before_creating_anything(tmp_path: Path) -> None:
    directory = tmp_path / "kdc"
    assert "'des3-cbc-sha1'" in failing(
        directory, "init", "--realm", REALM, "--enctypes", "des3-cbc-sha1"
    )
    assert not directory.exists()


def test_password_keys_are_pbkdf2_of_the_password_with_the_documented_salt_and_count(
    realm_dir: Path,
) -> None:
    """Every enctype of the registry, in the realm's order; salt REALMname, count as set."""
    with open_store(realm_dir, enctypes=ALL_ENCTYPES, kerberos_iterations=1500) as store:
        for principal in (ALICE, HOST):
            store.add_principal(NewPrincipal(principal, ALICE_PASS))
            entry = store.lookup(principal)
            assert entry is not None
            assert [k.enctype for k in entry.kerberos_keys] == [20, 19, 18, 17]
            for key in entry.kerberos_keys:
                assert key.kvno == entry.kvno == 1
                assert key.salt == default_salt(principal)
                assert key.iterations == 1500
                assert key.key.material == expected_password_key(
                    key.enctype, principal, ALICE_PASS, 1500
                )
                assert entry.kerberos_key(key.enctype) is key
            # The Argon2id key of the JSON dialect is there as before, at the same kvno.
            assert entry.kdf is not None and sorted(entry.keys) == [1]


def test_keys_match_rfc3962_appendix_b(tmp_path: Path) -> None:
    """raeburn@ATHENA.MIT.EDU, password "password", 1200 iterations: RFC 3962's vector,
    whose salt is exactly the principal's default salt."""
    directory = tmp_path / "athena"
    admin(
        directory,
        "init",
        "--realm",
        "ATHENA.MIT.EDU",
        "--kdf-lanes",
        "1",
        "--kerberos-iterations",
        "1200",
        "--enctypes",
        "aes256-cts-hmac-sha1-96, aes128-cts-hmac-sha1-96",
    )
    admin(directory, "addprinc", "raeburn@ATHENA.MIT.EDU", input="password\npassword\n")
    with open_store(directory) as store:
        entry = store.lookup(Principal.parse("raeburn@ATHENA.MIT.EDU"))
    assert entry is not None
    assert {k.enctype: k.key.material.hex() for k in entry.kerberos_keys} == {
        18: "55a6ac740ad17b4846941051e1e8b0a7548d93b0ab30a8bc3ff16280382b8c2a",
        17: "4c01cd46d632d01e6dbe230a01ed642a",
    }


@pytest.mark.skipif(shutil.which("ktutil") is None, reason="MIT krb5-user is not installed")
def test_the_keys_are_those_mit_ktutil_derives(tmp_path: Path) -> None:
    """At MIT's default counts (4096 for RFC 3962 types, 32768 for RFC 8009's, the realm's
    default) every key the store derives is the one MIT's ``ktutil addent -password`` derives
    from the same password and default salt (read back with ``klist -k -K``)."""
    directory = tmp_path / "kdc"
    admin(directory, "init", "--realm", REALM, *FAST_KDF)
    bob = Principal.parse(f"bob/admin@{REALM}")
    ours: dict[tuple[str, str], str] = {}
    script = []
    for principal, count in ((ALICE, 4096), (bob, 32768)):
        with open_store(directory, enctypes=ALL_ENCTYPES, kerberos_iterations=count) as store:
            store.add_principal(NewPrincipal(principal, ALICE_PASS))
            entry = store.lookup(principal)
        assert entry is not None
        for key in entry.kerberos_keys:
            kind = enctype(key.enctype)
            if kind.default_iterations == count:
                ours[(str(principal), kind.name)] = key.key.material.hex()
                script.append(f"addent -password -p {principal} -k 1 -e {kind.name}")
                script.append(ALICE_PASS)
    assert len(ours) == 4
    keytab = tmp_path / "mit.keytab"
    script += [f"wkt {keytab}", "quit", ""]
    env = {"KRB5_CONFIG": "/dev/null", "PATH": "/usr/bin:/bin"}
    subprocess.run(["ktutil"], input="\n".join(script), text=True, env=env, check=True, timeout=60)
    listed = subprocess.run(
        ["klist", "-k", "-K", "-e", str(keytab)], text=True, env=env, capture_output=True
    )
    theirs = re.findall(r"(\S+@\S+) \((\S+)\)\s+\(0x([0-9a-f]+)\)", listed.stdout)
    assert {(name, kind): key for name, kind, key in theirs} == ours


def test_random_keys_for_randkey_init_and_cpw_randkey(realm_dir: Path, store: Store) -> None:
    store.add_principal(NewPrincipal(SVC))
    for principal in (SVC, krbtgt(REALM)):
        entry = store.lookup(principal)
        assert entry is not None and entry.kdf is None
        assert [k.enctype for k in entry.kerberos_keys] == [20, 18]
        for key in entry.kerberos_keys:
            assert key.salt is None and key.iterations is None and key.kvno == 1
            assert len(key.key.material) == enctype(key.enctype).key_size
        assert entry.kerberos_keys[0].key.material != entry.kerberos_keys[1].key.material

    store.add_principal(NewPrincipal(ALICE, ALICE_PASS))
    admin(realm_dir, "cpw", "--randkey", str(ALICE))
    entry = store.lookup(ALICE)
    assert entry is not None and entry.kvno == 2
    assert [(k.kvno, k.enctype, k.salt is None) for k in entry.kerberos_keys] == [
        (2, 20, True),
        (2, 18, True),
        (1, 20, False),
        (1, 18, False),
    ]
    old = entry.kerberos_key(18, 1)
    assert old is not None
    assert old.key.material == expected_password_key(18, ALICE, ALICE_PASS, ITERATIONS)


def test_cpw_adds_password_keys_at_the_new_kvno_and_keeps_the_old(
    realm_dir: Path, store: Store
) -> None:
    store.add_principal(NewPrincipal(ALICE, ALICE_PASS))
    admin(realm_dir, "cpw", str(ALICE), input="a-new-password\na-new-password\n")
    entry = store.lookup(ALICE)
    assert entry is not None and entry.kvno == 2 and sorted(entry.keys) == [1, 2]
    for number in (20, 18):
        new, old = entry.kerberos_key(number), entry.kerberos_key(number, 1)
        assert new is not None and old is not None
        assert new.key.material == expected_password_key(number, ALICE, "a-new-password", 1000)
        assert old.key.material == expected_password_key(number, ALICE, ALICE_PASS, 1000)


def test_rotate_gives_random_keys_and_prune_drops_the_old_ones(store: Store) -> None:
    tgs = krbtgt(REALM)
    now = datetime.now(UTC)
    assert store.rotate(tgs, now) == 2
    entry = store.lookup(tgs)
    assert entry is not None
    assert [(k.kvno, k.enctype, k.salt) for k in entry.kerberos_keys] == [
        (2, 20, None),
        (2, 18, None),
        (1, 20, None),
        (1, 18, None),
    ]
    later = now + timedelta(seconds=store.settings.max_life + store.settings.max_skew + 60)
    assert (str(tgs), 1) in store.prune_keys(later)
    pruned = store.lookup(tgs)
    assert pruned is not None and sorted(pruned.keys) == [2]
    assert [(k.kvno, k.enctype) for k in pruned.kerberos_keys] == [(2, 20), (2, 18)]
    assert pruned.kerberos_key(20) == entry.kerberos_key(20)


def kerberos_rows(realm_dir: Path) -> list[tuple[str, int, int]]:
    with sqlite3.connect(realm_dir / "principal.db") as db:
        return list(
            db.execute(
                "SELECT p.name, k.kvno, k.enctype FROM kerberos_keys k "
                "JOIN principals p ON p.id = k.principal_id ORDER BY 1, 2, 3"
            )
        )


def test_a_lookup_reads_every_key_in_one_query(store: Store) -> None:
    """No extra query on the hot path: the Argon2id and Kerberos keys come in one UNION ALL
    statement, then the groups, as before Kerberos keys existed."""
    store.add_principal(NewPrincipal(ALICE, ALICE_PASS))
    statements: list[str] = []
    event.listen(store._engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    entry = store.lookups._read_entry(ALICE)
    assert entry is not None and len(entry.kerberos_keys) == 2 and len(entry.keys) == 1
    assert len(statements) == 2 and "UNION ALL" in statements[0]


def test_delprinc_drops_the_kerberos_keys(realm_dir: Path, store: Store) -> None:
    store.add_principal(NewPrincipal(SVC))
    assert [r for r in kerberos_rows(realm_dir) if r[0] == str(SVC)] == [
        (str(SVC), 1, 18),
        (str(SVC), 1, 20),
    ]
    admin(realm_dir, "delprinc", "--force", str(SVC))
    assert all(r[0] != str(SVC) for r in kerberos_rows(realm_dir))


def test_an_enctype_taken_out_of_the_realm_is_no_longer_offered(realm_dir: Path) -> None:
    with open_store(realm_dir) as store:
        store.add_principal(NewPrincipal(ALICE, ALICE_PASS))
    with open_store(realm_dir, enctypes=("aes256-cts-hmac-sha1-96",)) as narrowed:
        entry = narrowed.lookup(ALICE)
        assert entry is not None and [k.enctype for k in entry.kerberos_keys] == [18]
        # getprinc still lists every stored key.
        listed = narrowed.describe(ALICE)["kerberos_keys"]
        assert [k["enctype"] for k in listed] == [
            "aes256-cts-hmac-sha1-96",
            "aes256-cts-hmac-sha384-192",
        ]


def test_master_key_rotation_rewraps_the_kerberos_keys(realm_dir: Path) -> None:
    with open_store(realm_dir) as store:
        store.add_principal(NewPrincipal(ALICE, ALICE_PASS))
        before = store.lookup(ALICE)
    with sqlite3.connect(realm_dir / "principal.db") as db:
        sealed = set(db.execute("SELECT wrapped FROM kerberos_keys"))
    admin(realm_dir, "rotate-master-key")
    with sqlite3.connect(realm_dir / "principal.db") as db:
        assert sealed.isdisjoint(set(db.execute("SELECT wrapped FROM kerberos_keys")))
    with open_store(realm_dir) as store:
        assert store.master.kvnos == [2]
        after = store.lookup(ALICE)
    assert before is not None and after is not None
    assert after.kerberos_keys == before.kerberos_keys


def test_getprinc_lists_the_kerberos_keys(realm_dir: Path, store: Store) -> None:
    store.add_principal(NewPrincipal(ALICE, ALICE_PASS))
    shown = admin(realm_dir, "getprinc", str(ALICE))
    assert (
        "Kerberos key: vno 1, aes256-cts-hmac-sha384-192, salt normal, 1000 iterations\n"
        "Kerberos key: vno 1, aes256-cts-hmac-sha1-96, salt normal, 1000 iterations\n"
    ) in shown
    assert json.loads(admin(realm_dir, "getprinc", "--json", str(ALICE)))["kerberos_keys"] == [
        {
            "kvno": 1,
            "enctype": "aes256-cts-hmac-sha384-192",
            "enctype_number": 20,
            "salt": "normal",
            "iterations": 1000,
        },
        {
            "kvno": 1,
            "enctype": "aes256-cts-hmac-sha1-96",
            "enctype_number": 18,
            "salt": "normal",
            "iterations": 1000,
        },
    ]
    tgs = admin(realm_dir, "getprinc", str(krbtgt(REALM)))
    assert "Kerberos key: vno 1, aes256-cts-hmac-sha1-96, random key\n" in tgs
    for text_ in (shown, tgs):
        assert NO_KERBEROS_KEYS not in text_


def test_upgrade_from_0004_principals_get_kerberos_keys_at_their_next_cpw(
    realm_dir: Path,
) -> None:
    """0005 creates the table: a principal made before has none (getprinc says so, and
    lookup gives none) until ``cpw``; ``upgrade`` is safe to repeat, 0005 can be undone."""
    admin(realm_dir, "addprinc", str(ALICE), input=f"{ALICE_PASS}\n{ALICE_PASS}\n")
    config = Config()
    config.set_main_option("script_location", str(Path(kdc.__file__).parent / "migrations"))
    engine = make_engine(f"sqlite:///{realm_dir / 'principal.db'}")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
        tables = {r[0] for r in connection.execute(text("SELECT name FROM sqlite_master"))}
    engine.dispose()
    assert "kerberos_keys" not in tables and "keys" in tables
    for _ in range(2):
        assert admin(realm_dir, "upgrade").strip() == "Database schema is up to date."
    shown = admin(realm_dir, "getprinc", str(ALICE))
    assert f"Kerberos keys: {NO_KERBEROS_KEYS}" in shown
    assert json.loads(admin(realm_dir, "getprinc", "--json", str(ALICE)))["kerberos_keys"] == []
    with open_store(realm_dir) as store:
        entry = store.lookup(ALICE)
        assert entry is not None and entry.kerberos_keys == () and entry.kdf is not None
        admin(realm_dir, "cpw", str(ALICE), input="a-new-password\na-new-password\n")
        rekeyed = store.lookup(ALICE)
        assert rekeyed is not None and rekeyed.kvno == 2
        assert [(k.kvno, k.enctype) for k in rekeyed.kerberos_keys] == [(2, 20), (2, 18)]
    assert NO_KERBEROS_KEYS not in admin(realm_dir, "getprinc", str(ALICE))


def test_dump_and_load_carry_the_kerberos_keys(tmp_path: Path, realm_dir: Path) -> None:
    with open_store(realm_dir) as store:
        store.add_principal(NewPrincipal(ALICE, ALICE_PASS))
        store.add_principal(NewPrincipal(SVC))
        data = dump_realm(store)
        before = {p: store.lookup(p) for p in (ALICE, SVC, krbtgt(REALM))}
    document = json.loads(data)
    alice = next(p for p in document["principals"] if p["name"] == str(ALICE))
    assert [(k["kvno"], k["enctype"], k["iterations"]) for k in alice["kerberos_keys"]] == [
        (1, 18, 1000),
        (1, 20, 1000),
    ]
    copy = tmp_path / "copy"
    admin(copy, "init", "--realm", REALM, *FAST_KDF, "--master-key", str(realm_dir / "master.key"))
    with open_store(copy) as other:
        assert load_realm(other, data) == len(document["principals"])
        assert dump_realm(other) == data
        for principal, entry in before.items():
            loaded = other.lookup(principal)
            assert entry is not None and loaded is not None
            assert loaded.kerberos_keys == entry.kerberos_keys


def test_a_dump_from_before_kerberos_keys_loads(tmp_path: Path, realm_dir: Path) -> None:
    with open_store(realm_dir) as store:
        store.add_principal(NewPrincipal(ALICE, ALICE_PASS))
        document = json.loads(dump_realm(store))
    for principal in document["principals"]:
        del principal["kerberos_keys"]
    copy = tmp_path / "copy"
    admin(copy, "init", "--realm", REALM, *FAST_KDF, "--master-key", str(realm_dir / "master.key"))
    with open_store(copy) as other:
        load_realm(other, json.dumps(document).encode())
        entry = other.lookup(ALICE)
        assert entry is not None and entry.kerberos_keys == () and sorted(entry.keys) == [1]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"kvno": 7}, "but no key version 7"),
        ({"enctype": 23}, "does not open"),
    ],
)
def test_load_refuses_a_misplaced_kerberos_key(
    tmp_path: Path, realm_dir: Path, change: dict[str, int], says: str
) -> None:
    """A sealed key moved to another kvno or enctype in the file does not open: refused
    before anything changes."""
    with open_store(realm_dir) as store:
        store.add_principal(NewPrincipal(ALICE, ALICE_PASS))
        document = json.loads(dump_realm(store))
        alice = next(p for p in document["principals"] if p["name"] == str(ALICE))
        alice["kerberos_keys"][0].update(change)
        with pytest.raises(ConfigError, match=says):
            load_realm(store, msgspec.json.encode(document))
        assert store.lookup(ALICE) is not None


@pytest.mark.parametrize(("number", "size"), [(25, 16), (18, 16)])
def test_load_refuses_a_kerberos_key_of_an_unknown_type_or_size(
    realm_dir: Path, number: int, size: int
) -> None:
    """A dump of a newer Orthrus with a type this one lacks (camellia128-cts-cmac, 25), or a
    key of the wrong size, sealed under the right master key: refused, nothing changed."""
    with open_store(realm_dir) as store:
        store.add_principal(NewPrincipal(ALICE, ALICE_PASS))
        document = json.loads(dump_realm(store))
        alice = next(p for p in document["principals"] if p["name"] == str(ALICE))
        alice["kerberos_keys"][0].update(
            enctype=number,
            wrapped=store.master.wrap(bytes(size), seal_owner(str(ALICE), 1, number)),
        )
        with pytest.raises(ConfigError, match="of an unknown type or size"):
            load_realm(store, msgspec.json.encode(document))
        assert store.lookup(ALICE) is not None
