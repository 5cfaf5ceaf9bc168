"""Exercises 16-18 played with MIT's own programs against the shared lab's KDC on the
Kerberos wire (``lab/krb5.conf``): each check fails before its steps and passes after them.
The realm changes they make (carol's pre-authentication, legacy's permission to be a
server) are undone at the end, as the exercises' texts tell students to."""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_support import check, kdc_admin, lab_cli, last, missing
from support import clean_env

from labs.lab import Lab
from labs.roast import parse_hash
from orthrus.errors import ConfigError

pytestmark = pytest.mark.timeout(120)

MIT = ("kinit", "klist", "kvno", "kdestroy")


@pytest.fixture
def mit(lab: Lab, tmp_path: Path) -> Iterator[MITUser]:
    absent = [tool for tool in MIT if shutil.which(tool) is None]
    if absent:
        pytest.skip(f"MIT's {', '.join(absent)} not installed (Debian krb5-user; make mit-peers)")
    yield MITUser(lab, tmp_path)


class MITUser:
    """MIT's programs with the lab's ``krb5.conf`` and a credential cache of the test's own."""

    def __init__(self, lab: Lab, directory: Path) -> None:
        self.lab, self.directory = lab, directory

    def env(self) -> dict[str, str]:
        return clean_env(
            KRB5_CONFIG=str(self.lab.paths.krb5_conf),
            KRB5CCNAME=f"FILE:{self.directory / 'krb5cc'}",
            KRB5RCACHEDIR=str(self.directory),
            LC_ALL="C",
        )

    def run(self, *argv: str, password: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, input=password + "\n", capture_output=True, text=True, env=self.env(), timeout=30
        )

    def kinit(self, user: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
        known = self.lab.state.user(user).password
        return self.run("kinit", user, password=known if password is None else password)


def _wordlist(tmp_path: Path, *words: str) -> Path:
    path = tmp_path / "words.txt"
    path.write_text("\n".join(words) + "\n")
    return path


def _roast(lab: Lab, event: int, tmp_path: Path) -> Path:
    out = tmp_path / "roast.txt"
    result = lab_cli(lab, "roast", str(event), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == 0o600
    return out


def _kerberos_port(lab: Lab) -> int:
    """The KDC's Kerberos port now (a restart by an earlier test may have moved it)."""
    return Lab.open(lab.paths).state.ports["kerberos"]


def test_the_lab_writes_a_krb5_conf_for_its_kerberos_port(lab: Lab) -> None:
    text = lab.paths.krb5_conf.read_text()
    assert f"kdc = 127.0.0.1:{_kerberos_port(lab)}" in text
    assert "default_realm = LAB.TEST" in text
    status = json.loads(lab_cli(lab, "status", "--json").output)
    assert status["kerberos_port"] == _kerberos_port(lab)
    assert status["krb5_conf"] == str(lab.paths.krb5_conf)
    env = lab_cli(lab, "env", "alice").output
    assert f"export KRB5_CONFIG='{lab.paths.krb5_conf}'" in env


def test_a_kdc_restart_keeps_its_kerberos_port(lab: Lab) -> None:
    """krb5.conf stays right when a switch restarts the KDC (its port is its own, not taken)."""
    before = _kerberos_port(lab)
    assert lab_cli(lab, "switch", "kdc", "lockout", "on").exit_code == 0
    assert _kerberos_port(lab) == before
    assert f"kdc = 127.0.0.1:{before}" in lab.paths.krb5_conf.read_text()


def test_exercise_16_mit_tools(lab: Lab, mit: MITUser) -> None:
    since = time.time()
    assert missing(check(lab, 16, since)) == [
        "log in with MIT's kinit: an AS exchange on the Kerberos wire, pre-authenticated",
        "get a service ticket with MIT's kvno (TGS on the Kerberos wire)",
    ]
    assert mit.kinit("alice").returncode == 0
    listed = mit.run("klist")
    assert "krbtgt/LAB.TEST@LAB.TEST" in listed.stdout
    assert missing(check(lab, 16, since)) == [
        "get a service ticket with MIT's kvno (TGS on the Kerberos wire)"
    ]
    kvno = mit.run("kvno", "HTTP/notes")
    assert kvno.returncode == 0 and "HTTP/notes@LAB.TEST: kvno = " in kvno.stdout, kvno.stderr
    assert check(lab, 16, since).passed
    shown = lab_cli(lab, "trace", "--last", "1", "--json").output
    assert "on the Kerberos wire (udp, DER, kept whole" in shown
    assert "without pre-authentication" not in shown


def test_exercise_16_a_json_login_is_not_the_wire(lab: Lab, mit: MITUser) -> None:
    """orthrus kinit (the JSON dialect) does not pass the step meant for MIT's kinit."""
    from lab_support import Student

    since = time.time()
    Student(lab, "bob").kinit()
    assert "log in with MIT's kinit: an AS exchange on the Kerberos wire, pre-authenticated" in (
        missing(check(lab, 16, since))
    )


def test_exercise_17_asrep_roasting(lab: Lab, mit: MITUser, tmp_path: Path) -> None:
    since = time.time()
    assert len(missing(check(lab, 17, since))) == 3
    # The attacker does not know carol's password: the KDC answers before kinit asks for it.
    assert mit.kinit("carol", "not-her-password").returncode != 0
    reply = last(lab, exchange="AS", client="carol@LAB.TEST", ok=True)
    assert missing(check(lab, 17, since)) == [
        "recover the password from it, offline (orthrus-lab roast, then crack --hashes)",
        "require pre-authentication of that user: the same request is refused",
    ]
    hashes = _roast(lab, reply.id, tmp_path)
    line = hashes.read_text().strip()
    assert line.startswith("$krb5asrep$18$carol$LAB.TEST$")
    assert parse_hash(line).opens("sunshine")
    words = _wordlist(tmp_path, "x", "sunshine")
    cracked = lab_cli(lab, "crack", "--hashes", str(hashes), "--wordlist", str(words))
    assert "Found the password of carol@LAB.TEST: sunshine" in cracked.output
    assert missing(check(lab, 17, since)) == [
        "require pre-authentication of that user: the same request is refused"
    ]
    kdc_admin(lab, "modprinc", "--requires-preauth", "carol")
    try:
        assert mit.kinit("carol", "not-her-password").returncode != 0
        last(lab, exchange="AS", client="carol@LAB.TEST", error="KDC_ERR_PREAUTH_REQUIRED")
        assert check(lab, 17, since).passed
    finally:
        kdc_admin(lab, "modprinc", "--no-requires-preauth", "carol")


def test_exercise_18_kerberoasting(lab: Lab, mit: MITUser, tmp_path: Path) -> None:
    since = time.time()
    assert len(missing(check(lab, 18, since))) == 4
    assert mit.kinit("alice").returncode == 0
    assert mit.run("kvno", "HTTP/legacy", "HTTP/notes").returncode == 0
    legacy = last(lab, exchange="TGS", server="HTTP/legacy@LAB.TEST", ok=True)
    notes = last(lab, exchange="TGS", server="HTTP/notes@LAB.TEST", ok=True)
    words = _wordlist(tmp_path, "x", "baseball1")
    for event in (legacy, notes):
        hashes = _roast(lab, event.id, tmp_path)
        assert hashes.read_text().startswith("$krb5tgs$18$HTTP")
        lab_cli(lab, "crack", "--hashes", str(hashes), "--wordlist", str(words))
    assert missing(check(lab, 18, since)) == [
        "take the service's permission away: the KDC refuses its tickets"
    ]
    kdc_admin(lab, "modprinc", "--no-allow-svr", "HTTP/legacy")
    try:
        mit.run("kdestroy")  # kvno would take the ticket from the cache, never asking
        assert mit.kinit("alice").returncode == 0
        refused = mit.run("kvno", "HTTP/legacy")
        assert refused.returncode != 0 and "user2user" in refused.stderr
        assert check(lab, 18, since).passed
    finally:
        kdc_admin(lab, "modprinc", "--allow-svr", "HTTP/legacy")


def test_roast_of_an_event_that_is_no_wire_reply_says_what_to_do(lab: Lab) -> None:
    from lab_support import Student

    Student(lab, "bob").kinit()  # the JSON dialect: nothing to roast in hashcat's format
    event = last(lab, exchange="AS", client="bob@LAB.TEST", ok=True)
    with pytest.raises(ConfigError, match="no AS or TGS reply sent on the Kerberos wire"):
        lab_cli(lab, "roast", str(event.id))


def test_crack_hashes_refuses_a_line_it_cannot_read(lab: Lab, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("$krb5tgs$23$*user$REALM$spn*$00$00\n")
    with pytest.raises(ConfigError, match="line 1: not a hashcat Kerberos line"):
        lab_cli(lab, "crack", "--hashes", str(bad))


def _output_until(tshark: subprocess.Popen[bytes], wanted: bytes, probe: int | None = None) -> None:
    """Read tshark's packet lines until ``wanted`` shows; with ``probe``, a datagram is sent
    to that port whenever tshark is quiet, so that the wait ends once tshark sees traffic
    (its "Capturing on" comes before the capture really starts). The KDC drops such a
    datagram (RFC 4120 §7.2.1: no KDC request)."""
    assert tshark.stdout is not None
    fd, seen = tshark.stdout.fileno(), b""
    while wanted not in seen:
        if probe is not None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.sendto(b"probe", ("127.0.0.1", probe))
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                pytest.skip("tshark cannot capture on lo here (run it by hand to see why)")
            seen += chunk


def test_tshark_decrypts_the_lab_traffic_with_the_realm_keytab(
    lab: Lab, mit: MITUser, tmp_path: Path
) -> None:
    """The capture of docs/labs/16: kinit and kvno, read back by tshark with the keytab."""
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed (Debian tshark; make mit-peers)")
    port = _kerberos_port(lab)
    # Earlier tests rotated krbtgt's key: the keytab holds the keys of when it was written.
    assert lab_cli(lab, "keytab").exit_code == 0
    capture = tmp_path / "lab.pcapng"
    decode_as = ("-d", f"udp.port=={port},kerberos")
    tshark = subprocess.Popen(
        ["tshark", "-i", "lo", "-l", "-P", "-f", f"udp port {port}", *decode_as, "-w", capture],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=clean_env(LC_ALL="C"),
    )
    try:
        _output_until(tshark, b"\n", probe=port)
        assert mit.kinit("dave").returncode == 0
        assert mit.run("kvno", "HTTP/notes").returncode == 0
        _output_until(tshark, b"TGS-REP")
    finally:
        tshark.terminate()
        tshark.wait(timeout=30)
    keytab = ("-o", "kerberos.decrypt:TRUE", "-o", f"kerberos.file:{lab.paths.mit_keytab}")
    decoded = subprocess.run(
        ["tshark", "-r", str(capture), *decode_as, "-V", *keytab],
        capture_output=True,
        text=True,
        env=clean_env(LC_ALL="C"),
        timeout=60,
    )
    assert "msg-type: krb-as-rep" in decoded.stdout and "msg-type: krb-tgs-rep" in decoded.stdout
    assert "using keytab principal dave@LAB.TEST" in decoded.stdout
    assert "using keytab principal krbtgt/LAB.TEST@LAB.TEST" in decoded.stdout
