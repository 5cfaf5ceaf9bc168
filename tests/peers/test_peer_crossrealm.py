"""Cross-realm trust on the Kerberos wire (issue 17 §4): MIT's ``kinit`` and ``kvno``
walk from A.TEST to B.TEST, two Orthrus KDCs on free ports sharing ``krbtgt/B.TEST@A.TEST``
(``orthrus-kdc trust add``), as MIT's ``[capaths]`` tell them; B.TEST's ticket opens with
its service keytab (``kvno -k``) and carries the transited field RFC 4120 §3.3.3.2 asks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mit_peer import KDCAddress, MITPeer
from support import Realm, free_port

A, B = "A.TEST", "B.TEST"
ALICE_PASS = "alice-mit-cross"
#: MIT's clients refuse fewer PBKDF2 iterations than RFC 8009's default.
ITERATIONS = "32768"


@dataclass
class CrossRealmMIT(MITPeer):
    """MIT's programs configured for A.TEST and B.TEST, trusting A.TEST -> B.TEST."""

    other: KDCAddress | None = None
    #: False: the client knows nothing of B.TEST's hosts and follows A.TEST's referral.
    knows_hosts: bool = True

    def krb5_conf(self) -> str:
        assert self.kdc is not None and self.other is not None
        hosts = ["[domain_realm]", f"    localhost = {B}"] if self.knows_hosts else []
        lines = [
            "[libdefaults]",
            f"    default_realm = {A}",
            "    dns_lookup_kdc = false",
            "    dns_lookup_realm = false",
            "    dns_canonicalize_hostname = false",
            "    rdns = false",
            "[realms]",
            f"    {A} = {{",
            f"        kdc = 127.0.0.1:{self.kdc.port}",
            "    }",
            f"    {B} = {{",
            f"        kdc = 127.0.0.1:{self.other.port}",
            "    }",
            *hosts,
            "[capaths]",
            f"    {A} = {{",
            f"        {B} = .",
            "    }",
        ]
        return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def two_realms(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Realm, Realm, int, int]]:
    """A.TEST and B.TEST with their trust, made once: the tests only read them (each its own
    MIT client and keytab); ``orthrus-kdc init`` and ``trust add`` run in this process, as
    tests/crossrealm tests them as subprocesses."""
    top = tmp_path_factory.mktemp("crossrealm-peers")
    a, b = Realm(top / "a", A), Realm(top / "b", B)
    for realm in (a, b):
        realm.setup("init", "--realm", realm.name, "--kdf-lanes", "1",
                    "--kerberos-iterations", ITERATIONS)  # fmt: skip
    a.add_user("alice", ALICE_PASS)
    b.add_service("HTTP/localhost")
    transfer = top / "trust.json"
    made = a.setup("trust", "add", B, "--direction", "outgoing", "--export", str(transfer),
                   "--json")  # fmt: skip
    b.setup("trust", "add", A, "--direction", "incoming", "--import", str(transfer),
            "--code", json.loads(made)["code"])  # fmt: skip
    # A.TEST's KDC refers clients asking it for localhost's services to B.TEST (RFC 6806).
    with (a.directory / "kdc.toml").open("a") as toml:
        toml.write(f'\n[domain_realm]\n"localhost" = "{B}"\n')
    ports = free_port(), free_port()
    try:
        for realm, port in zip((a, b), ports, strict=True):
            realm.serve(extra_args=("--kerberos-port", str(port)))
        yield a, b, *ports
    finally:
        a.stop_all()
        b.stop_all()


def test_mit_client_of_a_gets_ticket_of_b(
    two_realms: tuple[Realm, Realm, int, int], tmp_path: Path
) -> None:
    _, b, port_a, port_b = two_realms
    mit = CrossRealmMIT(tmp_path / "mit", KDCAddress(port_a), other=KDCAddress(port_b))
    mit.ok("kinit", f"alice@{A}", input=f"{ALICE_PASS}\n")
    keytab = tmp_path / "http.keytab"
    b.admin("ktadd", "--format", "mit", "-k", str(keytab), f"HTTP/localhost@{B}")
    out = mit.ok("kvno", "-k", str(keytab), f"HTTP/localhost@{B}")
    assert "keytab entry valid" in out
    listed = mit.ok("klist", "-f")
    assert f"krbtgt/{B}@{A}" in listed and f"HTTP/localhost@{B}" in listed
    # MIT's klist -f shows TRANSITED-POLICY-CHECKED as T: B.TEST checked the path.
    service_flags = listed.split(f"HTTP/localhost@{B}")[1].split("Flags: ")[1].split()[0]
    assert "T" in service_flags


def test_mit_client_follows_the_referral_of_a(
    two_realms: tuple[Realm, Realm, int, int], tmp_path: Path
) -> None:
    """The client does not know localhost is B.TEST's: it asks its own KDC for
    HTTP/localhost with canonicalize, gets the referral krbtgt/B.TEST@A.TEST (RFC 6806 §8),
    and asks B.TEST's KDC."""
    _, b, port_a, port_b = two_realms
    mit = CrossRealmMIT(
        tmp_path / "mit", KDCAddress(port_a), other=KDCAddress(port_b), knows_hosts=False
    )
    mit.ok("kinit", f"alice@{A}", input=f"{ALICE_PASS}\n")
    keytab = tmp_path / "http.keytab"
    b.admin("ktadd", "--format", "mit", "-k", str(keytab), f"HTTP/localhost@{B}")
    assert "keytab entry valid" in mit.ok("kvno", "-k", str(keytab), "-S", "HTTP", "localhost")
    # MIT keeps the ticket under the name asked for (the referral realm, empty), and
    # the name it turned out to be: B.TEST's.
    assert f"Ticket server: HTTP/localhost@{B}" in mit.ok("klist")
