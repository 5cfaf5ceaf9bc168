"""Keys: a service key rotated without breaking issued tickets (BADKEYVER at the service until
``ktadd``), old versions pruned after the horizon, krbtgt rotated without logging anyone out,
the master key rotated (every key re-encrypted, a running KDC keeps serving), and
``orthrus kpasswd`` end to end with the realm's password policy."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest
from ops_support import (
    SERVICE,
    SQLITE_USERS,
    Server,
    admin,
    ap_token,
    change_password,
    exported_keys,
    key_versions,
    ok,
    service_ticket,
    start_kdc,
    start_service,
    stop_all,
    whoami,
)
from support import REALM, Realm, User, http_login, kdc_post, open_store, sqlite_snapshot

from orthrus.as_exchange import ASOptions, make_as_req
from orthrus.enctypes import enctype
from orthrus.errors import KDCError
from orthrus.keytab import Keytab
from orthrus.kpasswd import make_kpasswd_req
from orthrus.principal import Principal
from orthrus.pwkdf import KDFParams, string_to_key
from orthrus.seal import peek_header

KRBTGT = f"krbtgt/{REALM}@{REALM}"
CHANGEPW = f"kadmin/changepw@{REALM}"


@dataclass
class Running:
    realm: Realm
    kdc: Server
    service: Server
    keytab: Path
    short: Path

    def admin(self, *args: str, input: str | None = None) -> str:
        return ok(admin(self.realm.directory, *args, input=input)).stdout


@pytest.fixture(scope="module")
def running(
    sqlite_realm: Realm, short_realm: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    """The SQLite realm served by a KDC and a service (one worker each)."""
    base = tmp_path_factory.mktemp("keys")
    keytab = sqlite_realm.directory.parent / "http.keytab"
    kdc = start_kdc(sqlite_realm.directory, 1)
    service = start_service(base / "svc", keytab, 1)
    kdc.wait()
    service.wait()
    running = Running(sqlite_realm, kdc, service, keytab, short_realm)
    try:
        yield running
    finally:
        stop_all([kdc, service])
    for server in (kdc, service):
        assert not server.tracebacks(), server.log_text()


def test_service_key_rotation(running: Running) -> None:
    tgt, _ = http_login(running.kdc.url, f"kim@{REALM}", SQLITE_USERS["kim"])
    old = service_ticket(running.kdc.url, tgt)
    assert old.ticket.kvno == 1
    assert whoami(running.service.url, ap_token(old)).status_code == 200

    assert "rotated to kvno 2" in running.admin("rotate", SERVICE)
    new = service_ticket(running.kdc.url, tgt)
    assert new.ticket.kvno == 2
    refused = whoami(running.service.url, ap_token(new))
    assert refused.status_code == 401
    error = refused.json()["error"]
    assert error["name"] == "KRB_AP_ERR_BADKEYVER"
    assert error["data"] == {"ticket_kvno": 2, "available_kvnos": [1]}
    assert whoami(running.service.url, ap_token(old)).status_code == 200  # issued: still good

    running.admin("ktadd", "-k", str(running.keytab), SERVICE)
    assert {e.kvno for e in Keytab.from_bytes(running.keytab.read_bytes()).entries} == {1, 2}
    deadline = time.monotonic() + 60
    while whoami(running.service.url, ap_token(new)).status_code != 200:
        assert time.monotonic() < deadline, "the service did not load the new keytab"
        time.sleep(0.2)
    assert whoami(running.service.url, ap_token(old)).status_code == 200


def test_old_versions_are_pruned_after_the_horizon(running: Running) -> None:
    """A realm whose kdc.toml says max_life 2 s, max_skew 1 s: after a rotation kvno 1 is
    kept until 3 s after kvno 2 appeared, then ``prune`` deletes it."""
    started = time.time()
    assert "rotated to kvno 2" in ok(admin(running.short, "rotate", SERVICE)).stdout
    ended = time.time()
    early = ok(admin(running.short, "prune")).stdout
    if time.time() < started + 3:  # prune finished within the horizon: nothing may go
        assert early == ""
    time.sleep(max(0.0, ended + 3.2 - time.time()))  # certainly past it
    late = ok(admin(running.short, "prune")).stdout
    assert (early + late).strip() == f"Pruned kvno 1 of {SERVICE}"
    assert key_versions(running.short, SERVICE) == [2]


def test_krbtgt_rotation_logs_nobody_out(running: Running) -> None:
    tgt, _ = http_login(running.kdc.url, f"kim@{REALM}", SQLITE_USERS["kim"])
    assert tgt.ticket.kvno == 1

    assert "rotated to kvno 2" in running.admin("rotate", KRBTGT)
    old_tgt_ticket = service_ticket(running.kdc.url, tgt)  # the TGT issued before still works
    assert whoami(running.service.url, ap_token(old_tgt_ticket)).status_code == 200
    fresh, _ = http_login(running.kdc.url, f"kim@{REALM}", SQLITE_USERS["kim"])
    assert fresh.ticket.kvno == 2
    fresh_ticket = service_ticket(running.kdc.url, fresh)
    assert whoami(running.service.url, ap_token(fresh_ticket)).status_code == 200
    assert key_versions(running.realm.directory, KRBTGT) == [1, 2]


def login_error(url: str, name: str, password: str) -> str:
    """The error name of a password login that the KDC refuses."""
    principal = Principal.parse(name)
    probe = make_as_req(principal, time.time(), os.urandom, ASOptions())
    hint = kdc_post(url, "/v1/as", probe).json()["error"]["data"]
    params = msgspec.convert(hint["kdf"], KDFParams)
    key = string_to_key(password, principal, params, hint["kvno"])
    request = make_as_req(principal, time.time(), os.urandom, ASOptions(), key)
    reply = kdc_post(url, "/v1/as", request)
    assert reply.status_code != 200
    return str(reply.json()["error"]["name"])


def test_kpasswd_end_to_end_with_the_password_policy(running: Running, tmp_path: Path) -> None:
    name, first, second = f"pat@{REALM}", SQLITE_USERS["pat"], "pat-second-pass2"
    user = User(running.kdc.url, tmp_path / "ccache")

    short = user.run("kpasswd", name, input=f"{first}\nshort\n")
    assert short.returncode != 0
    assert "KDC_ERR_POLICY" in short.stderr and "too short" in short.stderr
    assert "Traceback" not in short.stderr
    changed = user.run("kpasswd", name, input=f"{first}\n{second}\n")
    assert changed.returncode == 0, changed.stderr
    assert "Password changed (kvno 2)" in changed.stdout
    http_login(running.kdc.url, name, second)
    assert login_error(running.kdc.url, name, first) == "KDC_ERR_PREAUTH_FAILED"

    with pytest.raises(KDCError) as back:  # the client library, as `orthrus kpasswd` uses it
        change_password(running.kdc.url, name, second, first)
    assert back.value.name == "KDC_ERR_POLICY" and "used recently" in back.value.message

    # A ticket for kadmin/changepw obtained with a TGT (not from the password) is refused.
    tgt, _ = http_login(running.kdc.url, name, second)
    from_tgt = service_ticket(running.kdc.url, tgt, CHANGEPW)
    assert "initial" not in from_tgt.flags
    request, _ = make_kpasswd_req(from_tgt, "stolen-tgt-pass", time.time(), os.urandom)
    reply = kdc_post(running.kdc.url, "/v1/kpasswd", request)
    assert reply.status_code == 403
    assert reply.json()["error"]["name"] == "KDC_ERR_POLICY"
    assert "initial ticket" in reply.json()["error"]["message"]
    # Of all these attempts only the one accepted change made a key version.
    assert key_versions(running.realm.directory, name) == [1, 2]
    http_login(running.kdc.url, name, second)
    # ... with the Kerberos keys of the new password (MIT clients log in with it, too).
    with open_store(running.realm.directory) as store:
        entry = store.lookup(Principal.parse(name))
    assert entry is not None
    for number in store.settings.enctype_numbers:
        new = entry.kerberos_key(number)
        assert new is not None and new.iterations is not None
        assert new.key == enctype(number).string_to_key(
            second, b"EXAMPLE.TESTpat", new.iterations.to_bytes(4, "big")
        )


def test_master_key_rotation(running: Running) -> None:
    """Every stored key re-encrypted under the new version in one go; the running KDC picks
    the new stash up; the keys themselves (and so every keytab and password) unchanged."""
    before = Keytab.from_bytes(running.keytab.read_bytes())
    tgt, _ = http_login(running.kdc.url, f"kim@{REALM}", SQLITE_USERS["kim"])

    assert "rotated to version 2" in running.admin("rotate-master-key")
    stash = json.loads((running.realm.directory / "master.key").read_text())
    assert [k["kvno"] for k in stash["keys"]] == [2]
    tables = sqlite_snapshot(running.realm.directory / "principal.db")
    wrapped = [row[3] for row in tables["keys"]] + [row[1] for row in tables["signing_keys"]]
    wrapped += [row[5] for row in tables["kerberos_keys"]]
    assert wrapped and {peek_header(w)["kid"] for w in wrapped} == {"2"}

    # The KDC started under version 1 serves on: logins, tickets, a principal added now.
    http_login(running.kdc.url, f"kim@{REALM}", SQLITE_USERS["kim"])
    credential = service_ticket(running.kdc.url, tgt)
    assert whoami(running.service.url, ap_token(credential)).status_code == 200
    running.admin("addprinc", f"newcomer@{REALM}", input="newcomer-pass-1\n")
    http_login(running.kdc.url, f"newcomer@{REALM}", "newcomer-pass-1")
    # Same keys, newly wrapped: what ktadd exports now is the very same material.
    after = exported_keys(running.realm.directory, SERVICE)
    assert after == {(str(e.principal), e.kvno, e.key) for e in before.entries}
    # Password history is re-encrypted too: an old password is still recognised.
    with pytest.raises(KDCError) as again:
        change_password(running.kdc.url, f"pat@{REALM}", "pat-second-pass2", SQLITE_USERS["pat"])
    assert "used recently" in again.value.message
