"""The realm master key: a stash file (mode 0600) and the wrapping of keys at rest.

Every long-term key and the KDC's signing key are stored sealed under the master key
(:func:`orthrus.seal.seal`, usage ``MASTER_KEY_WRAP``), with the owner's name and kvno bound
as context, so a wrapped key copied onto another principal's row does not open. The stash may
hold several master key versions while the database is re-encrypted under a new one
(``orthrus-kdc rotate-master-key``); each wrapped key names the version it was sealed with.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

import msgspec

from orthrus.b64 import b64u_encode
from orthrus.errors import APError, ConfigError
from orthrus.keys import Key, KeyUsage
from orthrus.seal import open_sealed, peek_header, seal
from orthrus_io.files import read_private, write_private

__all__ = ["MasterKey"]

_FORMAT = "orthrus-master-key/1"


class _StashedKey(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kvno: int
    key: bytes


class _Stash(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    format: str
    keys: list[_StashedKey]


class MasterKey:
    """The master key versions from a stash; wraps with the newest, unwraps with any."""

    def __init__(self, keys: list[Key]) -> None:
        if not keys:
            raise ConfigError("a master key stash holds at least one key")
        self._keys = {key.kvno: key for key in keys}
        self._current = self._keys[max(self._keys)]

    @property
    def kvno(self) -> int:
        """The version new keys are wrapped with."""
        return self._current.kvno

    @property
    def kvnos(self) -> list[int]:
        return sorted(self._keys)

    def fingerprint(self) -> str:
        """A public check value of the current master key (identifies it in dumps)."""
        digest = hmac.new(self._current.material, b"orthrus/master-key-check", hashlib.sha256)
        return f"{self.kvno}:{b64u_encode(digest.digest()[:16])}"

    @classmethod
    def create(cls, path: Path) -> MasterKey:
        """A new random master key, stashed at ``path`` (refuses to overwrite one)."""
        if path.exists() or path.is_symlink():
            raise ConfigError(f"a master key stash already exists at {path}; not replacing it")
        master = cls([Key.generate(os.urandom, kvno=1)])
        master.stash(path)
        return master

    def with_new_version(self) -> MasterKey:
        """This stash plus a new random master key, which becomes current."""
        return MasterKey([*self._keys.values(), Key.generate(os.urandom, self.kvno + 1)])

    def only_current(self) -> MasterKey:
        """This stash without the versions older than the current one."""
        return MasterKey([self._current])

    def stash(self, path: Path) -> None:
        keys = [_StashedKey(k.kvno, k.material) for k in sorted(self._keys.values(), key=_kvno)]
        write_private(path, msgspec.json.encode(_Stash(_FORMAT, keys)) + b"\n")

    @classmethod
    def load(cls, path: Path) -> MasterKey:
        """Load the stash; a clear error if it is missing, open to others, or damaged."""
        data = read_private(path, "master key stash")
        try:
            stash = msgspec.json.decode(data, type=_Stash)
            if stash.format != _FORMAT:
                raise ValueError(f"unknown format {stash.format!r}")
            return cls([Key(k.key, k.kvno) for k in stash.keys])
        except (msgspec.MsgspecError, ValueError) as exc:
            raise ConfigError(f"master key stash {path} is damaged: {exc}") from None

    def wrap(self, material: bytes, owner: str) -> str:
        """Seal key material belonging to ``owner`` (``principal#kvno``)."""
        return seal(self._current, KeyUsage.MASTER_KEY_WRAP, material, os.urandom, context=owner)

    def wrapped_with(self, wrapped: str) -> int:
        """The master key version a wrapped key was sealed with."""
        kid = peek_header(wrapped).get("kid")
        return int(kid) if isinstance(kid, str) and kid.isdigit() else -1

    def unwrap(self, wrapped: str, owner: str) -> bytes:
        """Open what :meth:`wrap` sealed for ``owner``, with whichever version sealed it."""
        key = self._keys.get(self.wrapped_with(wrapped))
        try:
            if key is None:
                raise APError("KRB_AP_ERR_NOKEY", "no such master key version")
            return open_sealed(key, KeyUsage.MASTER_KEY_WRAP, wrapped, context=owner)
        except APError as exc:
            raise ConfigError(
                f"the stored key of {owner} does not open with this master key stash: wrong "
                "stash, or a damaged database"
            ) from exc

    def __repr__(self) -> str:
        return f"MasterKey(kvno={self.kvno}, versions={self.kvnos})"


def _kvno(key: Key) -> int:
    return key.kvno
