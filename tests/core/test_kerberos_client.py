"""The sans-IO helpers of the Kerberos-wire client (orthrus.kerberos.client): which
PA-ETYPE-INFO2 hint a client follows, the key a password makes with it, a KRB-ERROR read as
the client's error, and a credential's stored form."""

from __future__ import annotations

import os

import pytest
from core_realm import T0
from kerberos_realm import KerberosRealm

from orthrus.der import ETypeInfo2Entry, KRBError, PrincipalName
from orthrus.enctypes import enctype
from orthrus.errors import KDCError
from orthrus.kerberos.client import (
    KerberosCredential,
    choose_etype_info,
    error_of,
    password_key,
    read_kdc_rep,
    tgs_request,
)
from orthrus.kerberos.names import default_salt
from orthrus.principal import Principal

ALICE = Principal.parse("alice@MIT.TEST")


def test_the_kdc_s_first_hint_of_a_known_enctype_is_followed() -> None:
    hints = (ETypeInfo2Entry(23, "X"), ETypeInfo2Entry(18, "MIT.TESTalice"), ETypeInfo2Entry(17))
    assert choose_etype_info(hints, (20, 18, 17)).etype == 18  # RC4 (23) is never used


def test_without_hints_the_fallback_with_the_default_salt() -> None:
    assert choose_etype_info((), (20, 18), 18) == ETypeInfo2Entry(18)
    with pytest.raises(KDCError, match="offers key types none"):
        choose_etype_info((), (20, 18))


def test_no_common_enctype_says_what_to_ask_for() -> None:
    with pytest.raises(KDCError, match="AES key") as refused:
        choose_etype_info((ETypeInfo2Entry(23),), (20, 18))
    assert refused.value.name == "KDC_ERR_ETYPE_NOSUPP"


def test_a_password_key_uses_the_kdc_s_salt_else_the_default() -> None:
    count = (4096).to_bytes(4, "big")
    default = password_key("pw", ALICE, ETypeInfo2Entry(18, None, count))
    assert default == enctype(18).string_to_key("pw", default_salt(ALICE), count)
    salted = password_key("pw", ALICE, ETypeInfo2Entry(18, "OTHERsalt", count))
    assert salted == enctype(18).string_to_key("pw", b"OTHERsalt", count)


@pytest.mark.parametrize(
    ("code", "name"), [(6, "KDC_ERR_C_PRINCIPAL_UNKNOWN"), (25, "KDC_ERR_PREAUTH_REQUIRED")]
)
def test_a_krb_error_is_the_client_s_error_with_its_e_data(code: int, name: str) -> None:
    tgs = PrincipalName(2, ("krbtgt", "MIT.TEST"))
    read = error_of(KRBError(0, 0, code, "MIT.TEST", tgs, e_text="why", e_data=b"\x30\x00"))
    assert (read.name, read.message, read.data) == (name, "why", {"e_data": b"\x30\x00"})


def test_an_unknown_error_code_is_generic_and_names_the_code() -> None:
    error = error_of(KRBError(0, 0, 99, "MIT.TEST", PrincipalName(2, ("krbtgt", "MIT.TEST"))))
    assert error.name == "KRB_ERR_GENERIC" and "99" in error.message


def test_a_credential_survives_its_stored_form() -> None:
    realm = KerberosRealm()
    alice = realm.add_krb_user("alice", "correct horse")
    web = realm.add_krb_service("HTTP/web")
    tgt = realm.krb_login(alice, "correct horse")
    stored = KerberosCredential.from_credential(tgt.to_credential())
    assert stored == tgt
    request = tgs_request(stored, web, T0, os.urandom)  # the stored TGT still works
    assert read_kdc_rep(realm.reply(request), request).server == web
