"""The KDC's side of two-factor login (kdc.otp): the secret sealed under the master key and
found by the lookups, recovery codes spent once, and both kept by master-key rotation and by
dump → load."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import REALM, Realm, open_store

from kdc.dump import dump_realm, load_realm
from kdc.otp import OTPEnrollment, StoredRecoveryCodes
from kdc.store import PrincipalChanges, Store
from orthrus.ap import APRules
from orthrus.kpasswd import changepw_service
from orthrus.otp import recovery_digest
from orthrus.principal import Principal
from orthrus.replay import MemoryReplayCache

OLGA = Principal.parse(f"olga@{REALM}")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    realm = Realm.create(tmp_path / "kdc")
    realm.add_user(str(OLGA), "olga-pass")
    with open_store(realm.directory) as opened:
        yield opened


def enroll(store: Store) -> tuple[bytes, list[str]]:
    rules = APRules(replay_cache=MemoryReplayCache(), max_skew=300, where="KDC")
    exchange = OTPEnrollment(store, rules, changepw_service(REALM), lambda _: None)
    result = exchange.enroll(OLGA)
    return result.secret, result.recovery_codes


def test_enrollment_is_sealed_found_by_lookup_and_shown_by_getprinc(store: Store) -> None:
    secret, codes = enroll(store)
    entry = store.lookup(OLGA)
    assert entry is not None and entry.otp is not None and entry.otp.secret == secret
    assert not entry.requires_otp and secret.hex() not in repr(entry)
    store.modify(OLGA, PrincipalChanges(requires_otp=True))
    entry = store.lookup(OLGA)
    assert entry is not None and entry.requires_otp
    shown = store.describe(OLGA)
    assert shown["requires_otp"] and shown["otp_enrolled"]
    assert secret.hex() not in str(shown) and codes[0] not in str(shown)


def test_recovery_codes_are_spent_once_and_replaced_by_enrolling_again(store: Store) -> None:
    _, codes = enroll(store)
    spent = StoredRecoveryCodes(store)
    assert spent.consume(OLGA, recovery_digest(codes[0]))
    assert not spent.consume(OLGA, recovery_digest(codes[0]))
    assert not spent.consume(OLGA, recovery_digest("aaaaa-aaaaa"))
    enroll(store)
    assert not spent.consume(OLGA, recovery_digest(codes[1]))


def test_master_key_rotation_and_dump_load_keep_the_enrollment(store: Store) -> None:
    secret, codes = enroll(store)
    store.modify(OLGA, PrincipalChanges(requires_otp=True))
    store.rotate_master_key()
    dumped = dump_realm(store)
    assert secret.hex() not in dumped.decode() and codes[0] not in dumped.decode()
    load_realm(store, dumped)
    entry = store.lookup(OLGA)
    assert entry is not None and entry.requires_otp
    assert entry.otp is not None and entry.otp.secret == secret
    assert StoredRecoveryCodes(store).consume(OLGA, recovery_digest(codes[2]))
