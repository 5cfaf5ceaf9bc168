"""The realm master key: a stash file (mode 0600) and the wrapping of keys at rest.

Every long-term key and the KDC's signing key are stored sealed under the master key
(:func:`orthrus.seal.seal`, usage ``MASTER_KEY_WRAP``), with the owner's name and kvno bound
as context, so a wrapped key copied onto another principal's row does not open.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from orthrus.errors import APError, ConfigError
from orthrus.keys import Key, KeyUsage
from orthrus.seal import open_sealed, seal
from orthrus_io.files import read_private, write_private

__all__ = ["MasterKey"]


class _Stash(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    format: str
    kvno: int
    key: bytes


class MasterKey:
    """The master key, loaded from its stash; wraps and unwraps stored keys."""

    def __init__(self, key: Key) -> None:
        self._key = key

    @property
    def kvno(self) -> int:
        return self._key.kvno

    @classmethod
    def create(cls, path: Path) -> MasterKey:
        """A new random master key, stashed at ``path`` (refuses to overwrite one)."""
        if path.exists():
            raise ConfigError(f"a master key stash already exists at {path}; not replacing it")
        key = Key.generate(os.urandom, kvno=1)
        cls(key).stash(path)
        return cls(key)

    def stash(self, path: Path) -> None:
        stash = _Stash("orthrus-master-key/1", self._key.kvno, self._key.material)
        write_private(path, msgspec.json.encode(stash) + b"\n")

    @classmethod
    def load(cls, path: Path) -> MasterKey:
        """Load the stash; a clear error if it is missing, open to others, or damaged."""
        data = read_private(path, "master key stash")
        try:
            stash = msgspec.json.decode(data, type=_Stash)
            return cls(Key(stash.key, stash.kvno))
        except (msgspec.MsgspecError, ValueError) as exc:
            raise ConfigError(f"master key stash {path} is damaged: {exc}") from None

    def wrap(self, material: bytes, owner: str) -> str:
        """Seal key material belonging to ``owner`` (``principal#kvno``)."""
        return seal(self._key, KeyUsage.MASTER_KEY_WRAP, material, os.urandom, context=owner)

    def unwrap(self, wrapped: str, owner: str) -> bytes:
        """Open what :meth:`wrap` sealed for ``owner``."""
        try:
            return open_sealed(self._key, KeyUsage.MASTER_KEY_WRAP, wrapped, context=owner)
        except APError as exc:
            raise ConfigError(
                f"the stored key of {owner} does not open with this master key: wrong "
                "master key stash, or a damaged database"
            ) from exc

    def __repr__(self) -> str:
        return f"MasterKey(kvno={self.kvno})"
