"""``ktadd``'s file side, shared by ``orthrus-kdc ktadd`` and ``orthrus admin ktadd``: check
the keytab file is of the format asked for, then add the new keys to what it holds.

The Orthrus format keeps one entry per principal and kvno (a new one replaces an old one);
the MIT format (version 0x502) gets the new entries after those already there, as MIT's
``kadmin ktadd`` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from orthrus.enctypes import enctype
from orthrus.errors import ConfigError, MalformedMessage
from orthrus.keytab import Keytab
from orthrus.mitkeytab import append_entries, is_mit_keytab, parse_keytab
from orthrus.principal import Principal
from orthrus_io.files import read_private, write_private

__all__ = ["KeytabFile", "KeytabFormat"]

KeytabFormat = Literal["orthrus", "mit"]
#: What ktadd says it added: principal, kvno, encryption type name.
Added = list[tuple[Principal, int, str]]


@dataclass(frozen=True, slots=True)
class KeytabFile:
    """A keytab file to add keys to, checked before any key is fetched (:meth:`open`)."""

    path: Path
    format: KeytabFormat
    existing: bytes

    @classmethod
    def open(cls, path: Path, keytab_format: KeytabFormat) -> KeytabFile:
        """Read ``path`` (if it exists) and refuse it if it is not a keytab of that format."""
        existing = b""
        if path.exists() or path.is_symlink():
            existing = read_private(path, "keytab")
        if keytab_format == "orthrus" and is_mit_keytab(existing):
            raise ConfigError(
                f"keytab {path} is an MIT keytab: add --format mit, or use another file"
            )
        if keytab_format == "mit" and existing:
            if not is_mit_keytab(existing):
                raise ConfigError(
                    f"keytab {path} is not an MIT keytab (an Orthrus one?): leave out "
                    "--format mit, or use another file"
                )
            try:  # the file as MIT would append to it
                append_entries(existing, [])
            except MalformedMessage as exc:
                raise ConfigError(
                    f"keytab {path} is not a valid MIT keytab: {exc.message}"
                ) from None
        return cls(path, keytab_format, existing)

    def add(self, new_keys: bytes) -> Added:
        """Write the file with the keys of ``new_keys`` (a keytab of the same format) added;
        returns what was added."""
        if self.format == "mit":
            entries = parse_keytab(new_keys)
            write_private(self.path, append_entries(self.existing, entries))
            return [(e.principal, e.kvno, enctype(e.enctype).name) for e in entries]
        new = Keytab.from_bytes(new_keys)
        keytab = Keytab.from_bytes(self.existing) if self.existing else Keytab()
        write_private(self.path, keytab.merged(new.entries, new.kdc_jwks).to_bytes())
        return [(e.principal, e.kvno, e.enctype) for e in new.entries]

    def added_lines(self, added: Added) -> list[str]:
        """What ktadd prints, as MIT's ``kadmin ktadd`` does."""
        return [
            f"Entry for principal {name} with kvno {kvno}, encryption type {enctype_name} "
            f"added to keytab FILE:{self.path}."
            for name, kvno, enctype_name in added
        ]
