"""Cross-realm trust end to end (issue 17 §4): two KDCs, A.TEST and B.TEST, each in its own
directory and process on a free port, a trust set up with ``orthrus-kdc trust add`` on
both, and alice@A.TEST using B.TEST's demo service with the ``orthrus`` CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import BIN, FAST_KDF, Realm, clean_env, free_port, stop, wait_http

A, B = "A.TEST", "B.TEST"
ALICE_PASS = "alice-cross-pass"


@dataclass
class Realms:
    a: Realm
    b: Realm
    a_url: str
    b_url: str
    demo_url: str
    home: Path

    def orthrus(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """The ``orthrus`` CLI as alice runs it: her KDC is A.TEST's, B.TEST's is in her
        client.toml under [client.realms]."""
        env = clean_env(
            ORTHRUS_CONFIG=str(self.home / "client.toml"),
            ORTHRUS_CCACHE=str(self.home / "ccache"),
        )
        return subprocess.run(
            [str(BIN / "orthrus"), *args],
            input=input,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )


def make_realm(directory: Path, name: str) -> Realm:
    realm = Realm(directory, name)
    realm.admin("init", "--realm", name, *FAST_KDF)
    return realm


def trust(a: Realm, b: Realm, transfer: Path) -> tuple[dict[str, object], dict[str, object]]:
    """A.TEST makes the key of krbtgt/B.TEST@A.TEST; B.TEST stores it with the code."""
    made = json.loads(
        a.admin(
            "trust", "add", B, "--direction", "outgoing", "--export", str(transfer), "--json"
        ).stdout
    )
    code = str(made["code"])
    stored = json.loads(
        b.admin(
            "trust", "add", A, "--direction", "incoming", "--import", str(transfer), "--json",
            input=f"{code}\n",
        ).stdout
    )  # fmt: skip
    return made, stored


@pytest.fixture(scope="module")
def realms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Realms]:
    top = tmp_path_factory.mktemp("crossrealm")
    a, b = make_realm(top / "a", A), make_realm(top / "b", B)
    a.add_user("alice", ALICE_PASS, "--group", "admins")
    made, stored = trust(a, b, top / "trust.json")
    assert made["principals"] == stored["principals"] == [f"krbtgt/{B}@{A}"]
    b.add_service("HTTP/localhost", top / "http.keytab")
    with (b.directory / "kdc.toml").open("a") as toml:
        toml.write(f'\n[foreign_groups]\n"*@{A}" = ["guests"]\n')
    demo_port = free_port()
    demo = subprocess.Popen(
        [
            sys.executable, "-m", "service_demo", "--keytab", str(top / "http.keytab"),
            "--port", str(demo_port), "--db", str(top / "notes.sqlite"),
            "--principal", f"HTTP/localhost@{B}",
        ],
        stdout=(top / "demo.log").open("wb"), stderr=subprocess.STDOUT, env=clean_env(), cwd=top,
    )  # fmt: skip
    try:
        a_url, b_url = a.serve(), b.serve()
        demo_url = f"http://localhost:{demo_port}"
        wait_http(f"http://127.0.0.1:{demo_port}/livez", demo)
        home = top / "alice"
        home.mkdir()
        (home / "client.toml").write_text(
            f'[client]\nkdc_url = "{a_url}"\nrealm = "{A}"\n\n[client.realms]\n"{B}" = "{b_url}"\n'
        )
        yield Realms(a, b, a_url, b_url, demo_url, home)
    finally:
        stop(demo)
        a.stop_all()
        b.stop_all()


def test_trust_list_shows_both_sides(realms: Realms) -> None:
    at_a = json.loads(realms.a.admin("trust", "list", "--json").stdout)
    at_b = json.loads(realms.b.admin("trust", "list", "--json").stdout)
    name = f"krbtgt/{B}@{A}"
    assert at_a == [{"principal": name, "realm": B, "direction": "outgoing"}]
    assert at_b == [{"principal": name, "realm": A, "direction": "incoming"}]


def test_alice_of_a_uses_a_service_of_b(realms: Realms) -> None:
    kinit = realms.orthrus("kinit", f"alice@{A}", input=f"{ALICE_PASS}\n")
    assert kinit.returncode == 0, kinit.stderr
    kvno = realms.orthrus("kvno", f"HTTP/localhost@{B}")
    assert kvno.returncode == 0, kvno.stderr
    tickets = json.loads(realms.orthrus("klist", "--json").stdout)["tickets"]
    servers = [t["server"] for t in tickets]
    assert servers == [f"krbtgt/{A}@{A}", f"krbtgt/{B}@{A}", f"HTTP/localhost@{B}"]
    service = tickets[-1]
    assert "transited-policy-checked" in service["flags"]
    flags = realms.orthrus("klist", "-f").stdout.split(f"HTTP/localhost@{B}")[1]
    assert flags.split("Flags: ")[1].split()[0] == "AT"
    fetched = realms.orthrus("fetch", f"{realms.demo_url}/whoami")
    assert fetched.returncode == 0, fetched.stderr
    whoami = json.loads(fetched.stdout)
    # B.TEST's service sees alice of A.TEST, with B.TEST's groups for her: not A's admins.
    assert whoami["principal"] == f"alice@{A}"
    assert whoami["groups"] == ["guests"]


def test_trust_file_with_wrong_code_is_refused(realms: Realms, tmp_path: Path) -> None:
    transfer = tmp_path / "trust.json"
    realms.b.admin(
        "trust", "add", "C.TEST", "--direction", "outgoing", "--export", str(transfer), "--json"
    )
    c = make_realm(tmp_path / "c", "C.TEST")
    wrong = realms.b.admin("trust", "add", "X.TEST", "--direction", "outgoing",
                           "--export", str(tmp_path / "other.json"), "--json")  # fmt: skip
    other_code = json.loads(wrong.stdout)["code"]
    refused = c.admin(
        "trust", "add", B, "--direction", "incoming", "--import", str(transfer),
        "--code", other_code, check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "does not open with this code" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert json.loads(c.admin("trust", "list", "--json").stdout) == []
