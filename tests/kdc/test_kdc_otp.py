"""The KDC's side of two-factor login (kdc.otp): the secret sealed under the master key and
found by the lookups, recovery codes spent once, and both kept by master-key rotation and by
dump → load."""

from __future__ import annotations

from collections.abc import Iterator

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

#: One user per test, in one realm for the module: no test sees another's enrollment (the
#: last test's master-key rotation and dump → load keep every principal as it was).
OLGA, OSCAR, OTTO = (Principal.parse(f"{name}@{REALM}") for name in ("olga", "oscar", "otto"))


@pytest.fixture(scope="module")
def realm(tmp_path_factory: pytest.TempPathFactory) -> Realm:
    realm = Realm.create(tmp_path_factory.mktemp("otp") / "kdc")
    for user in (OLGA, OSCAR, OTTO):
        realm.add_user(str(user), f"{user.components[0]}-pass")
    return realm


@pytest.fixture
def store(realm: Realm) -> Iterator[Store]:
    with open_store(realm.directory) as opened:
        yield opened


def enroll(store: Store, user: Principal) -> tuple[bytes, list[str]]:
    rules = APRules(replay_cache=MemoryReplayCache(), max_skew=300, where="KDC")
    exchange = OTPEnrollment(store, rules, changepw_service(REALM), lambda _: None)
    result = exchange.enroll(user)
    return result.secret, result.recovery_codes


def test_enrollment_is_sealed_found_by_lookup_and_shown_by_getprinc(store: Store) -> None:
    secret, codes = enroll(store, OLGA)
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
    _, codes = enroll(store, OSCAR)
    spent = StoredRecoveryCodes(store)
    assert spent.consume(OSCAR, recovery_digest(codes[0]))
    assert not spent.consume(OSCAR, recovery_digest(codes[0]))
    assert not spent.consume(OSCAR, recovery_digest("aaaaa-aaaaa"))
    enroll(store, OSCAR)
    assert not spent.consume(OSCAR, recovery_digest(codes[1]))


def test_master_key_rotation_and_dump_load_keep_the_enrollment(store: Store) -> None:
    secret, codes = enroll(store, OTTO)
    store.modify(OTTO, PrincipalChanges(requires_otp=True))
    store.rotate_master_key()
    dumped = dump_realm(store)
    assert secret.hex() not in dumped.decode() and codes[0] not in dumped.decode()
    load_realm(store, dumped)
    entry = store.lookup(OTTO)
    assert entry is not None and entry.requires_otp
    assert entry.otp is not None and entry.otp.secret == secret
    assert StoredRecoveryCodes(store).consume(OTTO, recovery_digest(codes[2]))
