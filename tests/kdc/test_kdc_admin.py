"""``orthrus-kdc``, the admin CLI, run as subprocesses on a realm of this module's own.

Commands that do not depend on each other run concurrently (each costs a Python start).
Every output of every command is kept and checked for passwords and key material.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
import subprocess
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support import (
    BIN,
    FAST_KDF,
    REALM,
    Realm,
    User,
    assert_one_sentence_error,
    clean_env,
    open_store,
    sqlite_snapshot,
)

from kdc.store import NewPrincipal
from orthrus.ap import APRules, AuthenticatorFields, make_ap_req, verify_ap_req
from orthrus.as_exchange import ASOptions, handle_as_req, make_as_req, read_as_rep
from orthrus.b64 import b64u_encode
from orthrus.credentials import Credential
from orthrus.errors import APError
from orthrus.keytab import Keytab
from orthrus.principal import Principal, krbtgt
from orthrus.realm import KDCContext
from orthrus.replay import MemoryReplayCache

CAROL_PASS = "carol-s3cret-pass"
DAVE_PASS = "dave-s3cret-pass"
GRACE_PASS = "grace-s3cret-pass"
SVC = f"HTTP/svc.example.test@{REALM}"
FIXTURE_SVC = f"HTTP/fixture@{REALM}"

#: Every CLI output of this module, and every secret none of them may show.
OUTPUTS: list[str] = []
SECRETS: set[str] = {CAROL_PASS, DAVE_PASS, GRACE_PASS, "eve-s3cret-pass", "henry-s3cret-pass"}

Command = tuple[Path, Sequence[str], str | None]


def run(directory: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_all([(directory, args, input)])[0]


def run_all(commands: Sequence[Command]) -> list[subprocess.CompletedProcess[str]]:
    """Run ``orthrus-kdc --dir D ARGS`` for each command, concurrently, stdin not a tty."""

    def one(command: Command) -> subprocess.CompletedProcess[str]:
        directory, args, stdin = command
        return subprocess.run(
            [str(BIN / "orthrus-kdc"), "--dir", str(directory), *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, commands))
    for result in results:
        OUTPUTS.append(result.stdout + result.stderr)
        assert "Traceback" not in result.stdout + result.stderr
        assert_no_secrets(result.stdout + result.stderr)
    return results


def assert_no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, "a password or key shows in the output"


def key_forms(key: bytes) -> set[str]:
    return {key.hex(), b64u_encode(key), base64.b64encode(key).decode()}


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Realm]:
    """A realm created by ``init`` (output kept), with dave added (password) for delprinc."""
    directory = tmp_path_factory.mktemp("admin") / "kdc"
    realm = Realm(directory)
    init = run(directory, "init", "--realm", REALM, *FAST_KDF)
    assert init.returncode == 0, init.stderr
    realm.init_output = init.stdout  # type: ignore[attr-defined]
    with open_store(directory) as store:
        for name, password in ((f"dave@{REALM}", DAVE_PASS), (f"grace@{REALM}", GRACE_PASS)):
            store.add_principal(NewPrincipal(Principal.parse(name), password))
        store.add_principal(NewPrincipal(Principal.parse(FIXTURE_SVC)))
    yield realm
    realm.stop_all()


@pytest.fixture(scope="module")
def kdc_url(realm: Realm) -> str:
    return realm.serve()


def copy_tree(source: Path, target: Path) -> None:
    """Copy a realm directory in another process (see :func:`support.open_store`)."""
    subprocess.run(["cp", "-a", str(source), str(target)], check=True)


def db_file(realm: Realm) -> Path:
    return realm.directory / "principal.db"


# -- init --------------------------------------------------------------------------------------


def test_init_creates_config_stash_database_and_krbtgt(realm: Realm) -> None:
    directory = realm.directory
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for name in ("kdc.toml", "master.key", "principal.db"):
        path = directory / name
        assert path.is_file(), name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    config = (directory / "kdc.toml").read_text()
    assert f'realm = "{REALM}"' in config
    assert "kdf_memory_kib = 65536" in config
    assert "kdf_lanes = 1" in config
    assert f"Realm {REALM} created in {directory}" in realm.init_output  # type: ignore[attr-defined]
    assert "master.key (mode 0600" in realm.init_output  # type: ignore[attr-defined]
    names = [row[1] for row in sqlite_snapshot(db_file(realm))["principals"]]
    assert f"krbtgt/{REALM}@{REALM}" in names
    stash = json.loads((directory / "master.key").read_bytes())
    for version in stash["keys"]:
        SECRETS.update(key_forms(base64.b64decode(version["key"])))


def test_refusals(realm: Realm, tmp_path: Path) -> None:
    """init twice, a bad realm, a wrong master key stash, a stash open to its group,
    delprinc off a terminal without --force, a duplicate principal: each one clear sentence,
    exit status non-zero, nothing changed."""
    from kdc.masterkey import MasterKey

    wrong = tmp_path / "wrong"
    copy_tree(realm.directory, wrong)
    (wrong / "master.key").unlink()
    MasterKey.create(wrong / "master.key")
    wrong_before = sqlite_snapshot(wrong / "principal.db")
    opened = tmp_path / "opened"
    copy_tree(realm.directory, opened)
    os.chmod(opened / "master.key", 0o640)
    stash_before = (realm.directory / "master.key").read_bytes()
    before = sqlite_snapshot(db_file(realm))
    dave = f"dave@{REALM}"
    results = run_all(
        [
            (realm.directory, ["init", "--realm", REALM, *FAST_KDF], None),
            (tmp_path / "bad", ["init", "--realm", "example.test"], None),
            (wrong, ["addprinc", f"eve@{REALM}"], "eve-s3cret-pass\n"),
            (opened, ["listprincs"], None),
            (realm.directory, ["delprinc", dave], "yes\n"),
            (realm.directory, ["addprinc", dave], "other-s3cret-pass\n"),
        ]
    )
    twice, bad_realm, wrong_key, group_readable, no_force, duplicate = results

    assert_one_sentence_error(twice, "already holds a KDC")
    assert twice.returncode == 1
    assert (realm.directory / "master.key").read_bytes() == stash_before

    assert bad_realm.returncode == 2
    assert "realm 'example.test' must be upper-case" in bad_realm.stderr
    assert "Traceback" not in bad_realm.stderr
    last = bad_realm.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: Invalid value for") and "--realm" in last
    assert not (tmp_path / "bad" / "kdc.toml").exists()

    assert_one_sentence_error(wrong_key, "master key")
    assert wrong_key.returncode == 1
    assert len(wrong_key.stderr.strip().splitlines()) == 1
    assert sqlite_snapshot(wrong / "principal.db") == wrong_before  # nothing written under it

    assert_one_sentence_error(group_readable, "open to other users (mode 0640)")
    assert f"chmod 600 {opened / 'master.key'}" in group_readable.stderr

    assert no_force.returncode == 2
    assert "--force" in no_force.stderr
    assert "Traceback" not in no_force.stderr

    assert_one_sentence_error(duplicate, "already exists")
    assert duplicate.returncode == 1
    assert sqlite_snapshot(db_file(realm)) == before


# -- principals ------------------------------------------------------------------------------


def test_addprinc_getprinc_modprinc_listprincs(realm: Realm) -> None:
    carol = f"carol@{REALM}"
    added, service = run_all(
        [
            (
                realm.directory,
                ["addprinc", "--group", "old", "--group", "ops", carol],
                f"{CAROL_PASS}\n",
            ),
            (realm.directory, ["addprinc", "--randkey", SVC], None),
        ]
    )
    assert ok(added).strip() == f'Principal "{carol}" created.'
    assert ok(service).strip() == f'Principal "{SVC}" created.'
    modified = run(
        realm.directory, "modprinc", "--add-group", "dev", "--remove-group", "old", carol
    )
    assert ok(modified).strip() == f'Principal "{carol}" modified.'
    text, as_json, names = run_all(
        [
            (realm.directory, ["getprinc", carol], None),
            (realm.directory, ["getprinc", "--json", "carol"], None),
            (realm.directory, ["listprincs", "--json"], None),
        ]
    )
    lines = ok(text).splitlines()
    assert lines[0] == f"Principal: {carol}"
    assert "Number of keys: 1" in lines
    assert "Key: vno 1, A256GCM" in lines
    assert "Groups: dev, ops" in lines
    assert "Attributes: REQUIRES_PRE_AUTH DISALLOW_SVR" in lines  # a password key
    assert "Maximum ticket life: 0 days 10:00:00" in lines
    info = json.loads(ok(as_json))
    assert info["principal"] == carol
    assert info["groups"] == ["dev", "ops"]
    assert info["keys"] == [{"kvno": 1, "enctype": "A256GCM"}]
    assert info["password_key"] is True
    assert info["requires_preauth"] is True
    assert info["allow_svr"] is False
    listed = json.loads(ok(names))
    assert listed == sorted(listed)
    assert {carol, f"dave@{REALM}", SVC, f"krbtgt/{REALM}@{REALM}"} <= set(listed)
    assert not {"key", "wrapped", "salt", "kdf_salt", "material"} & set(info)
    assert all(set(key) == {"kvno", "enctype"} for key in info["keys"])


def test_allow_svr_is_set_by_addprinc_and_modprinc_and_shown_by_getprinc(realm: Realm) -> None:
    """``--allow-svr`` (MIT's allow_svr) lets a password principal be a ticket's server;
    getprinc shows the flag in --json and, as MIT does, DISALLOW_SVR while it is refused.
    A random-key principal is a server whatever the flag says: its key cannot be guessed."""
    henry = f"henry@{REALM}"
    added = run(realm.directory, "addprinc", "--allow-svr", henry, input="henry-s3cret-pass\n")
    assert ok(added).strip() == f'Principal "{henry}" created.'

    def shown() -> tuple[list[str], dict[str, object]]:
        text, as_json, service = run_all(
            [
                (realm.directory, ["getprinc", henry], None),
                (realm.directory, ["getprinc", "--json", henry], None),
                (realm.directory, ["getprinc", FIXTURE_SVC], None),
            ]
        )
        assert "Attributes: REQUIRES_PRE_AUTH" in ok(service).splitlines()
        return ok(text).splitlines(), json.loads(ok(as_json))

    lines, info = shown()
    assert "Attributes: REQUIRES_PRE_AUTH" in lines
    assert info["allow_svr"] is True and info["password_key"] is True
    ok(run(realm.directory, "modprinc", "--no-allow-svr", henry))
    lines, info = shown()
    assert "Attributes: REQUIRES_PRE_AUTH DISALLOW_SVR" in lines
    assert info["allow_svr"] is False


def test_getprinc_names_a_key_salted_before_salts_were_bound(realm: Realm) -> None:
    """A password key from before salts were bound to names (a 16-byte salt part, as a
    dump of an older realm loads it): getprinc says to reset it; cpw does."""
    gail = f"gail@{REALM}"
    ok(run(realm.directory, "addprinc", gail, input="gail-s3cret-pass\n"))
    with sqlite3.connect(db_file(realm)) as db:
        db.execute("UPDATE principals SET kdf_salt = zeroblob(16) WHERE name = ?", (gail,))
    before, as_json = run_all(
        [
            (realm.directory, ["getprinc", gail], None),
            (realm.directory, ["getprinc", "--json", gail], None),
        ]
    )
    assert f"reset it (orthrus-kdc cpw {gail})" in ok(before)
    assert json.loads(ok(as_json))["legacy_salt"] is True
    ok(run(realm.directory, "cpw", gail, input="gail-new-s3cret\n"))
    after = ok(run(realm.directory, "getprinc", gail))
    assert "cpw" not in after
    with sqlite3.connect(db_file(realm)) as db:
        (salt,) = db.execute("SELECT kdf_salt FROM principals WHERE name = ?", (gail,)).fetchone()
    assert len(salt) == 32


def test_cpw_keeps_the_old_key_for_tickets_already_issued(realm: Realm, tmp_path: Path) -> None:
    rotating = Principal.parse(f"HTTP/rotating@{REALM}")
    frank = Principal.parse(f"frank@{REALM}")

    def ticket_for_frank() -> Credential:
        """A ticket for the service, issued by the KDC logic over the realm's database."""
        with open_store(realm.directory) as store:
            if store.lookup(frank) is None:
                store.add_principal(NewPrincipal(frank))
                store.add_principal(NewPrincipal(rotating))
            ctx = KDCContext(store.settings.policy, store.lookup, MemoryReplayCache(), os.urandom)
            key = store.lookup(frank).current_key  # type: ignore[union-attr]
            now = time.time()
            req = make_as_req(frank, now, os.urandom, ASOptions(server=rotating), key)
            return read_as_rep(handle_as_req(req, ctx, now), req, key, now)

    old_ticket = ticket_for_frank()
    assert old_ticket.ticket.kvno == 1

    changed = run(realm.directory, "cpw", "--randkey", str(rotating))
    assert ok(changed).strip() == f'Key for "{rotating}" changed (kvno 2).'
    keytab_path = tmp_path / "svc.keytab"
    exported = run(
        realm.directory, "ktadd", "-k", str(keytab_path), str(rotating), f"krbtgt/{REALM}"
    )
    lines = ok(exported).splitlines()
    assert lines[:2] == [
        f"Entry for principal {rotating} with kvno {kvno}, encryption type A256GCM added to "
        f"keytab FILE:{keytab_path}."
        for kvno in (1, 2)
    ]
    assert stat.S_IMODE(keytab_path.stat().st_mode) == 0o600
    keytab = Keytab.from_bytes(keytab_path.read_bytes())
    keys = keytab.keys_by_principal()
    assert sorted(keys[rotating]) == [1, 2]
    assert keytab.kdc_jwks is not None and keytab.kdc_jwks["keys"][0]["crv"] == "Ed25519"
    for entry in keytab.entries:
        SECRETS.update(key_forms(entry.key))
    for text in OUTPUTS:  # nothing printed so far showed any of these keys
        assert_no_secrets(text)

    # The kvno 1 ticket still verifies with the keytab's kvno 1 key; a new one is kvno 2.
    new_ticket = ticket_for_frank()
    assert new_ticket.ticket.kvno == 2
    now = time.time()
    for ticket in (old_ticket, new_ticket):
        ap_req, _ = make_ap_req(ticket, now, os.urandom, AuthenticatorFields())
        verified = verify_ap_req(ap_req, keys.get, now, APRules(MemoryReplayCache()))
        assert verified.ticket.client == frank
    only_new = {rotating: {2: keys[rotating][2]}}
    ap_req, _ = make_ap_req(old_ticket, now, os.urandom, AuthenticatorFields())
    with pytest.raises(APError, match="KRB_AP_ERR_BADKEYVER"):
        verify_ap_req(ap_req, only_new.get, now, APRules(MemoryReplayCache()))

    # Keys at rest are sealed under the master key: none appears in the database files.
    raw = b"".join(p.read_bytes() for p in realm.directory.glob("principal.db*"))
    assert raw
    for entry in keytab.entries:
        for form in (entry.key, *(text.encode() for text in key_forms(entry.key))):
            assert form not in raw


def test_delprinc_then_kinit_is_principal_unknown(
    realm: Realm, kdc_url: str, tmp_path: Path
) -> None:
    user = User(kdc_url, tmp_path / "ccache")
    assert user.kinit(f"dave@{REALM}", DAVE_PASS).returncode == 0
    deleted = run(realm.directory, "delprinc", "--force", f"dave@{REALM}")
    assert ok(deleted).strip() == f'Principal "dave@{REALM}" deleted.'
    result = user.kinit(f"dave@{REALM}", DAVE_PASS)
    # The TGT issued before the deletion no longer gets service tickets.
    revoked = user.run("kvno", FIXTURE_SVC)
    OUTPUTS.extend([result.stdout + result.stderr, revoked.stdout + revoked.stderr])
    assert_one_sentence_error(result, "KDC_ERR_C_PRINCIPAL_UNKNOWN")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert_one_sentence_error(revoked, "KDC_ERR_CLIENT_REVOKED")
    names = [row[1] for row in sqlite_snapshot(db_file(realm))["principals"]]
    assert f"dave@{REALM}" not in names


def test_no_secret_in_any_output_log_or_repr(realm: Realm, kdc_url: str, tmp_path: Path) -> None:
    from kdc.masterkey import MasterKey

    user = User(kdc_url, tmp_path / "ccache")
    grace = Principal.parse(f"grace@{REALM}")
    good = user.kinit(str(grace), GRACE_PASS)
    wrong = user.kinit(str(grace), "not-graces-pass")
    OUTPUTS.extend([good.stdout + good.stderr, wrong.stdout + wrong.stderr])
    assert good.returncode == 0, good.stderr
    assert_one_sentence_error(wrong, "KDC_ERR_PREAUTH_FAILED")
    SECRETS.add("not-graces-pass")
    master = MasterKey.load(realm.directory / "master.key")
    with open_store(realm.directory) as store:
        entries = store.keytab_entries(grace)
        entry = store.lookup(grace)
        tgs_key = store.lookup(krbtgt(REALM)).current_key  # type: ignore[union-attr]
    for keytab_entry in entries:
        SECRETS.update(key_forms(keytab_entry.key))
    SECRETS.update(key_forms(tgs_key.material))
    time.sleep(0.2)
    logs = {p.name: p.read_text(errors="replace") for p in realm.directory.glob("*.log")}
    assert any(name.startswith("kdc-") for name in logs)
    assert "audit.log" in logs
    for text in [*OUTPUTS, *logs.values()]:
        assert_no_secrets(text)
    for obj in (master, tgs_key, *entries, entry):
        assert_no_secrets(repr(obj))
    assert repr(master).startswith("MasterKey(kvno=1")


def test_delegation_attributes_are_set_by_modprinc_and_shown_by_getprinc(realm: Realm) -> None:
    """``--allowed-to-delegate-to`` (repeatable, taken back with
    ``--no-allowed-to-delegate-to``), ``--ok-as-delegate`` and ``--disallow-forwardable``;
    getprinc shows MIT's OK_AS_DELEGATE and DISALLOW_FORWARDABLE and the allowed services.
    A service that does not exist, or of another realm, is refused with nothing changed."""
    front, back = f"HTTP/front.example.test@{REALM}", f"HTTP/back.example.test@{REALM}"
    ok(run(realm.directory, "addprinc", "--randkey", front))
    ok(run(realm.directory, "addprinc", "--randkey", back))
    changed = run(
        realm.directory,
        "modprinc", "--allowed-to-delegate-to", back, "--allowed-to-delegate-to", FIXTURE_SVC,
        "--ok-as-delegate", "--disallow-forwardable", front,
    )  # fmt: skip
    assert ok(changed).strip() == f'Principal "{front}" modified.'
    text, as_json = run_all(
        [
            (realm.directory, ["getprinc", front], None),
            (realm.directory, ["getprinc", "--json", front], None),
        ]
    )
    lines = ok(text).splitlines()
    assert "Attributes: REQUIRES_PRE_AUTH DISALLOW_FORWARDABLE OK_AS_DELEGATE" in lines
    assert f"Allowed to delegate to: {back}, {FIXTURE_SVC}" in lines
    info = json.loads(ok(as_json))
    assert info["allowed_to_delegate_to"] == [back, FIXTURE_SVC]
    assert (info["ok_as_delegate"], info["allow_forwardable"]) == (True, False)
    for target in (f"HTTP/nowhere@{REALM}", "HTTP/back.example.test@OTHER.TEST"):
        before = sqlite_snapshot(db_file(realm))
        refused = run(realm.directory, "modprinc", "--allowed-to-delegate-to", target, front)
        assert refused.returncode != 0 and "Traceback" not in refused.stderr
        assert target.split("@")[1] in refused.stderr
        assert sqlite_snapshot(db_file(realm)) == before
    ok(run(realm.directory, "modprinc", "--no-allowed-to-delegate-to", FIXTURE_SVC, front))
    info = json.loads(ok(run(realm.directory, "getprinc", "--json", front)))
    assert info["allowed_to_delegate_to"] == [back]
