"""A service's keys from its keytab file, reloaded when the file changes (key rotation).

RFC 4120 §7.5.8 / §3.2.3: a service picks the key for a ticket by its version number, so a
keytab holds several versions; when the KDC rotates the service key and the new keytab is
written (atomically, mode 0600), the next look-up after the file changed uses it, with no
restart. The file is looked at (one ``stat``) at most every ``check_interval`` seconds; a
broken new file is ignored (the previous keys stay) and logged, without any key material.

The file is Orthrus's JSON keytab (``orthrus-kdc ktadd``: the keys of the ``Ticket`` scheme
and the KDC's public keys) or MIT's keytab (``ktadd --format mit``, MIT's ``ktutil`` or
``kadmin``: RFC 3961 keys, :attr:`KeySnapshot.kerberos_keys`), told apart by its first
octets (MIT's start ``05 02``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

from orthrus.authz import AuthzVerifier
from orthrus.errors import ConfigError, ProtocolError
from orthrus.keys import Key
from orthrus.keytab import Keytab
from orthrus.mitkeytab import is_mit_keytab, parse_keytab
from orthrus.principal import Principal
from orthrus.realm import KerberosKey
from orthrus_io.files import read_private

__all__ = ["KeySnapshot", "KeytabSource", "keytab_realms"]

log = logging.getLogger("orthrus.service.keytab")

Clock = Callable[[], float]
#: Every principal's RFC 3961 keys, in the order of the keytab file.
KerberosKeys = Mapping[Principal, tuple[KerberosKey, ...]]


@dataclass(frozen=True, slots=True)
class KeySnapshot:
    """The keys and KDC public keys of one version of the keytab file.

    ``keys`` are the ``Ticket`` scheme's (Orthrus's keytab); ``kerberos_keys`` the RFC 3961
    keys of an MIT keytab, the ``Negotiate`` scheme's.
    """

    keys: Mapping[Principal, Mapping[int, Key]] = field(repr=False)
    kdc_jwks: Mapping[str, Any] | None
    generation: int
    kerberos_keys: KerberosKeys = field(default_factory=dict, repr=False)
    _authz: dict[str, AuthzVerifier] = field(default_factory=dict, repr=False)

    def keys_for(self, principal: Principal) -> Mapping[int, Key] | None:
        """``principal``'s keys by kvno, or None if it is not served here."""
        return self.keys.get(principal)

    def kerberos_keys_for(self, principal: Principal) -> tuple[KerberosKey, ...] | None:
        """``principal``'s RFC 3961 keys, or None if it has none here (``NOT_US``)."""
        return self.kerberos_keys.get(principal)

    def current_key(self, principal: Principal) -> Key | None:
        """The newest key (highest kvno) of ``principal``."""
        keys = self.keys.get(principal)
        return keys[max(keys)] if keys else None

    def authz_verifier(self, realm: str) -> AuthzVerifier | None:
        """The checker of KDC-signed authorization data for ``realm`` (None: no JWKS)."""
        if self.kdc_jwks is None:
            return None
        verifier = self._authz.get(realm)
        if verifier is None:
            verifier = self._authz[realm] = AuthzVerifier(self.kdc_jwks, realm)
        return verifier

    @property
    def principals(self) -> frozenset[Principal]:
        """Every principal with keys here, of either kind."""
        return frozenset(self.keys) | frozenset(self.kerberos_keys)


def _snapshot(
    loaded: tuple[Keytab, KerberosKeys],
    accepted: Collection[Principal],
    generation: int,
    kdc_jwks: Mapping[str, Any] | None = None,
) -> KeySnapshot:
    keytab, kerberos = loaded
    jwks = keytab.kdc_jwks if keytab.kdc_jwks is not None else kdc_jwks
    table = keytab.keys_by_principal()
    if accepted:
        missing = sorted(str(p) for p in accepted if p not in table and p not in kerberos)
        if missing:
            raise ConfigError(
                f"the keytab holds no key for {', '.join(missing)}, a principal this service "
                "is to accept: name the service's principals (setting 'principals'), or "
                "accept every principal of the keytab ('accept_any_keytab_principal')"
            )
        table = {p: k for p, k in table.items() if p in accepted}
        kerberos = {p: k for p, k in kerberos.items() if p in accepted}
    if not table and not kerberos:
        raise ConfigError("the keytab holds no keys")
    if jwks is not None:
        try:  # refuse a broken JWKS now rather than on the first request
            AuthzVerifier(jwks, "CHECK")
        except (jwt.PyJWTError, ValueError, TypeError, AttributeError) as exc:
            raise ConfigError(f"the kdc_jwks is not a valid JWKS: {exc}") from None
    return KeySnapshot(table, jwks, generation, kerberos)


def _load(path: Path) -> tuple[Keytab, KerberosKeys]:
    """The keytab file at ``path``: Orthrus's keys, or MIT's keys (each with none of the other)."""
    data = read_private(path, "keytab")
    try:
        if not is_mit_keytab(data):
            return Keytab.from_bytes(data), {}
        grouped: dict[Principal, list[KerberosKey]] = {}
        for entry in parse_keytab(data):
            grouped.setdefault(entry.principal, []).append(entry.to_kerberos_key())
        return Keytab(), {p: tuple(keys) for p, keys in grouped.items()}
    except ProtocolError as exc:
        raise ConfigError(f"keytab {path} is not a valid keytab: {exc.message}") from None


def _load_all(paths: Sequence[Path]) -> tuple[Keytab, KerberosKeys]:
    """The keytab files at ``paths`` as one: an Orthrus keytab and an MIT one together give
    a service both schemes (``Ticket`` and ``Negotiate``)."""
    loaded = [_load(path) for path in paths]
    if len(loaded) == 1:
        return loaded[0]
    entries = [entry for keytab, _ in loaded for entry in keytab.entries]
    jwks = next((keytab.kdc_jwks for keytab, _ in loaded if keytab.kdc_jwks is not None), None)
    kerberos: dict[Principal, tuple[KerberosKey, ...]] = {}
    for _, keys in loaded:
        for principal, found in keys.items():
            kerberos[principal] = kerberos.get(principal, ()) + found
    return Keytab(entries=entries, kdc_jwks=jwks), kerberos


def _as_paths(path: Path | Sequence[Path]) -> tuple[Path, ...]:
    return (Path(path),) if isinstance(path, str | Path) else tuple(Path(p) for p in path)


def keytab_realms(path: Path | Sequence[Path]) -> frozenset[str]:
    """The realms of the principals in the keytab file(s) at ``path``."""
    keytab, kerberos = _load_all(_as_paths(path))
    return frozenset(p.realm for p in (*keytab.keys_by_principal(), *kerberos))


class KeytabSource:
    """The current :class:`KeySnapshot` of a keytab file, reloaded when the file changes.

    ``path`` is one keytab file or several read as one (an Orthrus keytab and an MIT one:
    both schemes). ``accepted`` limits the principals served (empty: all in the keytab).
    ``kdc_jwks`` is
    the KDC's public keys for a keytab that carries none (an MIT keytab). Safe to share
    between threads. :attr:`generation` grows by one at each reload, so caches built on the
    keys know when to start afresh.
    """

    def __init__(
        self,
        path: Path | Sequence[Path] | None,
        accepted: Collection[Principal] = (),
        check_interval: float = 1.0,
        clock: Clock = time.monotonic,
        keytab: Keytab | None = None,
        kdc_jwks: Mapping[str, Any] | None = None,
    ) -> None:
        if (path is None) == (keytab is None):
            raise ValueError("give either a keytab file path or a keytab")
        self._paths = () if path is None else _as_paths(path)
        self._accepted = frozenset(accepted)
        self._interval = check_interval
        self._clock = clock
        self._kdc_jwks = kdc_jwks
        self._lock = threading.Lock()
        self._stamp = self._stat()
        loaded = (keytab, {}) if keytab is not None else self._read()
        self._snapshot = _snapshot(loaded, self._accepted, 1, kdc_jwks)
        self._checked_at = clock()

    @classmethod
    def from_keytab(cls, keytab: Keytab, accepted: Collection[Principal] = ()) -> KeytabSource:
        """A fixed source from a keytab in memory (tests, or keys obtained elsewhere)."""
        return cls(None, accepted, keytab=keytab)

    @property
    def path(self) -> Path | None:
        """The (first) keytab file; None for a keytab given in memory."""
        return self._paths[0] if self._paths else None

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every keytab file read, in order."""
        return self._paths

    @property
    def generation(self) -> int:
        return self._snapshot.generation

    def snapshot(self) -> KeySnapshot:
        """The keys now; looks at the file first if ``check_interval`` has passed."""
        if self._paths and self._clock() - self._checked_at >= self._interval:
            self.refresh()
        return self._snapshot

    def refresh(self, force: bool = False) -> bool:
        """Reload the file if it changed (or ``force``); True if new keys were loaded."""
        if not self._paths:
            return False
        with self._lock:
            self._checked_at = self._clock()
            stamp = self._stat()
            if stamp == self._stamp and not force:
                return False
            try:
                snapshot = _snapshot(
                    self._read(), self._accepted, self.generation + 1, self._kdc_jwks
                )
            except (ConfigError, ProtocolError) as exc:
                # Keep serving with the keys we have; say why the new file was refused.
                log.warning("keytab %s changed but was not loaded: %s", self._names(), exc)
                self._stamp = stamp
                return False
            self._stamp, self._snapshot = stamp, snapshot
        log.info(
            "keytab %s reloaded: %s",
            self._names(),
            "; ".join(f"{p} kvno {kvnos}" for p, kvnos in sorted(_kvnos(snapshot).items())),
        )
        return True

    def _names(self) -> str:
        return ", ".join(str(p) for p in self._paths)

    def _stat(self) -> tuple[tuple[int, int, int, int] | None, ...]:
        return tuple(_stat(path) for path in self._paths)

    def _read(self) -> tuple[Keytab, KerberosKeys]:
        return _load_all(self._paths)


def _stat(path: Path) -> tuple[int, int, int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size, info.st_ctime_ns)


def _kvnos(snapshot: KeySnapshot) -> dict[Principal, list[int]]:
    """Every principal's key versions (for the log: no key material)."""
    kvnos = {p: set(keys) for p, keys in snapshot.keys.items()}
    for p, keys in snapshot.kerberos_keys.items():
        kvnos.setdefault(p, set()).update(k.kvno for k in keys)
    return {p: sorted(v) for p, v in kvnos.items()}
