"""The ``orthrus`` CLI (kinit, klist, kvno, kdestroy) as subprocesses against the session KDC.

Commands that do not depend on each other run concurrently (each costs a Python start).
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import (
    BIN,
    REALM,
    Realm,
    User,
    assert_one_sentence_error,
    clean_env,
    fake_kdc,
    free_port,
    http_login,
)

from client_lib.api import Client
from client_lib.ccache import CredentialCache
from client_lib.config import ClientSettings
from orthrus.errors import KDCError
from orthrus.principal import Principal

ALICE = f"alice@{REALM}"
HTTP = f"HTTP/localhost@{REALM}"
TGS = f"krbtgt/{REALM}@{REALM}"
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
WHEN = r"\d\d/\d\d/\d{2,4} \d\d:\d\d:\d\d"


def run_many(
    *calls: tuple[User, Sequence[str], str | None],
) -> list[subprocess.CompletedProcess[str]]:
    """Run ``orthrus`` commands concurrently: (user, args, stdin)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(user.run, *args, input=stdin) for user, args, stdin in calls]
        results = [future.result() for future in futures]
    for result in results:
        assert "Traceback" not in result.stdout + result.stderr
    return results


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def epoch(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def span(ticket: dict[str, str], end: str) -> int:
    """Seconds from a ticket's start to its ``end`` (``endtime`` or ``renew_till``)."""
    return epoch(ticket[end]) - epoch(ticket["starttime"])


def requested(seconds: int, asked: int) -> bool:
    """A span the client asked for as an absolute time (``-l``, ``-r``): the KDC counts it from
    its own second, which may be the one after the client's."""
    return asked - 1 <= seconds <= asked


def logged_in(user: User) -> None:
    """Give ``user`` a cache holding alice's TGT, made in-process (saves a kinit)."""
    tgt, _ = http_login(user.kdc_url, ALICE, "alice-pass", renewable_life=86400)
    CredentialCache(user.ccache).initialize(tgt.client, tgt)


def klist_json(user: User) -> dict:
    return json.loads(ok(user.run("klist", "--json")))


@pytest.fixture
def other_user(kdc_url: str, tmp_path: Path) -> User:
    return User(kdc_url, tmp_path / "other" / "ccache")


def check_klist_json(document: dict, user: User, principal: str) -> None:
    assert set(document) == {"cache", "principal", "tickets"}
    assert document["cache"] == str(user.ccache)
    assert document["principal"] == principal
    for ticket in document["tickets"]:
        assert set(ticket) == {"server", "starttime", "endtime", "renew_till", "flags", "kvno"}
        assert ISO.match(ticket["starttime"]) and ISO.match(ticket["endtime"])
        assert ticket["renew_till"] is None or ISO.match(ticket["renew_till"])
        assert isinstance(ticket["kvno"], int)
        assert isinstance(ticket["flags"], list)


def test_kinit_klist_kvno_kdestroy(user: User) -> None:
    login = user.kinit(ALICE, "alice-pass")
    assert ok(login) == ""
    assert stat.S_IMODE(user.ccache.stat().st_mode) == 0o600
    assert "alice-pass" not in user.ccache.read_text(errors="replace")

    text, as_json = run_many((user, ["klist", "-f"], None), (user, ["klist", "--json"], None))
    lines = ok(text).splitlines()
    assert lines[0] == f"Ticket cache: FILE:{user.ccache}"
    assert lines[1] == f"Default principal: {ALICE}"
    assert lines[2] == ""
    assert lines[3] == "Valid starting       Expires              Service principal"
    assert re.fullmatch(rf"{WHEN}  {WHEN}  {re.escape(TGS)}", lines[4]), lines[4]
    assert re.fullmatch(rf"\trenew until {WHEN}", lines[5]), lines[5]
    assert sorted(lines[6].removeprefix("\tFlags: ")) == ["A", "I", "R"], lines[6]
    assert len(lines) == 7
    document = json.loads(ok(as_json))
    check_klist_json(document, user, ALICE)
    (tgt,) = document["tickets"]
    assert tgt["server"] == TGS
    assert sorted(tgt["flags"]) == ["initial", "pre-authent", "renewable"]
    assert span(tgt, "endtime") == 10 * 3600  # till 0: the longest allowed, exactly
    assert requested(span(tgt, "renew_till"), 7 * 86400)
    assert tgt["kvno"] == 1

    assert ok(user.run("kvno", HTTP)).strip() == f"{HTTP}: kvno = 1"
    text, as_json = run_many((user, ["klist", "-v"], None), (user, ["klist", "--json"], None))
    assert re.search(rf"^{WHEN}  {WHEN}  {re.escape(HTTP)}\n\tTicket kvno: 1$", ok(text), re.M)
    tickets = {t["server"]: t for t in json.loads(ok(as_json))["tickets"]}
    assert set(tickets) == {TGS, HTTP}
    assert tickets[HTTP]["renew_till"] is None
    assert tickets[HTTP]["flags"] == ["pre-authent"]
    assert tickets[HTTP]["endtime"] == tickets[TGS]["endtime"]

    assert ok(user.run("kdestroy")) == ""
    assert not user.ccache.exists()
    after, again = run_many((user, ["klist"], None), (user, ["kdestroy"], None))
    for result in (after, again):
        assert_one_sentence_error(result, f"no credentials cache found (filename: {user.ccache})")
        assert result.returncode == 1
        assert len(result.stderr.strip().splitlines()) == 1


def test_klist_columns_line_up_with_the_header(user: User) -> None:
    """As MIT's klist: each column starts under its heading."""
    logged_in(user)
    lines = ok(user.run("klist")).splitlines()
    header, row = lines[3], lines[4]
    expires, service = header.index("Expires"), header.index("Service principal")
    assert row[expires - 2 : expires] == "  " and row[expires] != " ", (header, row)
    assert row[service:] == TGS, (header, row)


def test_kinit_lifetime_and_renew(user: User, other_user: User) -> None:
    short, renewable = run_many(
        (user, ["kinit", "-l", "1h", ALICE], "alice-pass\n"),
        (other_user, ["kinit", "-l", "2h", "-r", "1d", ALICE], "alice-pass\n"),
    )
    ok(short)
    ok(renewable)
    first, before = klist_json(user)["tickets"][0], klist_json(other_user)["tickets"][0]
    assert requested(span(first, "endtime"), 3600)
    assert requested(span(before, "endtime"), 2 * 3600)
    assert requested(span(before, "renew_till"), 86400)

    renewed = ok(other_user.run("kinit", "-R"))
    assert renewed.startswith(f"Ticket for {ALICE} renewed until ")
    (after,) = klist_json(other_user)["tickets"]
    assert after["server"] == TGS
    assert after["renew_till"] == before["renew_till"]
    assert epoch(after["starttime"]) >= epoch(before["starttime"])
    assert span(after, "endtime") == span(before, "endtime")  # renewal: the same life again
    assert "initial" not in after["flags"] and "renewable" in after["flags"]


def test_kinit_with_a_keytab(kdc_url: str, tmp_path: Path, http_keytab: Path) -> None:
    service = User(kdc_url, tmp_path / "svc-ccache")
    with_env = User(kdc_url, tmp_path / "env-ccache", keytab=http_keytab)
    explicit, from_env = run_many(
        (service, ["kinit", "-k", "-t", str(http_keytab), HTTP], None),
        (with_env, ["kinit", "-k", HTTP], None),
    )
    ok(explicit)
    ok(from_env)
    for user in (service, with_env):
        cache = CredentialCache(user.ccache)
        assert str(cache.principal()) == HTTP
        assert [str(c.server) for c in cache.credentials()] == [TGS]


def test_ccache_that_is_a_symlink_or_open_to_others_is_refused(user: User, tmp_path: Path) -> None:
    logged_in(user)
    link = User(user.kdc_url, tmp_path / "link-ccache")
    link.ccache.symlink_to(user.ccache)
    opened = User(user.kdc_url, tmp_path / "open-ccache")
    opened.ccache.write_bytes(user.ccache.read_bytes())
    os.chmod(opened.ccache, 0o644)
    via_link, via_open, kvno_open = run_many(
        (link, ["klist"], None), (opened, ["klist"], None), (opened, ["kvno", HTTP], None)
    )
    assert_one_sentence_error(via_link, "is a symbolic link; refusing it")
    assert str(link.ccache) in via_link.stderr
    for result in (via_open, kvno_open):
        assert_one_sentence_error(result, "open to other users (mode 0644)")
        assert f"chmod 600 {opened.ccache}" in result.stderr
        assert result.returncode == 1
        assert len(result.stderr.strip().splitlines()) == 1


def test_login_errors_are_one_sentence(user: User, other_user: User, tmp_path: Path) -> None:
    down_url = f"http://127.0.0.1:{free_port()}"
    down = User(down_url, tmp_path / "down-ccache")
    nobody = User(user.kdc_url, tmp_path / "nobody-ccache")
    empty = User(user.kdc_url, tmp_path / "empty-ccache")
    wrong, unknown, unreachable, no_password, bad_name = run_many(
        (user, ["kinit", ALICE], "not-alices-pass\n"),
        (nobody, ["kinit", f"mallory@{REALM}"], "whatever-pass\n"),
        (down, ["kinit", ALICE], "alice-pass\n"),
        (empty, ["kinit", ALICE], "\n"),
        (other_user, ["kinit", f"\u0430lice@{REALM}"], "alice-pass\n"),
    )
    for result, name in (
        (wrong, "KDC_ERR_PREAUTH_FAILED"),
        (unknown, "KDC_ERR_C_PRINCIPAL_UNKNOWN"),
        (unreachable, f"cannot reach the KDC at {down_url}"),
        (no_password, "empty password"),
    ):
        assert_one_sentence_error(result, name)
        assert result.returncode == 1
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith("orthrus: ")
    assert "not-alices-pass" not in wrong.stderr + wrong.stdout
    assert not user.ccache.exists() and not down.ccache.exists()
    assert bad_name.returncode == 2
    assert "Traceback" not in bad_name.stderr


def test_kvno_of_a_user_is_refused_until_an_admin_allows_it(user: User, realm: Realm) -> None:
    """``orthrus kvno bob@REALM``: a ticket sealed under bob's password-derived key would let
    alice guess his password offline, so the KDC refuses it (one sentence saying what to do,
    no ticket cached) until ``modprinc --allow-svr``; ``--no-allow-svr`` undoes that."""
    bob = f"bob@{REALM}"
    logged_in(user)
    try:
        refused = user.run("kvno", bob)
        assert_one_sentence_error(refused, "KDC_ERR_MUST_USE_USER2USER")
        assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1
        assert f"the key of {bob} comes from a password" in refused.stderr
        assert f"orthrus-kdc modprinc --allow-svr {bob}" in refused.stderr
        assert [t["server"] for t in klist_json(user)["tickets"]] == [TGS]
        realm.admin("modprinc", "--allow-svr", bob)
        assert ok(user.run("kvno", bob)).strip() == f"{bob}: kvno = 1"
    finally:
        realm.admin("modprinc", "--no-allow-svr", bob)
    logged_in(user)  # a fresh cache: kvno would show the ticket cached for bob
    assert_one_sentence_error(user.run("kvno", bob), "KDC_ERR_MUST_USE_USER2USER")
    assert ok(user.run("kvno", HTTP)).strip() == f"{HTTP}: kvno = 1"


def test_help_of_every_command() -> None:
    from client_lib.cli import cli as client_cli
    from kdc.cli import cli as kdc_cli

    top = subprocess.run(
        [str(BIN / "orthrus"), "--help"], capture_output=True, text=True, env=clean_env()
    )
    assert top.returncode == 0
    for name in ("kinit", "klist", "kdestroy", "kvno"):
        assert name in top.stdout
    runner = CliRunner()
    admin = {"init", "addprinc", "delprinc", "modprinc", "getprinc", "listprincs", "cpw", "ktadd"}
    for cli, expected in (
        (client_cli, {"kinit", "klist", "kdestroy", "kvno"}),
        (kdc_cli, {*admin, "serve"}),
    ):
        assert expected <= set(cli.commands)
        for command in cli.commands:
            for flag in ("--help", "-h"):
                result = runner.invoke(cli, [command, flag], env=clean_env())
                assert result.exit_code == 0, (command, result.output)
                assert result.output.startswith("Usage: "), (command, result.output)


def test_default_ccache_is_in_a_private_directory_of_the_user(kdc_url: str, tmp_path: Path) -> None:
    """No ORTHRUS_CCACHE: $XDG_RUNTIME_DIR/orthrus/ccache, else ~/.cache/orthrus/ccache,
    the directory created 0700 (never a guessable name in /tmp)."""
    runtime, home = tmp_path / "run", tmp_path / "home"
    runtime.mkdir(mode=0o700)
    cases = {
        runtime / "orthrus" / "ccache": {"XDG_RUNTIME_DIR": str(runtime), "HOME": str(home)},
        home / ".cache" / "orthrus" / "ccache": {"HOME": str(home)},
    }
    for expected, extra in cases.items():
        env = clean_env(ORTHRUS_KDC_URL=kdc_url, **extra)
        if "XDG_RUNTIME_DIR" not in extra:
            env.pop("XDG_RUNTIME_DIR", None)
        for args, stdin in ((["kinit", ALICE], "alice-pass\n"), (["klist"], None)):
            result = subprocess.run(
                [str(BIN / "orthrus"), *args], input=stdin, capture_output=True, text=True, env=env
            )
            assert result.returncode == 0, result.stderr
        assert f"Ticket cache: FILE:{expected}" in result.stdout
        assert stat.S_IMODE(expected.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(expected.stat().st_mode) == 0o600


def test_client_config_cannot_lower_the_kdf_floor(tmp_path: Path) -> None:
    """[client.kdf] raises the floor or moves the ceiling; lowering the floor is an error
    that names the key, before anything is sent."""
    config = tmp_path / "client.toml"
    for line, words in (
        ("min_iterations = 1", "min_iterations = 1 would lower the floor"),
        ("min_memory_kib = 8192", "min_memory_kib = 8192 would lower the floor"),
        ("max_memory_kib = 1024", "max_memory_kib = 1024 must be between 65536 and 1048576"),
        ("lanes = 1", "unknown field `lanes`"),
    ):
        config.write_text(f"[client.kdf]\n{line}\n")
        env = clean_env(ORTHRUS_CONFIG=str(config), ORTHRUS_CCACHE=str(tmp_path / "cc"))
        result = subprocess.run(
            [str(BIN / "orthrus"), "klist"], capture_output=True, text=True, env=env
        )
        assert result.returncode == 1, result.stderr
        assert words in result.stderr and "'kdf'" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_login_with_a_key_made_before_salts_were_bound_says_to_reset_it(tmp_path: Path) -> None:
    """A KDC still holding a key salted the old way (a 16-byte salt, no name in front):
    the wrong-password answer also says that an administrator must reset it."""
    costs = {"iterations": 3, "memory_kib": 65536, "lanes": 1}
    with fake_kdc(costs, base64.b64encode(bytes(16)).decode()) as (url, seen):
        client = Client(ClientSettings(kdc_url=url, ccache=str(tmp_path / "cc")))
        with pytest.raises(KDCError) as caught:
            client.login(Principal.parse(ALICE), "alice-pass")
    assert caught.value.name == "KDC_ERR_PREAUTH_FAILED"
    assert f"orthrus-kdc cpw {ALICE}" in caught.value.message
    assert len(seen) == 2
