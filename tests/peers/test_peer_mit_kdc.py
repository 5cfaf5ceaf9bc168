"""The ``orthrus`` client in an MIT Kerberos realm (issue 15 §3): ``ORTHRUS_KDC_URL=krb5://``
(UDP, then TCP) and ``krb5+tcp://`` against MIT's own ``krb5kdc``: ``kinit`` with a password
(pre-authenticated with PA-ETYPE-INFO2's salt and s2kparams, or not), ``kinit -k -t`` with a
keytab ``kadmin.local ktadd`` wrote, ``kvno``, ``klist``, ``kinit -R``, ``kdestroy``; and MIT's
FILE credential cache both ways: MIT's ``klist`` lists what ``orthrus kinit --ccache-format
mit`` wrote, ``orthrus klist`` and ``kvno`` use what MIT's ``kinit`` wrote. The same client
against the Orthrus KDC's own Kerberos port closes the loop."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from mit_kdc import (
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    HTTP_SERVICE,
    MITKDC,
    TGT,
    start_mit_kdc,
)
from mit_peer import ALICE as ORTHRUS_ALICE
from mit_peer import ALICE_PASSWORD as ORTHRUS_ALICE_PASSWORD
from mit_peer import HTTP_SERVICE as ORTHRUS_HTTP
from mit_peer import PeerKDC
from support import BIN, REALM, User, assert_one_sentence_error


def mit(kdc: MITKDC, ccache: Path, *argv: str, input: str | None = None) -> str:
    """Run an MIT program on ``ccache``; its standard output (it must succeed)."""
    done = subprocess.run(
        argv, input=input, capture_output=True, text=True, env=kdc.mit_env(ccache), timeout=60
    )
    assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr}"
    return done.stdout


def klist_json(user: User) -> dict[str, object]:
    result = user.run("klist", "--json", check=True)
    document: dict[str, object] = json.loads(result.stdout)
    return document


def servers(user: User) -> list[str]:
    tickets = klist_json(user)["tickets"]
    assert isinstance(tickets, list)
    return [t["server"] for t in tickets]


@pytest.mark.parametrize("tcp_only", [False, True], ids=["krb5", "krb5+tcp"])
def test_kinit_klist_kvno_kdestroy_against_mit_krb5kdc(
    mit_kdc: MITKDC, tmp_path: Path, tcp_only: bool
) -> None:
    user = mit_kdc.user(tmp_path / "ccache", tcp_only)
    user.kinit(ALICE, ALICE_PASSWORD).check_returncode()
    assert klist_json(user)["principal"] == ALICE and servers(user) == [TGT]
    kvno = user.run("kvno", HTTP_SERVICE, check=True)
    assert f"{HTTP_SERVICE}: kvno = 2" in kvno.stdout  # kadmin's ktadd made kvno 2
    assert servers(user) == [TGT, HTTP_SERVICE]
    listing = user.run("klist", "-v", check=True).stdout
    assert f"Default principal: {ALICE}" in listing and "Ticket kvno: 2" in listing
    user.run("kdestroy", check=True)
    assert not (tmp_path / "ccache").exists()


def test_kinit_without_preauthentication_and_renewal(mit_kdc: MITKDC, tmp_path: Path) -> None:
    """bob needs no pre-authentication: MIT answers the first request, the reply key made
    from the salt in the reply's PA-ETYPE-INFO2; ``kinit -R`` renews over TGS."""
    user = mit_kdc.user(tmp_path / "ccache")
    user.kinit(BOB, BOB_PASSWORD, "-r", "2d").check_returncode()
    first = klist_json(user)["tickets"]
    user.run("kinit", "-R", check=True)
    renewed = klist_json(user)["tickets"]
    assert isinstance(first, list) and isinstance(renewed, list)
    assert [t["server"] for t in renewed] == [TGT]
    assert renewed[0]["renew_till"] == first[0]["renew_till"]
    assert "renewable" in renewed[0]["flags"]  # MIT's KDC keeps INITIAL on a renewal


def test_kinit_with_a_keytab_kadmin_exported(mit_kdc: MITKDC, tmp_path: Path) -> None:
    user = mit_kdc.user(tmp_path / "ccache")
    user.run("kinit", "-k", "-t", str(mit_kdc.alice_keytab), ALICE, check=True)
    assert klist_json(user)["principal"] == ALICE
    assert "kvno = 2" in user.run("kvno", HTTP_SERVICE, check=True).stdout


def test_wrong_password_is_bad_password_in_one_sentence(mit_kdc: MITKDC, tmp_path: Path) -> None:
    user = mit_kdc.user(tmp_path / "ccache")
    result = user.kinit(ALICE, "not-the-password")
    assert_one_sentence_error(result, "KDC_ERR_PREAUTH_FAILED")
    assert "wrong password" in result.stderr
    assert not (tmp_path / "ccache").exists()


def test_unknown_service_is_mit_s_error(mit_kdc: MITKDC, tmp_path: Path) -> None:
    user = mit_kdc.user(tmp_path / "ccache")
    user.kinit(ALICE, ALICE_PASSWORD).check_returncode()
    result = user.run("kvno", f"HTTP/nowhere@{mit_kdc.realm.realm}")
    assert_one_sentence_error(result, "KDC_ERR_S_PRINCIPAL_UNKNOWN")


def test_mit_klist_lists_the_cache_orthrus_kinit_wrote(mit_kdc: MITKDC, tmp_path: Path) -> None:
    ccache = tmp_path / "ccache"
    user = mit_kdc.user(ccache)
    user.run("kinit", "--ccache-format", "mit", ALICE, input=f"{ALICE_PASSWORD}\n", check=True)
    user.run("kvno", HTTP_SERVICE, check=True)
    listing = mit(mit_kdc, ccache, "klist", "-e", "-f")
    assert f"Default principal: {ALICE}" in listing
    assert TGT in listing and HTTP_SERVICE in listing
    assert "Flags: RIA" in listing  # renewable, initial, pre-authenticated: MIT's letters
    assert "aes256-cts-hmac-sha1-96" in listing
    # MIT's kvno takes the cached ticket (no second TGS exchange needed to list it).
    assert f"{HTTP_SERVICE}: kvno = 2" in mit(mit_kdc, ccache, "kvno", HTTP_SERVICE)


def test_orthrus_uses_the_tgt_mit_kinit_wrote(mit_kdc: MITKDC, tmp_path: Path) -> None:
    """MIT's ``kinit`` writes the cache (with its configuration entries); ``orthrus klist``
    lists it, ``orthrus kvno`` gets a ticket with its TGT and adds it, and MIT's ``klist``
    still reads the cache Orthrus rewrote, its configuration entries kept."""
    ccache = tmp_path / "ccache"
    mit(mit_kdc, ccache, "kinit", ALICE, input=f"{ALICE_PASSWORD}\n")
    user = mit_kdc.user(ccache)
    assert klist_json(user)["principal"] == ALICE and servers(user) == [TGT]
    user.run("kvno", HTTP_SERVICE, check=True)
    assert servers(user) == [TGT, HTTP_SERVICE]
    assert HTTP_SERVICE in mit(mit_kdc, ccache, "klist")
    assert ccache.read_bytes().count(b"X-CACHECONF:") >= 1


def test_krb5ccname_names_the_cache_with_a_krb5_url(mit_kdc: MITKDC, tmp_path: Path) -> None:
    """With a krb5:// KDC and no ORTHRUS_CCACHE, MIT's KRB5CCNAME=FILE:path is the cache, in
    MIT's format, so MIT's programs and ``orthrus`` share it."""
    ccache = tmp_path / "shared"
    env = User(mit_kdc.url(), tmp_path / "unused").env()
    del env["ORTHRUS_CCACHE"]
    env["KRB5CCNAME"] = f"FILE:{ccache}"
    done = subprocess.run(
        [str(BIN / "orthrus"), "kinit", ALICE],
        input=f"{ALICE_PASSWORD}\n",
        env=env,
        text=True,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert ccache.read_bytes()[:2] == b"\x05\x04"
    assert TGT in mit(mit_kdc, ccache, "klist")


def test_udp_reply_too_big_is_asked_again_over_tcp(tmp_path: Path) -> None:
    """A KDC whose UDP replies are capped below a reply's size answers
    KRB_ERR_RESPONSE_TOO_BIG over UDP (RFC 4120 §7.2.1); the client asks again over TCP."""
    kdc = start_mit_kdc(tmp_path / "small", max_dgram_reply=200)
    try:
        user = kdc.user(tmp_path / "ccache")
        user.kinit(ALICE, ALICE_PASSWORD).check_returncode()
        assert "kvno = 2" in user.run("kvno", HTTP_SERVICE, check=True).stdout
        # Each request came twice, over UDP (answered RESPONSE_TOO_BIG) then over TCP, where
        # MIT's KDC recognizes it and resends the reply it made.
        log = (kdc.realm.dir / "kdc.log").read_text()
        assert log.count("resending previous response") == 3, log[-2000:]
    finally:
        kdc.realm.stop_kdc()


def test_orthrus_client_over_krb5_against_the_orthrus_kdc(
    orthrus_kdc: PeerKDC, tmp_path: Path
) -> None:
    """The same client against the Orthrus KDC's Kerberos port: kinit, kvno, klist."""
    address = orthrus_kdc.address()
    user = User(f"krb5://127.0.0.1:{address.port}", tmp_path / "ccache")
    user.kinit(ORTHRUS_ALICE, ORTHRUS_ALICE_PASSWORD).check_returncode()
    kvno = user.run("kvno", ORTHRUS_HTTP, check=True)
    assert f"{ORTHRUS_HTTP}: kvno = 1" in kvno.stdout
    assert servers(user) == [f"krbtgt/{REALM}@{REALM}", ORTHRUS_HTTP]
