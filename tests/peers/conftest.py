"""Fixtures of the peer tests: MIT Kerberos's programs against Orthrus (issue 14 §7).

- every test here skips, saying why, when MIT's programs are not installed;
- ``mit``: MIT's programs with a throwaway configuration and no KDC (ktutil, klist -k);
- ``make_mit``: the same pointed at a KDC (``KDCAddress``: port, TCP only) with chosen enctypes;
- ``start_kdc``: a real Orthrus KDC (``orthrus-kdc init`` + ``serve`` on free ports) with
  alice and HTTP/localhost, given extra ``serve`` flags; ``orthrus_kdc`` is one such, shared;
- ``mit_kdc``: a real MIT ``krb5kdc`` (realm MIT.TEST, made by ``kdb5_util`` and
  ``kadmin.local`` as bench/mit.py makes its realm) for the ``orthrus`` client to talk to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from mit_kdc import MITKDC, start_mit_kdc
from mit_peer import (
    ALICE,
    ALICE_PASSWORD,
    HTTP_SERVICE,
    KDCAddress,
    MITPeer,
    PeerKDC,
    missing_mit_tools,
)
from support import Realm, free_port

#: The least PBKDF2 count MIT's clients accept for every default enctype (RFC 8009's default).
MIT_MIN_ITERATIONS = 32768


@pytest.fixture(autouse=True)
def _mit_installed() -> None:
    reason = missing_mit_tools()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def mit(tmp_path: Path) -> MITPeer:
    """MIT's programs with a private configuration, ccache and keytab, and no KDC."""
    return MITPeer(tmp_path / "mit")


@pytest.fixture
def make_mit(tmp_path: Path) -> Callable[..., MITPeer]:
    """``make_mit(kdc_address, enctypes=(...))``: a fresh MIT configuration for that KDC."""
    count = 0

    def make(
        kdc: KDCAddress | None = None, enctypes: Sequence[str] = (), timesync: bool = True
    ) -> MITPeer:
        nonlocal count
        count += 1
        return MITPeer(tmp_path / f"mit-{count}", kdc, enctypes, timesync=timesync)

    return make


@pytest.fixture(scope="session")
def start_kdc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., PeerKDC]]:
    """``start_kdc(*serve_flags)``: a new realm with alice (password ``ALICE_PASSWORD``) and
    HTTP/localhost (random keys), served on free ports until the session ends."""
    realms: list[Realm] = []

    def start(*serve_flags: str) -> PeerKDC:
        # MIT's libk5crypto refuses PBKDF2 counts below each type's default ("Invalid key
        # generation parameters from KDC"): 4,096 for RFC 3962's, 32,768 for RFC 8009's.
        directory = tmp_path_factory.mktemp("peer-realm") / "kdc"
        realm = Realm.create(directory, "--kerberos-iterations", str(MIT_MIN_ITERATIONS))
        realms.append(realm)
        realm.add_user(ALICE, ALICE_PASSWORD)
        realm.add_service(HTTP_SERVICE)
        port = free_port()  # Kerberos over UDP and TCP (orthrus-kdc serve --kerberos-port)
        listener = ("--kerberos-port", str(port))
        return PeerKDC(realm, realm.serve(extra_args=(*listener, *serve_flags)), port)

    yield start
    for realm in realms:
        realm.stop_all()


@pytest.fixture(scope="session")
def orthrus_kdc(start_kdc: Callable[..., PeerKDC]) -> PeerKDC:
    """One Orthrus KDC shared by the peer tests that do not change its realm."""
    return start_kdc()


@pytest.fixture(scope="session")
def mit_kdc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MITKDC]:
    """MIT's ``krb5kdc`` serving MIT.TEST on a free port (UDP and TCP) for the session."""
    kdc = start_mit_kdc(tmp_path_factory.mktemp("mit-kdc"))
    yield kdc
    kdc.realm.stop_kdc()
