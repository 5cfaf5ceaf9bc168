"""A principal's Kerberos keys: one RFC 3961 key per realm enctype and kvno (issue 14 §4).

Beside the Argon2id key of the JSON dialect, every key version of a principal has one key
of each enctype in the realm's ``enctypes`` (``kdc.toml``), which MIT's and Heimdal's
clients use: from a password, ``string_to_key(password, salt, s2kparams)`` with the
default salt of RFC 4120 §4 (the realm, then the name's components, concatenated) and the
realm's ``kerberos_iterations`` (RFC 3962 §4, RFC 8009 §4: PBKDF2, the count sent to
clients in PA-ETYPE-INFO2's ``s2kparams``); for services and krbtgt, random keys
(random-to-key, RFC 3961 §3).

Each key is sealed under the master key with the principal's name, kvno and enctype bound
as context (:func:`seal_owner`), so a sealed key moved to another row, kvno or enctype
does not open.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from kdc.config import KDCSettings
from kdc.masterkey import MasterKey
from kdc.models import KerberosKeyRow
from orthrus.enctypes import enctype
from orthrus.kerberos.names import default_salt
from orthrus.principal import Principal
from orthrus.realm import KerberosKey

__all__ = ["default_salt", "describe", "new_rows", "realm_order", "seal_owner"]


def seal_owner(name: str, kvno: int, number: int) -> str:
    """What the master key binds a Kerberos key to: name, kvno and enctype.

    It cannot be the context of another stored key: the Argon2id keys' is ``name#kvno``
    and the password history's ``name#history``, neither ending in ``/digits``.
    """
    return f"{name}#{kvno}/{number}"


def new_rows(
    settings: KDCSettings, master: MasterKey, principal: Principal, password: str | None, kvno: int
) -> list[KerberosKeyRow]:
    """Sealed keys of version ``kvno`` of every realm enctype: from ``password``, or random."""
    rows = []
    for number in settings.enctype_numbers:
        kind = enctype(number)
        salt: bytes | None = None
        iterations: int | None = None
        if password is None:
            key = kind.random_to_key(os.urandom(kind.key_size))
        else:
            salt, iterations = default_salt(principal), settings.kerberos_iterations
            key = kind.string_to_key(password, salt, iterations.to_bytes(4, "big"))
        wrapped = master.wrap(key.material, seal_owner(str(principal), kvno, number))
        rows.append(
            KerberosKeyRow(
                kvno=kvno, enctype=number, salt=salt, iterations=iterations, wrapped=wrapped
            )
        )
    return rows


def realm_order(keys: Iterable[KerberosKey], enctypes: Sequence[int]) -> tuple[KerberosKey, ...]:
    """``keys`` (all of the realm's ``enctypes``) newest kvno first, then in the realm's
    order: strongest first, as the KDC prefers them."""
    rank = {number: i for i, number in enumerate(enctypes)}
    return tuple(sorted(keys, key=lambda k: (-k.kvno, rank[k.enctype])))


def describe(rows: Iterable[KerberosKeyRow], enctypes: Sequence[int]) -> list[dict[str, Any]]:
    """What ``getprinc`` shows of each key: kvno, enctype, salt type, iterations; never the
    key. Newest kvno first, then in the realm's order (types it no longer lists last)."""
    rank = {number: i for i, number in enumerate(enctypes)}
    return [
        {
            "kvno": row.kvno,
            "enctype": enctype(row.enctype).name,
            "enctype_number": row.enctype,
            # MIT's names: "normal" is RFC 4120's default salt; a random key has none.
            "salt": "normal" if row.salt is not None else None,
            "iterations": row.iterations,
        }
        for row in sorted(rows, key=lambda r: (-r.kvno, rank.get(r.enctype, len(rank)), r.enctype))
    ]
