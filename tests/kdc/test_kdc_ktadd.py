"""``orthrus-kdc ktadd --format mit``: what needs no MIT program, refusals above all (MIT's
tools read what it writes in tests/peers/test_peer_ktadd.py)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from support import REALM, Realm

from orthrus.enctypes import KeyBlock
from orthrus.keytab import Keytab
from orthrus.mitkeytab import MITKeytabEntry, parse_keytab, serialize_keytab
from orthrus.principal import Principal

HTTP = f"HTTP/localhost@{REALM}"


def test_a_principal_without_kerberos_keys_is_refused_with_what_to_do(tmp_path: Path) -> None:
    old = Realm.create(tmp_path / "kdc")
    old.add_service(HTTP)
    # As a principal made before migration 0005: no Kerberos keys until its next cpw.
    with sqlite3.connect(old.directory / "principal.db") as db:
        db.execute("DELETE FROM kerberos_keys")
    keytab = tmp_path / "http.keytab"
    result = old.admin("ktadd", "--format", "mit", "-k", str(keytab), HTTP, check=False)
    assert result.returncode == 1
    assert f"{HTTP} has no Kerberos keys at kvno 1" in result.stderr
    assert f"'orthrus-kdc rotate {HTTP}' (a service)" in result.stderr
    assert not keytab.exists()
    old.admin("rotate", HTTP)
    old.admin("ktadd", "--format", "mit", "-k", str(keytab), HTTP)
    assert {e.kvno for e in parse_keytab(keytab.read_bytes())} == {2}


def test_unknown_principal(realm: Realm, tmp_path: Path) -> None:
    keytab = tmp_path / "none.keytab"
    result = realm.admin("ktadd", "--format", "mit", "-k", str(keytab), "nobody", check=False)
    assert result.returncode == 1
    assert f"principal nobody@{REALM} does not exist" in result.stderr
    assert not keytab.exists()


def test_the_two_formats_are_never_mixed_in_one_file(
    realm: Realm, http_keytab: Path, tmp_path: Path
) -> None:
    orthrus = tmp_path / "orthrus.keytab"
    shutil.copy(http_keytab, orthrus)
    before = orthrus.read_bytes()
    result = realm.admin("ktadd", "--format", "mit", "-k", str(orthrus), HTTP, check=False)
    assert result.returncode == 1
    assert "is not an MIT keytab (an Orthrus one?): leave out --format mit" in result.stderr
    assert orthrus.read_bytes() == before
    Keytab.from_bytes(before)  # still the Orthrus keytab it was

    mit = tmp_path / "mit.keytab"
    entry = MITKeytabEntry(Principal.parse(HTTP), 1, KeyBlock(18, bytes(32)))
    mit.write_bytes(serialize_keytab([entry]))
    mit.chmod(0o600)
    before = mit.read_bytes()
    result = realm.admin("ktadd", "-k", str(mit), HTTP, check=False)
    assert result.returncode == 1
    assert "is an MIT keytab: add --format mit" in result.stderr
    assert mit.read_bytes() == before


def test_a_corrupt_mit_keytab_is_refused_and_left_alone(realm: Realm, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.keytab"
    corrupt.write_bytes(b"\x05\x02\x00\x00\x01\x00truncated")
    corrupt.chmod(0o600)
    result = realm.admin("ktadd", "--format", "mit", "-k", str(corrupt), HTTP, check=False)
    assert result.returncode == 1
    assert "is not a valid MIT keytab: the keytab record at offset 2" in result.stderr
    assert "Traceback" not in result.stderr
    assert corrupt.read_bytes() == b"\x05\x02\x00\x00\x01\x00truncated"
