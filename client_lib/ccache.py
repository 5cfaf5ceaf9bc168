"""The credential cache: one file per user (mode 0600, replaced atomically) holding the
default principal and its tickets with their session keys (RFC 4120 §3.1.5 "store").

Readers need no lock: a rename replaces the file whole, so a reader sees the old cache or the
new one, never a mix. Writers take an exclusive ``flock`` on a lock file beside the cache for
their read-modify-write, so two processes sharing one cache (a program storing service
tickets, ``orthrus kinit --keep`` renewing its TGT) never lose each other's update.

Two formats: Orthrus's JSON (``orthrus-ccache/1``) and MIT's FILE cache version 4
(:mod:`orthrus.kerberos.ccache`), which MIT's ``klist`` and ``kinit`` share. Reading tells
them apart by the first octet; a write keeps the format of the file it replaces, and
:meth:`CredentialCache.initialize` writes the format the cache was opened with (``"mit"`` or
``"orthrus"``) when there is no file yet or it was asked for explicitly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

from client_lib.errors import NoCredentials
from orthrus.codec import decode, encode
from orthrus.credentials import Credential
from orthrus.errors import ConfigError, MalformedMessage
from orthrus.kerberos.ccache import (
    CacheEntry,
    CacheFile,
    CacheName,
    credential_of,
    entry_of,
    is_mit_ccache,
    parse_ccache,
    serialize_ccache,
    with_entries,
)
from orthrus.principal import Principal
from orthrus_io.files import (
    MAX_PRIVATE_FILE,
    destroy_private,
    locked_private,
    read_private,
    write_private,
)

__all__ = ["CCACHE_FORMATS", "CCacheFormat", "CredentialCache"]

#: The formats a cache is written in: Orthrus's JSON, or MIT's FILE version 4.
CCacheFormat = Literal["orthrus", "mit"]
CCACHE_FORMATS: tuple[CCacheFormat, ...] = ("orthrus", "mit")


class _CacheFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    format: str
    principal: Principal
    credentials: list[Credential] = []


class CredentialCache:
    """A credential cache file."""

    FORMAT = "orthrus-ccache/1"

    def __init__(
        self, path: Path, write_format: CCacheFormat = "orthrus", explicit: bool = False
    ) -> None:
        self.path = Path(path)
        #: The format :meth:`initialize` writes when there is no file (or ``explicit``).
        self.write_format = write_format
        self.explicit = explicit

    def exists(self) -> bool:
        return self.path.exists()

    def write_as(self, write_format: CCacheFormat) -> None:
        """Have :meth:`initialize` write ``write_format`` whatever the file there is
        (``orthrus kinit --ccache-format``)."""
        self.write_format = write_format
        self.explicit = True

    def _read(self) -> bytes:
        if not self.path.exists() and not self.path.is_symlink():
            raise NoCredentials(
                f"no credentials cache found (filename: {self.path}); run 'orthrus kinit'"
            )
        return read_private(self.path, "credentials cache")

    def _damaged(self, exc: MalformedMessage) -> ConfigError:
        return ConfigError(f"credentials cache {self.path} is damaged: {exc.message}")

    def _load(self) -> _CacheFile:
        """The cache as Orthrus's model, whichever format the file is in."""
        data = self._read()
        try:
            if is_mit_ccache(data):
                return _from_mit(parse_ccache(data))
            return decode(data, _CacheFile, MAX_PRIVATE_FILE)
        except MalformedMessage as exc:
            raise self._damaged(exc) from None

    def format(self) -> CCacheFormat:
        """The format of the file there now; ``write_format`` if there is none, or none this
        user may read as a cache (a planted link, another owner's file: it is replaced, never
        followed or trusted)."""
        if not self.path.exists() or self.path.is_symlink():
            return self.write_format
        try:
            return "mit" if is_mit_ccache(self._read()) else "orthrus"
        except ConfigError:
            return self.write_format

    def principal(self) -> Principal:
        return self._load().principal

    def credentials(self) -> list[Credential]:
        return list(self._load().credentials)

    @property
    def lock_path(self) -> Path:
        """The file whose ``flock`` writers hold; never the cache, which each write replaces."""
        return self.path.with_name(f"{self.path.name}.lock")

    def initialize(self, principal: Principal, tgt: Credential) -> None:
        """Start the cache afresh for ``principal`` with its TGT (what ``kinit`` does)."""
        with locked_private(self.lock_path, "credentials cache lock file"):
            kind = self.write_format if self.explicit else self.format()
            if kind == "mit":
                fresh = CacheFile(CacheName.of(principal), (self._entry(tgt),))
                write_private(self.path, serialize_ccache(fresh))
            else:
                write_private(self.path, encode(_CacheFile(self.FORMAT, principal, [tgt])))

    def _entry(self, credential: Credential) -> CacheEntry:
        try:
            return entry_of(credential)
        except MalformedMessage as exc:
            raise ConfigError(f"credentials cache {self.path}: {exc.message}") from None

    def store(self, credential: Credential) -> None:
        """Add or replace the ticket for ``credential.server``."""
        with locked_private(self.lock_path, "credentials cache lock file"):
            cache = self._load()
            if credential.client != cache.principal:
                raise ConfigError(
                    f"the cache belongs to {cache.principal}, not {credential.client}; "
                    "run 'orthrus kinit' for the other principal with another ORTHRUS_CCACHE"
                )
            if self.format() == "mit":
                self._store_mit(credential)
                return
            kept = [c for c in cache.credentials if c.server != credential.server]
            cache = _CacheFile(self.FORMAT, cache.principal, [*kept, credential])
            write_private(self.path, encode(cache))

    def _store_mit(self, credential: Credential) -> None:
        """Replace the entry for the same server, keeping every other entry (configuration
        entries and flags Orthrus does not model included) as MIT wrote it."""
        try:
            mit = parse_ccache(self._read())
        except MalformedMessage as exc:
            raise self._damaged(exc) from None
        server = CacheName.of(credential.server)
        kept = [
            e
            for e in mit.entries
            if e.is_config
            or (e.server.realm, e.server.components) != (server.realm, server.components)
        ]
        write_private(
            self.path, serialize_ccache(with_entries(mit, [*kept, self._entry(credential)]))
        )

    def find(self, server: Principal) -> Credential | None:
        return next((c for c in self.credentials() if c.server == server), None)

    def destroy(self) -> bool:
        """Overwrite and delete the cache; False if there was none (``kdestroy``)."""
        if not self.path.exists() and not self.path.is_symlink():
            return False
        with locked_private(self.lock_path, "credentials cache lock file"):
            return destroy_private(self.path, "credentials cache")


def _from_mit(cache: CacheFile) -> _CacheFile:
    """An MIT cache as Orthrus's model: its tickets, configuration entries left out."""
    credentials = [credential_of(e) for e in cache.entries if not e.is_config]
    return _CacheFile(CredentialCache.FORMAT, cache.principal.principal(), credentials)
