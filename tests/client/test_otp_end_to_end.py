"""Two-factor login (TOTP, RFC 6238; issue 17 §2) end to end, over real processes: the KDC
(``orthrus-kdc serve``), the demo service (``python -m service_demo``) and the ``orthrus``
CLI as a user runs it. The authenticator app is :func:`orthrus.otp.totp_code` on the
secret of the ``otpauth://`` URI that ``orthrus otp enroll`` prints; the KDC accepts a code
one step either side of its own, so no test depends on when in a step it runs.

The KDC runs two workers, as in production: the replay cache that makes a code single-use
is the one they share.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from support import REALM, Realm, User, clean_env, free_port, stop, wait_http

from orthrus.otp import totp_code
from orthrus_io.replay import SQLiteReplayCache

OLGA = f"olga@{REALM}"
BOB = f"bob@{REALM}"
PASSWORDS = {OLGA: "olga-pass", BOB: "bob-pass"}


@dataclass
class Site:
    kdc_url: str
    service_url: str
    realm: Realm


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A realm with olga and bob, its KDC, and the demo service for HTTP/localhost."""
    directory = tmp_path_factory.mktemp("otp") / "kdc"
    realm = Realm.create(directory)
    for name, password in PASSWORDS.items():
        realm.add_user(name, password)
    keytab = directory.parent / "http.keytab"
    realm.add_service(f"HTTP/localhost@{REALM}", keytab)
    # The workers' shared replay cache, as a KDC that has run for an hour leaves it: a new
    # one cannot tell whether a code valid before it started was used, and refuses it.
    SQLiteReplayCache(directory / "tgs-replay.sqlite", clock=lambda: time.time() - 3600)
    kdc_url = realm.serve(workers=2)
    port = free_port()
    log = directory.parent / "service.log"
    command = [
        sys.executable, "-m", "service_demo", "--keytab", str(keytab), "--port", str(port),
        "--db", str(directory.parent / "notes.sqlite"), "--principal", f"HTTP/localhost@{REALM}",
    ]  # fmt: skip
    with open(log, "wb") as out:
        service = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=clean_env(), cwd=directory.parent
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/livez", service)
        yield Site(kdc_url, f"http://localhost:{port}", realm)
    finally:
        stop(service)
        realm.stop_all()
    for path in [log, *directory.glob("kdc-*.log")]:
        assert "Traceback" not in path.read_text(), path.read_text()


def _secret(uri: str) -> bytes:
    parsed = urlparse(uri)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp"
    secret = parse_qs(parsed.query)["secret"][0]
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def test_enroll_kinit_with_a_code_and_a_protected_route(site: Site, tmp_path: Path) -> None:
    """modprinc --require-otp; the password alone is refused until olga enrolls; enroll
    prints the URI and recovery codes; kinit asks for the code after the password (fed on
    standard input); the ticket carries ``otp`` and opens /whoami/otp; the same code does
    not log in twice; a recovery code works once; bob's ticket is refused by /whoami/otp."""
    site.realm.admin("modprinc", "--require-otp", OLGA)
    assert "REQUIRES_OTP" in site.realm.admin("getprinc", OLGA).stdout
    olga = User(site.kdc_url, tmp_path / "olga.ccache")

    refused = olga.kinit(OLGA, PASSWORDS[OLGA])
    assert refused.returncode != 0 and "orthrus otp enroll" in refused.stderr

    enrolled = json.loads(
        _ok(olga.run("otp", "enroll", "--json", OLGA, input=f"{PASSWORDS[OLGA]}\n"))
    )
    assert enrolled["principal"] == OLGA and len(enrolled["recovery_codes"]) == 10
    secret = _secret(enrolled["uri"])

    code = totp_code(secret, time.time())
    _ok(olga.run("kinit", OLGA, input=f"{PASSWORDS[OLGA]}\n{code}\n"))
    page = json.loads(_ok(olga.run("fetch", f"{site.service_url}/whoami/otp")))
    assert page["principal"] == OLGA and page["auth_factors"] == ["otp"]

    replayed = olga.run("kinit", "--otp-code", code, OLGA, input=f"{PASSWORDS[OLGA]}\n")
    assert replayed.returncode != 0 and "already used" in replayed.stderr
    recovery = enrolled["recovery_codes"][0]
    _ok(olga.run("kinit", "--otp-code", recovery, OLGA, input=f"{PASSWORDS[OLGA]}\n"))
    again = olga.run("kinit", "--otp-code", recovery, OLGA, input=f"{PASSWORDS[OLGA]}\n")
    assert again.returncode != 0 and "already used" in again.stderr

    bob = User(site.kdc_url, tmp_path / "bob.ccache")
    _ok(bob.kinit(BOB, PASSWORDS[BOB]))
    assert json.loads(_ok(bob.run("fetch", f"{site.service_url}/whoami")))["auth_factors"] == []
    forbidden = bob.run("fetch", f"{site.service_url}/whoami/otp")
    assert forbidden.returncode != 0
    assert "403" in forbidden.stderr + forbidden.stdout
    assert "one-time code" in forbidden.stderr + forbidden.stdout


def test_enrolling_again_needs_the_second_factor_and_shows_a_qr_code(
    site: Site, tmp_path: Path
) -> None:
    """Once enrolled, a stolen password does not take the authenticator over: enrolling
    again logs in with a code (here a recovery code), and prints the QR code to scan."""
    carl = f"carl@{REALM}"
    site.realm.add_user(carl, "carl-pass")
    user = User(site.kdc_url, tmp_path / "carl.ccache")
    first = json.loads(_ok(user.run("otp", "enroll", "--json", carl, input="carl-pass\n")))
    site.realm.admin("modprinc", "--require-otp", carl)
    without = user.run("otp", "enroll", carl, input="carl-pass\n\n")
    assert without.returncode != 0
    shown = _ok(
        user.run(
            "otp", "enroll", "--otp-code", first["recovery_codes"][1], carl, input="carl-pass\n"
        )
    )
    assert "otpauth://totp/" in shown and "█" in shown and "Recovery codes" in shown
    assert _secret(shown.split("URI:\n", 1)[1].splitlines()[0]) != _secret(first["uri"])
