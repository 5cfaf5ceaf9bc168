"""The keys ``ktadd`` extracts, as a keytab of just those keys (the file side, merging them
into the file named, is :mod:`orthrus_io.keytab_files`): for ``orthrus-kdc ktadd`` and the
admin API's ``ktadd`` alike."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kdc.principal_admin import PrincipalMissing
from orthrus.keytab import Keytab, KeytabEntry
from orthrus.mitkeytab import MITKeytabEntry, serialize_keytab
from orthrus.principal import Principal
from orthrus_io.keytab_files import KeytabFormat

if TYPE_CHECKING:
    from kdc.store import Store

__all__ = ["export_keys"]


def export_keys(
    store: Store, names: list[Principal], keytab_format: KeytabFormat, now: int
) -> bytes:
    """The keys of ``names``: for the Orthrus format every kvno still in use (with the KDC's
    JWKS), for MIT's the current kvno in every enctype. Unlike MIT's ktadd this does not
    change the keys (``cpw --randkey`` or ``rotate`` do)."""
    if keytab_format == "mit":
        return serialize_keytab(_mit_entries(store, names, now))
    entries: list[KeytabEntry] = []
    for name in names:
        entries += store.keytab_entries(name)
    return Keytab().merged(entries, store.signer().jwks()).to_bytes()


def _mit_entries(store: Store, names: list[Principal], now: int) -> list[MITKeytabEntry]:
    entries: list[MITKeytabEntry] = []
    for name in names:
        principal = store.lookup(name)
        if principal is None:
            raise PrincipalMissing(f"principal {name} does not exist")
        keys = [k for k in principal.kerberos_keys if k.kvno == principal.kvno]
        if not keys:
            raise PrincipalMissing(
                f"{name} has no Kerberos keys at kvno {principal.kvno} (it was made before the "
                f"realm had them): make them with 'orthrus-kdc cpw {name}' (a user's password) "
                f"or 'orthrus-kdc rotate {name}' (a service), then ktadd again"
            )
        entries += [MITKeytabEntry(name, k.kvno, k.key, now) for k in keys]
    return entries
