"""MIT's programs against the Orthrus KDC, past the first login (issue 14 §7): the TGT's
enctype and flags as ``klist -e -f`` shows them, ``kinit -R``, each default enctype alone,
``kvno -k`` with the keytab of ``orthrus-kdc ktadd --format mit``, and MIT's own messages for
a wrong password, an unknown name, a clock 10 minutes off (libfaketime) and a locked-out
principal, each with the same audit line as over the JSON API."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from mit_peer import ALICE, ALICE_PASSWORD, HTTP_SERVICE, MITPeer, PeerKDC
from support import REALM

TGT = f"krbtgt/{REALM}@{REALM}"
DEFAULT_ENCTYPES = ("aes256-cts-hmac-sha384-192", "aes256-cts-hmac-sha1-96")


def flags_of(listing: str) -> set[str]:
    """The letters of the first ``Flags:`` line of ``klist -f``."""
    return set(listing.split("Flags: ")[1].split()[0])


def audit_lines(kdc: PeerKDC, principal: str) -> list[tuple[str, str, str | None]]:
    """(transport, result, error) of the AS lines of the audit log naming ``principal``."""
    records = [json.loads(line) for line in (kdc.realm.directory / "audit.log").open()]
    return [
        (r["transport"], r["result"], r.get("error"))
        for r in records
        if r.get("event") == "as" and r.get("principal") == principal
    ]


def test_klist_shows_the_tgt_enctype_and_flags_and_kinit_r_renews_it(
    orthrus_kdc: PeerKDC, make_mit: Callable[..., MITPeer]
) -> None:
    mit = make_mit(orthrus_kdc.address())
    mit.ok("kinit", "-r", "2d", ALICE, input=f"{ALICE_PASSWORD}\n")
    listing = mit.ok("klist", "-e", "-f")
    assert f"Default principal: {ALICE}" in listing and TGT in listing
    assert "aes256-cts-hmac-sha384-192" in listing.split("Etype (skey, tkt): ")[1]
    assert {"R", "I", "A"} <= flags_of(listing)  # renewable, initial, pre-authenticated
    mit.ok("kinit", "-R")
    renewed = mit.ok("klist", "-f")
    assert TGT in renewed
    assert "R" in flags_of(renewed) and "I" not in flags_of(renewed)  # renewed: not initial


@pytest.mark.parametrize("enctype", DEFAULT_ENCTYPES)
def test_each_default_enctype_alone(
    orthrus_kdc: PeerKDC, make_mit: Callable[..., MITPeer], enctype: str
) -> None:
    mit = make_mit(orthrus_kdc.address(), enctypes=(enctype,))
    mit.ok("kinit", ALICE, input=f"{ALICE_PASSWORD}\n")
    # The session key is of the one type the client allows; the TGT itself is under the
    # krbtgt's strongest key, which only the KDC reads (as MIT's KDC does).
    assert f"Etype (skey, tkt): {enctype}, " in mit.ok("klist", "-e")
    assert f"{HTTP_SERVICE}: kvno = 1" in mit.ok("kvno", HTTP_SERVICE)


def test_kvno_checks_a_service_ticket_against_the_keytab_of_ktadd_format_mit(
    orthrus_kdc: PeerKDC, make_mit: Callable[..., MITPeer], tmp_path: Path
) -> None:
    keytab = tmp_path / "http.keytab"
    orthrus_kdc.realm.admin("ktadd", "--format", "mit", "-k", str(keytab), HTTP_SERVICE)
    mit = make_mit(orthrus_kdc.address())
    mit.ok("kinit", ALICE, input=f"{ALICE_PASSWORD}\n")
    assert "keytab entry valid" in mit.ok("kvno", "-k", str(keytab), HTTP_SERVICE)


def test_a_wrong_password_and_an_unknown_name_get_mits_messages_and_audit_lines(
    orthrus_kdc: PeerKDC, make_mit: Callable[..., MITPeer]
) -> None:
    user = f"wrongpw@{REALM}"
    orthrus_kdc.realm.add_user(user, "the-right-password")
    mit = make_mit(orthrus_kdc.address())
    wrong = mit.run("kinit", user, input="not the password\n")
    assert wrong.rc != 0 and "Password incorrect" in wrong.stderr
    assert ("udp", "refused", "KDC_ERR_PREAUTH_FAILED") in audit_lines(orthrus_kdc, user)
    unknown = mit.run("kinit", f"nobody@{REALM}", input="whatever\n")
    assert unknown.rc != 0
    assert f"Client 'nobody@{REALM}' not found in Kerberos database" in unknown.stderr


def test_a_locked_out_principal_gets_mits_revoked_message(
    orthrus_kdc: PeerKDC, make_mit: Callable[..., MITPeer]
) -> None:
    user = f"locked@{REALM}"
    orthrus_kdc.realm.add_user(user, "the-right-password")
    mit = make_mit(orthrus_kdc.address())
    for _ in range(5):  # the realm's lockout_attempts
        assert mit.run("kinit", user, input="guess\n").rc != 0
    locked = mit.run("kinit", user, input="the-right-password\n")
    assert locked.rc != 0 and "credentials have been revoked" in locked.stderr
    assert ("udp", "refused", "KDC_ERR_CLIENT_REVOKED") in audit_lines(orthrus_kdc, user)


@pytest.mark.skipif(shutil.which("faketime") is None, reason="libfaketime not installed")
def test_a_clock_ten_minutes_off_is_clock_skew_too_great(
    orthrus_kdc: PeerKDC, make_mit: Callable[..., MITPeer]
) -> None:
    mit = make_mit(orthrus_kdc.address(), timesync=False)
    skewed = mit.run("faketime", "-f", "+600s", "kinit", ALICE, input=f"{ALICE_PASSWORD}\n")
    assert skewed.rc != 0 and "Clock skew too great" in skewed.stderr
    assert ("udp", "refused", "KRB_AP_ERR_SKEW") in audit_lines(orthrus_kdc, ALICE)
