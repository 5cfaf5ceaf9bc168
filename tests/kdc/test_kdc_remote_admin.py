"""Remote administration end to end (issue 17 §1): ``orthrus-kdc serve`` on a free port,
``orthrus kinit root/admin`` and ``orthrus admin ...`` as subprocesses, as an admin types
them; the ACL file edited while the KDC runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from support import REALM, Realm, User, assert_one_sentence_error

from client_lib.admin import admin as admin_group
from kdc.cli import cli as kdc_cli
from orthrus.keytab import Keytab
from orthrus.mitkeytab import parse_keytab

ADMIN_PASS = "root-admin-pass"
HELPDESK_PASS = "helpdesk-pass"
ACL = f"*/admin@{REALM} *\nhelpdesk@{REALM} c *@{REALM}\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Realm, str]]:
    realm = Realm.create(tmp_path_factory.mktemp("remote-admin") / "kdc")
    realm.add_user(f"root/admin@{REALM}", ADMIN_PASS)
    realm.add_user(f"helpdesk@{REALM}", HELPDESK_PASS)
    realm.add_user(f"bob@{REALM}", "bob-first-pass")
    (realm.directory / "kadm5.acl").write_text(ACL)
    yield realm, realm.serve()
    realm.stop_all()


def _audit(realm: Realm) -> list[dict[str, object]]:
    lines = (realm.directory / "audit.log").read_text().splitlines()
    return [json.loads(line) for line in lines if '"via": "api"' in line]


def test_init_makes_kadmin_admin_and_the_default_acl(served: tuple[Realm, str]) -> None:
    realm, _ = served
    names = json.loads(realm.admin("listprincs", "--json").stdout)
    assert f"kadmin/admin@{REALM}" in names
    fresh = Realm.create(realm.directory.parent / "fresh")
    assert f"*/admin@{REALM}  *" in (fresh.directory / "kadm5.acl").read_text()


def test_upgrade_makes_what_an_older_realm_lacks(tmp_path: Path) -> None:
    """A realm made before remote administration: ``upgrade`` adds kadmin/admin and the
    default ACL, and leaves an ACL the operator wrote alone."""
    realm = Realm.create(tmp_path / "kdc")
    realm.admin("delprinc", "--force", f"kadmin/admin@{REALM}")
    acl = realm.directory / "kadm5.acl"
    acl.unlink()
    realm.admin("upgrade")
    assert f"kadmin/admin@{REALM}" in json.loads(realm.admin("listprincs", "--json").stdout)
    assert acl.read_text().endswith(f"*/admin@{REALM}  *\n")
    acl.write_text(ACL)
    realm.admin("upgrade")
    assert acl.read_text() == ACL


def test_an_admin_administers_the_realm_over_the_api(
    served: tuple[Realm, str], tmp_path: Path
) -> None:
    realm, url = served
    root = User(url, tmp_path / "root.ccache")
    root.kinit(f"root/admin@{REALM}", ADMIN_PASS)

    def run(*args: str, input: str | None = None) -> str:
        return root.run("admin", *args, input=input, check=True).stdout

    assert run("addprinc", "carol", input="carol-first-pass\n") == (
        f'Principal "carol@{REALM}" created.\n'
    )
    assert f"carol@{REALM}" in json.loads(run("listprincs", "--json"))
    run("modprinc", "--add-group", "ops", "--maxlife", "2h", "carol")
    info = json.loads(run("getprinc", "--json", "carol"))
    assert (info["groups"], info["max_life"]) == (["ops"], 7200)
    assert "Groups: ops" in run("getprinc", "carol")
    assert "kvno 2" in run("cpw", "carol", input="carol-second-pass\n")
    carol = User(url, tmp_path / "carol.ccache")
    assert carol.kinit(f"carol@{REALM}", "carol-second-pass").returncode == 0

    run("addprinc", "--randkey", "HTTP/web")
    assert "rotated to kvno 2" in run("rotate", "HTTP/web")
    keytab = tmp_path / "web.keytab"
    out = run("ktadd", "-k", str(keytab), "HTTP/web")
    assert f"Entry for principal HTTP/web@{REALM} with kvno 2, encryption type A256GCM" in out
    assert {e.kvno for e in Keytab.from_bytes(keytab.read_bytes()).entries} == {1, 2}
    assert keytab.stat().st_mode & 0o077 == 0
    mit = tmp_path / "web.mit"
    run("ktadd", "--format", "mit", "-k", str(mit), "HTTP/web")
    assert {e.kvno for e in parse_keytab(mit.read_bytes())} == {2}

    assert run("delprinc", "--force", "carol") == f'Principal "carol@{REALM}" deleted.\n'
    gone = root.run("admin", "getprinc", "carol")
    assert_one_sentence_error(gone, "KDC_ERR_C_PRINCIPAL_UNKNOWN")
    assert f"principal carol@{REALM} does not exist" in gone.stderr

    done = [(e["admin"], e["action"], e.get("principal"), e["result"]) for e in _audit(realm)]
    assert (f"root/admin@{REALM}", "addprinc", f"carol@{REALM}", "ok") in done
    assert (f"root/admin@{REALM}", "ktadd", f"HTTP/web@{REALM}", "ok") in done
    assert (f"root/admin@{REALM}", "delprinc", f"carol@{REALM}", "ok") in done


def test_the_acl_limits_an_admin_and_an_edit_takes_effect_at_once(
    served: tuple[Realm, str], tmp_path: Path
) -> None:
    realm, url = served
    helpdesk = User(url, tmp_path / "helpdesk.ccache")
    helpdesk.kinit(f"helpdesk@{REALM}", HELPDESK_PASS)
    assert "kvno 2" in helpdesk.run("admin", "cpw", "bob", input="bob-second-pass\n").stdout
    refused = helpdesk.run("admin", "cpw", f"root/admin@{REALM}", input="stolen-pass-1\n")
    assert_one_sentence_error(refused, "KDC_ERR_POLICY")
    assert "the permission 'c' (change passwords and keys) is missing" in refused.stderr
    refused = helpdesk.run("admin", "addprinc", "--randkey", "eve")
    assert_one_sentence_error(refused, "KDC_ERR_POLICY")
    assert "may not addprinc" in refused.stderr

    acl = realm.directory / "kadm5.acl"
    acl.write_text(ACL + f"helpdesk@{REALM} a\n")
    try:
        helpdesk.run("admin", "addprinc", "--randkey", "eve", check=True)
    finally:
        acl.write_text(ACL)
    entry = _audit(realm)[-1]
    assert (entry["admin"], entry["action"], entry["result"]) == (
        f"helpdesk@{REALM}",
        "addprinc",
        "ok",
    )


def test_without_a_ticket_the_command_says_what_to_do(
    served: tuple[Realm, str], tmp_path: Path
) -> None:
    _, url = served
    nobody = User(url, tmp_path / "none.ccache")
    result = nobody.run("admin", "listprincs")
    assert result.returncode == 1
    assert "orthrus kinit" in result.stderr
    assert "Traceback" not in result.stderr


def _flags(command: click.Command) -> list[tuple[str, ...]]:
    return sorted(tuple(sorted(p.opts + p.secondary_opts)) for p in command.params)


def test_orthrus_admin_has_the_subcommands_and_flags_of_orthrus_kdc() -> None:
    assert isinstance(kdc_cli, click.Group)
    for name, command in admin_group.commands.items():
        assert _flags(command) == _flags(kdc_cli.commands[name]), name
    assert set(admin_group.commands) == {
        "addprinc",
        "delprinc",
        "modprinc",
        "getprinc",
        "listprincs",
        "cpw",
        "ktadd",
        "rotate",
    }
