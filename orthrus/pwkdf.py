"""Password to long-term key: Argon2id (RFC 9106) with a per-principal salt.

This plays the role of RFC 3961 §3 string-to-key. The KDC runs it only when a password is
set (``addprinc``/``cpw``) and stores the derived key; the client runs it at login with the
salt and parameters the KDC sends in ``KDC_ERR_PREAUTH_REQUIRED``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from orthrus.keys import KEY_SIZE, Key

__all__ = ["DEFAULT_KDF", "KDFParams", "string_to_key"]


class KDFParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Argon2id parameters, public: the KDC tells them to the client with the salt.

    Bounds keep a forged or hostile KDC answer from making the client spend unbounded
    memory or time.
    """

    salt: Annotated[bytes, msgspec.Meta(min_length=8, max_length=64)]
    algorithm: Literal["argon2id"] = "argon2id"
    iterations: Annotated[int, msgspec.Meta(ge=1, le=16)] = 3
    memory_kib: Annotated[int, msgspec.Meta(ge=1024, le=1024 * 1024)] = 64 * 1024
    lanes: Annotated[int, msgspec.Meta(ge=1, le=16)] = 4


DEFAULT_KDF = {"iterations": 3, "memory_kib": 64 * 1024, "lanes": 4}


def string_to_key(password: str, params: KDFParams, kvno: int) -> Key:
    """Derive the long-term key of version ``kvno`` from ``password`` (RFC 9106 §3)."""
    derived = Argon2id(
        salt=params.salt,
        length=KEY_SIZE,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    ).derive(password.encode("utf-8"))
    return Key(derived, kvno)
