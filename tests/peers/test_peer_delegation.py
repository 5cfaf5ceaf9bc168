"""MIT's programs and delegation on the Orthrus KDC (issue 17 §3): ``kinit -f`` gets a
forwardable TGT, service tickets keep it, and a service an administrator marked
``--ok-as-delegate`` gets tickets MIT's ``klist -f`` shows with ``O`` (RFC 4120 §2.8)."""

from __future__ import annotations

from collections.abc import Callable

from mit_peer import ALICE, ALICE_PASSWORD, HTTP_SERVICE, MITPeer, PeerKDC


def flags_of(listing: str, server: str) -> set[str]:
    """The letters of ``klist -f``'s ``Flags:`` line under the ticket for ``server``."""
    after = listing.split(server, 1)[1]
    return set(after.split("Flags: ")[1].split()[0])


def test_kinit_f_is_forwardable_and_ok_as_delegate_reaches_klist(
    orthrus_kdc: PeerKDC, make_mit: Callable[..., MITPeer]
) -> None:
    mit = make_mit(orthrus_kdc.address())
    mit.ok("kinit", "-f", ALICE, input=f"{ALICE_PASSWORD}\n")
    orthrus_kdc.realm.admin("modprinc", "--ok-as-delegate", HTTP_SERVICE)
    try:
        mit.ok("kvno", HTTP_SERVICE)
        listing = mit.ok("klist", "-f")
    finally:
        orthrus_kdc.realm.admin("modprinc", "--no-ok-as-delegate", HTTP_SERVICE)
    assert "F" in flags_of(listing, "krbtgt/")
    assert {"F", "O"} <= flags_of(listing, HTTP_SERVICE)
    mit.ok("kinit", "-F", ALICE, input=f"{ALICE_PASSWORD}\n")
    mit.ok("kvno", HTTP_SERVICE)
    listing = mit.ok("klist", "-f")
    assert "F" not in flags_of(listing, "krbtgt/") | flags_of(listing, HTTP_SERVICE)
    assert "O" not in flags_of(listing, HTTP_SERVICE)
