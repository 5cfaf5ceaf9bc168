"""The admin ACL file of a realm, ``DIR/kadm5.acl`` (its syntax: :mod:`orthrus.kadm5acl`):
its name, and the default that ``orthrus-kdc init`` (and ``upgrade``) write."""

from __future__ import annotations

from pathlib import Path

from kdc.config import KDCSettings
from orthrus_io.files import write_private

__all__ = ["ACL_NAME", "write_default_acl"]

#: The ACL file in the KDC directory (MIT's name).
ACL_NAME = "kadm5.acl"

_DEFAULT_ACL = """\
# Who may administer this realm remotely (orthrus admin ...): PRINCIPAL OPERATIONS [TARGET]
# Operations: a add, d delete, m modify, i inquire, l list, c change password or key,
# e extract keys (ktadd), x or * all. '*' matches within one name component or the realm.
# Read on every request: edits take effect at once. See docs/operations.md.
*/admin@{realm}  *
"""


def write_default_acl(settings: KDCSettings) -> Path:
    """Write ``DIR/kadm5.acl`` granting ``*/admin@REALM`` everything (as MIT's packaged
    ``kadm5.acl``), unless the file exists; returns its path."""
    path = Path(settings.directory) / ACL_NAME
    if not path.exists():
        write_private(path, _DEFAULT_ACL.format(realm=settings.realm).encode())
    return path
