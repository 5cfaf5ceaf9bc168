"""Keys at rest: every key the database holds is sealed under the master key (kdc/masterkey.py)
with its owner bound as context — ``name#kvno`` for an Argon2id or random key, ``name#kvno/enctype``
for a Kerberos key (:func:`kdc.kerberos_keys.seal_owner`), ``name#history`` for a remembered
password, ``name#otp`` for a TOTP secret (:func:`otp_owner`), ``signing#kid`` for a signing
key — so a sealed key moved to another row does not open.

Opened keys are cached by owner and sealed bytes, so a lookup opens each key once; a key
re-keyed or re-sealed has other sealed bytes and is opened again.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from kdc import kerberos_keys
from kdc.config import KDCSettings
from kdc.database import Transaction
from kdc.masterkey import MasterKey
from kdc.models import (
    KerberosKeyRow,
    KeyRow,
    PasswordHistoryRow,
    PrincipalRow,
    SigningKeyRow,
    utcnow,
)
from orthrus.authz import AuthzSigner
from orthrus.enctypes import KeyBlock, enctype
from orthrus.errors import ConfigError
from orthrus.keys import Key
from orthrus.otp import OTPEnrollment
from orthrus.realm import KerberosKey

__all__ = ["KeysAtRest", "otp_owner"]

_UNWRAP_CACHE_LIMIT = 16384


def otp_owner(name: str) -> str:
    """The owner bound to the sealed TOTP secret of ``name`` (RFC 6238, :mod:`kdc.otp`)."""
    return f"{name}#otp"


class KeysAtRest:
    """The realm's master key and the stored keys it opens."""

    def __init__(self, settings: KDCSettings, master: MasterKey, transaction: Transaction) -> None:
        self.settings = settings
        self._master = master
        self._transaction = transaction
        self._unwrapped: dict[tuple[str, int, str], Key] = {}
        #: Kerberos keys by (seal owner, wrapped); each KeyBlock keeps its derived keys.
        self._unwrapped_kerberos: dict[tuple[str, str], KeyBlock] = {}
        self._lock = threading.Lock()

    @property
    def master(self) -> MasterKey:
        return self._master

    def open(self, wrapped: str, owner: str) -> bytes:
        """The material of a stored key, with whichever master key version sealed it."""
        if self._master.wrapped_with(wrapped) not in self._master.kvnos:
            # Another process rotated the master key: its new version is in the stash.
            self._master = MasterKey.load(self.settings.master_key_path)
        return self._master.unwrap(wrapped, owner)

    def unwrap(self, name: str, kvno: int, wrapped: str) -> Key:
        """Key version ``kvno`` of ``name`` (Argon2id or random), opened once and cached."""
        cache_key = (name, kvno, wrapped)
        key = self._unwrapped.get(cache_key)
        if key is None:
            key = Key(self.open(wrapped, f"{name}#{kvno}"), kvno)
            with self._lock:
                if len(self._unwrapped) >= _UNWRAP_CACHE_LIMIT:
                    self._unwrapped.clear()
                self._unwrapped[cache_key] = key
        return key

    def unwrap_kerberos(self, name: str, row: Any) -> KerberosKey:
        """The Kerberos key (RFC 3961 §3) of a lookup row (one with a ``key_enctype``)."""
        owner = kerberos_keys.seal_owner(name, row.key_kvno, row.key_enctype)
        cache_key = (owner, row.wrapped)
        key = self._unwrapped_kerberos.get(cache_key)
        if key is None:
            key = enctype(row.key_enctype).random_to_key(self.open(row.wrapped, owner))
            with self._lock:
                if len(self._unwrapped_kerberos) >= _UNWRAP_CACHE_LIMIT:
                    self._unwrapped_kerberos.clear()
                self._unwrapped_kerberos[cache_key] = key
        return KerberosKey(row.key_kvno, key, row.key_salt, row.key_iterations)

    def otp_secret(self, name: str, wrapped: str | None) -> OTPEnrollment | None:
        """The enrolled TOTP secret of ``name`` (RFC 6238), None if it has not enrolled."""
        if wrapped is None:
            return None
        return OTPEnrollment(self.open(wrapped, otp_owner(name)))

    def rotate_master_key(self) -> int:
        """Re-encrypt every stored key under a new master key version, atomically.

        1. the stash gets the new version beside the old (both can unwrap);
        2. one transaction re-wraps every key; a crash leaves the old wrapping intact;
        3. the stash drops the old version.
        A crash between steps leaves a stash that opens whatever the database holds.
        """
        path = self.settings.master_key_path
        old, new = self._master, self._master.with_new_version()
        new.stash(path)
        self._master = new
        with self._transaction() as session:
            for key_row in session.scalars(select(KeyRow)):
                owner = f"{key_row.principal.name}#{key_row.kvno}"
                key_row.wrapped = new.wrap(old.unwrap(key_row.wrapped, owner), owner)
            for kerberos in session.scalars(select(KerberosKeyRow)):
                owner = kerberos_keys.seal_owner(
                    kerberos.principal.name, kerberos.kvno, kerberos.enctype
                )
                kerberos.wrapped = new.wrap(old.unwrap(kerberos.wrapped, owner), owner)
            for signing in session.scalars(select(SigningKeyRow)):
                owner = f"signing#{signing.kid}"
                signing.wrapped = new.wrap(old.unwrap(signing.wrapped, owner), owner)
            for principal in session.scalars(
                select(PrincipalRow).where(PrincipalRow.otp_wrapped.is_not(None))
            ):
                owner = otp_owner(principal.name)
                wrapped = principal.otp_wrapped or ""
                principal.otp_wrapped = new.wrap(old.unwrap(wrapped, owner), owner)
            for history in session.scalars(select(PasswordHistoryRow)):
                owner = f"{history.principal.name}#history"
                history.wrapped = new.wrap(old.unwrap(history.wrapped, owner), owner)
        self._master = new.only_current()
        self._master.stash(path)
        self._unwrapped.clear()
        self._unwrapped_kerberos.clear()
        return self._master.kvno

    def create_signing_key(self) -> str:
        """A new Ed25519 key for authorization data; returns its key id."""
        private = Ed25519PrivateKey.generate()
        raw = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        kid = f"kdc-{utcnow().strftime('%Y%m%d%H%M%S')}-{os.urandom(3).hex()}"
        with self._transaction() as session:
            session.add(SigningKeyRow(kid=kid, wrapped=self._master.wrap(raw, f"signing#{kid}")))
        return kid

    def signer(self) -> AuthzSigner:
        """The newest signing key, as an :class:`~orthrus.authz.AuthzSigner`."""
        with self._transaction() as session:
            row = session.scalars(
                select(SigningKeyRow).order_by(SigningKeyRow.created_at.desc())
            ).first()
            if row is None:
                raise ConfigError("the KDC has no signing key; was 'orthrus-kdc init' completed?")
            raw = self._master.unwrap(row.wrapped, f"signing#{row.kid}")
        return AuthzSigner(Ed25519PrivateKey.from_private_bytes(raw), row.kid, self.settings.realm)
