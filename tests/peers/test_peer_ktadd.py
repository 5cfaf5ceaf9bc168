"""``orthrus-kdc ktadd --format mit`` on a running realm, read by MIT's ``klist -k`` and
``ktutil`` key for key; then MIT's ``kinit -k -t`` logs in with it (once the KDC speaks
Kerberos on the wire)."""

from __future__ import annotations

import re
import stat
from collections.abc import Callable

from mit_peer import ALICE, ALICE_PASSWORD, HTTP_SERVICE, MITPeer, PeerKDC
from support import open_store

from orthrus.enctypes import enctype
from orthrus.mitkeytab import parse_keytab
from orthrus.principal import Principal
from orthrus.realm import KerberosKey

HTTP = Principal.parse(HTTP_SERVICE)
ALICE_NAME = Principal.parse(ALICE)


def current_kerberos_keys(kdc: PeerKDC, name: Principal) -> list[KerberosKey]:
    with open_store(kdc.realm.directory) as store:
        entry = store.lookup(name)
    assert entry is not None
    return [k for k in entry.kerberos_keys if k.kvno == entry.kvno]


def test_ktadd_format_mit_is_what_mit_reads(orthrus_kdc: PeerKDC, mit: MITPeer) -> None:
    keys = current_kerberos_keys(orthrus_kdc, HTTP)
    assert [k.enctype for k in keys] == [20, 18]  # the realm's default enctypes
    out = orthrus_kdc.realm.admin("ktadd", "--format", "mit", "-k", str(mit.keytab), HTTP_SERVICE)
    assert out.stdout.splitlines() == [
        f"Entry for principal {HTTP} with kvno {k.kvno}, encryption type "
        f"{enctype(k.enctype).name} added to keytab FILE:{mit.keytab}."
        for k in keys
    ]
    assert stat.S_IMODE(mit.keytab.stat().st_mode) == 0o600
    expected = [
        (str(k.kvno), str(HTTP), enctype(k.enctype).name, k.key.material.hex()) for k in keys
    ]
    listed = mit.ok("klist", "-k", "-t", "-e", "-K", str(mit.keytab))
    assert re.findall(r"^\s*(\d+) \S+ \S+ (\S+) \((\S+)\)\s+\(0x([0-9a-f]+)\)", listed, re.M) == (
        expected
    )
    read = mit.ok("ktutil", input=f"rkt {mit.keytab}\nlist -e -k\nquit\n")
    assert re.findall(r"^\s*\d+\s+(\d+)\s+(\S+) \((\S+)\)\s+\(0x([0-9a-f]+)\)", read, re.M) == (
        expected
    )

    # A second ktadd appends, as MIT's does; alice's keys are her password's, as MIT makes
    # them: PBKDF2 with the salt REALM + name and the realm's iteration count.
    orthrus_kdc.realm.admin("ktadd", "--format", "mit", "-k", str(mit.keytab), ALICE)
    entries = parse_keytab(mit.keytab.read_bytes())
    assert [e.principal for e in entries] == [HTTP] * len(keys) + [ALICE_NAME] * 2
    alice_keys = current_kerberos_keys(orthrus_kdc, ALICE_NAME)
    for entry, key in zip(entries[len(keys) :], alice_keys, strict=True):
        assert key.iterations is not None
        s2kparams = key.iterations.to_bytes(4, "big")
        made = enctype(entry.enctype).string_to_key(ALICE_PASSWORD, b"EXAMPLE.TESTalice", s2kparams)
        assert entry.key == made == key.key


def test_mit_kinit_with_a_keytab_from_ktadd(
    orthrus_kdc: PeerKDC, make_mit: Callable[..., MITPeer]
) -> None:
    mit = make_mit(orthrus_kdc.address())
    orthrus_kdc.realm.admin("ktadd", "--format", "mit", "-k", str(mit.keytab), HTTP_SERVICE)
    mit.ok("kinit", "-k", "-t", str(mit.keytab), HTTP_SERVICE)
    assert f"Default principal: {HTTP_SERVICE}" in mit.ok("klist")
