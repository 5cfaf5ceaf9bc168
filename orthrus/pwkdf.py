"""Password to long-term key: Argon2id (RFC 9106) with a salt bound to the principal.

This plays the role of RFC 3961 §3 string-to-key. The KDC runs it only when a password is
set (``addprinc``/``cpw``) and stores the derived key; the client runs it at login with the
random salt part and parameters the KDC sends in ``KDC_ERR_PREAUTH_REQUIRED``.

That answer is not authenticated (RFC 4120 §5.2.7.2 leaves it in the clear), so a fake KDC
chooses what is in it. Two defences here:

- the salt Argon2id gets is the principal's realm and name followed by the KDC's random part
  (:func:`salt_for`, after RFC 3962 §4's default salt ``realm || name``), built by the client
  from the name it asked for: a KDC cannot make two principals share a salt, so one
  precomputed table does not serve for every victim;
- the client checks the parameters against its :class:`KDFPolicy` (:func:`check_params`)
  before deriving: a floor, so a fake KDC cannot make the encrypted timestamp it gets cheap to
  guess against offline, and a ceiling, so it cannot make one login take minutes and
  gigabytes. MIT krb5 refuses string-to-key parameters it deems unsafe in the same place
  (``KRB5_ERR_BAD_S2K_PARAMS``).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from orthrus.errors import KDCError
from orthrus.keys import KEY_SIZE, Key
from orthrus.principal import Principal

__all__ = [
    "DEFAULT_ITERATIONS",
    "DEFAULT_LANES",
    "DEFAULT_MEMORY_KIB",
    "LEGACY_SALT_BYTES",
    "MAX_ITERATIONS",
    "MAX_LANES",
    "MAX_MEMORY_KIB",
    "SALT_BYTES",
    "KDFParams",
    "KDFPolicy",
    "check_params",
    "is_legacy_salt",
    "salt_for",
    "string_to_key",
]

#: Hard bounds of the wire format: no KDC answer outside them even decodes.
MAX_ITERATIONS = 16
MAX_MEMORY_KIB = 1024 * 1024
MAX_LANES = 16

#: The project's default costs (RFC 9106 §4, second recommended option: 64 MiB, t=3). They
#: are also the floor every client holds a KDC to.
DEFAULT_ITERATIONS = 3
DEFAULT_MEMORY_KIB = 64 * 1024
DEFAULT_LANES = 4

#: Length of the random salt part the KDC draws for a new password key.
SALT_BYTES = 32
#: Length of the salts of keys made before the salt was bound to the principal: such keys
#: no longer match what a client derives; an administrator must reset them (``cpw``).
LEGACY_SALT_BYTES = 16


class KDFParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Argon2id parameters, public: the KDC tells them to the client with its salt part.

    ``salt`` is the KDC's random part only; :func:`salt_for` puts the principal in front.
    """

    salt: Annotated[bytes, msgspec.Meta(min_length=8, max_length=64)]
    algorithm: Literal["argon2id"] = "argon2id"
    iterations: Annotated[int, msgspec.Meta(ge=1, le=MAX_ITERATIONS)] = DEFAULT_ITERATIONS
    memory_kib: Annotated[int, msgspec.Meta(ge=1024, le=MAX_MEMORY_KIB)] = DEFAULT_MEMORY_KIB
    lanes: Annotated[int, msgspec.Meta(ge=1, le=MAX_LANES)] = DEFAULT_LANES


class KDFPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The Argon2id costs a client accepts from a KDC (``[client.kdf]`` in ``client.toml``).

    The floor (``min_*``) can be raised, never lowered below the project's defaults
    (:data:`DEFAULT_ITERATIONS`, :data:`DEFAULT_MEMORY_KIB`). Lanes have a ceiling and no
    floor: they split the same memory and passes into parallel lanes, so an attacker's work
    per guess does not depend on them.
    """

    min_iterations: int = DEFAULT_ITERATIONS
    min_memory_kib: int = DEFAULT_MEMORY_KIB
    max_iterations: int = 8
    max_memory_kib: int = 256 * 1024
    max_lanes: int = 8

    def __post_init__(self) -> None:
        bounds = (  # name, this policy's floor, the project's floor, ceiling, hard limit
            ("iterations", self.min_iterations, DEFAULT_ITERATIONS, self.max_iterations),
            ("memory_kib", self.min_memory_kib, DEFAULT_MEMORY_KIB, self.max_memory_kib),
            ("lanes", 1, 1, self.max_lanes),
        )
        limits = {"iterations": MAX_ITERATIONS, "memory_kib": MAX_MEMORY_KIB, "lanes": MAX_LANES}
        for name, low, floor, high in bounds:
            if low < floor:
                raise ValueError(
                    f"min_{name} = {low} would lower the floor below the project's default "
                    f"({floor}); the floor can only be raised"
                )
            if not low <= high <= limits[name]:
                raise ValueError(f"max_{name} = {high} must be between {low} and {limits[name]}")


def check_params(params: KDFParams, policy: KDFPolicy) -> None:
    """Refuse ``params`` outside ``policy`` before anything is derived with them.

    Raises ``KDC_ERR_ETYPE_NOSUPP`` (RFC 4120 §7.5.9): the string-to-key parameters of the
    key's type (RFC 3961 §3) are not ones this client supports.
    """
    checks = (
        ("iterations", params.iterations, policy.min_iterations, policy.max_iterations),
        ("memory_kib", params.memory_kib, policy.min_memory_kib, policy.max_memory_kib),
        ("lanes", params.lanes, 1, policy.max_lanes),
    )
    for name, value, low, high in checks:
        if value < low:
            raise KDCError(
                "KDC_ERR_ETYPE_NOSUPP",
                f"the KDC asked for Argon2id {name} = {value}, below this client's floor "
                f"(min_{name} = {low}): keys that cheap let whoever gets the encrypted "
                "timestamp guess the password offline. The likely cause is a fake KDC "
                "(KDC spoofing): check ORTHRUS_KDC_URL and the network, and tell the realm's "
                "administrators",
            )
        if value > high:
            raise KDCError(
                "KDC_ERR_ETYPE_NOSUPP",
                f"the KDC asked for Argon2id {name} = {value}, above this client's ceiling "
                f"(max_{name} = {high}). The likely cause is a fake KDC (KDC spoofing) "
                "trying to exhaust this machine: check ORTHRUS_KDC_URL; if the realm really "
                "uses these costs, raise the max_* keys of [client.kdf] in client.toml",
            )


def salt_for(principal: Principal, random_part: bytes) -> bytes:
    """The Argon2id salt of ``principal``'s key: realm and name components, then the KDC's
    random part.

    RFC 3962 §4's default salt is the realm and components concatenated, which is ambiguous
    (``EX.TESTA`` + ``lice`` = ``EX.TEST`` + ``Alice``); each part here ends with a NUL,
    which neither a realm nor a component may contain (:mod:`orthrus.principal`).
    """
    name = b"".join(part.encode() + b"\0" for part in (principal.realm, *principal.components))
    return name + random_part


def string_to_key(password: str, principal: Principal, params: KDFParams, kvno: int) -> Key:
    """Derive ``principal``'s long-term key of version ``kvno`` from ``password`` (RFC 9106 §3)."""
    derived = Argon2id(
        salt=salt_for(principal, params.salt),
        length=KEY_SIZE,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    ).derive(password.encode("utf-8"))
    return Key(derived, kvno)


def is_legacy_salt(random_part: bytes) -> bool:
    """True for the salt of a key made before salts were bound to principals: no client
    derives that key any more, an administrator must reset it (``cpw``)."""
    return len(random_part) == LEGACY_SALT_BYTES
