"""MIT's ``kinit`` and ``kvno`` against the Orthrus KDC's Kerberos listeners (issue 14 §3,
§7): over UDP and over TCP, each exchange in the audit log with its transport; and bogus
datagrams do not stop the KDC."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import pytest
from mit_peer import ALICE, ALICE_PASSWORD, HTTP_SERVICE, MITPeer, PeerKDC


def audited(kdc: PeerKDC) -> list[tuple[str, str, str]]:
    """(event, transport, result) of every exchange line of the KDC's audit log."""
    lines = (kdc.realm.directory / "audit.log").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    return [(r["event"], r["transport"], r["result"]) for r in records if "transport" in r]


@pytest.mark.parametrize("tcp_only", [False, True], ids=["udp", "tcp"])
def test_mit_kinit_and_kvno_over_udp_and_tcp(
    orthrus_kdc: PeerKDC, make_mit: Callable[..., MITPeer], tcp_only: bool
) -> None:
    transport = "tcp" if tcp_only else "udp"
    before = len(audited(orthrus_kdc))
    mit = make_mit(orthrus_kdc.address(tcp_only=tcp_only))
    mit.ok("kinit", ALICE, input=f"{ALICE_PASSWORD}\n")
    assert "krbtgt/EXAMPLE.TEST@EXAMPLE.TEST" in mit.ok("klist")
    assert f"{HTTP_SERVICE}: kvno = 1" in mit.ok("kvno", HTTP_SERVICE)
    lines = audited(orthrus_kdc)[before:]
    # MIT asks without pre-authentication first, is told to pre-authenticate, then logs in.
    assert ("as", transport, "refused") in lines and ("as", transport, "ok") in lines
    assert ("tgs", transport, "ok") in lines
    if tcp_only:
        assert {t for _, t, _ in lines} == {"tcp"}


def test_bogus_datagrams_then_kinit_still_works(
    orthrus_kdc: PeerKDC, make_mit: Callable[..., MITPeer]
) -> None:
    address = orthrus_kdc.address()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for datagram in (b"\x6a\xff", b"\x6c\xff", b"\xff\xff", b"\x6a", b"", b"\x6a" * 60_000):
            udp.sendto(datagram, ("127.0.0.1", address.port))
    mit = make_mit(address)
    mit.ok("kinit", ALICE, input=f"{ALICE_PASSWORD}\n")
    assert "krbtgt/EXAMPLE.TEST@EXAMPLE.TEST" in mit.ok("klist")
