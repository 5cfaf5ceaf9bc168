"""Principal names: ``name[/instance...]@REALM`` (RFC 4120 §6.2, §6.1 for realms).

Orthrus accepts a deliberately narrow alphabet so that two names that look alike are the
same name: components are ASCII letters, digits and ``._-`` (plus ``:`` for host:port
service instances); realms are upper-case ``A-Z0-9.-``. Names are case-sensitive, as in MIT
Kerberos. Anything else is refused with :class:`~orthrus.errors.MalformedMessage`.
"""

from __future__ import annotations

import functools
import re

from orthrus.errors import MalformedMessage

__all__ = ["MAX_NAME_LENGTH", "Principal", "krbtgt", "named"]

MAX_NAME_LENGTH = 255
MAX_COMPONENTS = 4

_COMPONENT = re.compile(r"[A-Za-z0-9._:-]{1,128}\Z")
_REALM = re.compile(r"[A-Z0-9](?:[A-Z0-9.-]{0,125}[A-Z0-9])?\Z")


class Principal:
    """A parsed, immutable principal name; ``str()`` gives its canonical text form.

    On the wire (see :mod:`orthrus.codec`) a principal is that text form.
    """

    __slots__ = ("_hash", "_text", "components", "realm")

    components: tuple[str, ...]
    realm: str
    _text: str
    _hash: int

    def __init__(self, components: tuple[str, ...], realm: str) -> None:
        object.__setattr__(self, "components", tuple(components))
        object.__setattr__(self, "realm", realm)
        if not 1 <= len(self.components) <= MAX_COMPONENTS:
            raise MalformedMessage(f"a principal has 1 to {MAX_COMPONENTS} components")
        for component in self.components:
            if not _COMPONENT.match(component) or component in {".", ".."}:
                raise MalformedMessage(
                    f"principal component {component!r} may use only ASCII letters, digits and ._:-"
                )
        if not _REALM.match(self.realm):
            raise MalformedMessage(
                f"realm {self.realm!r} must be upper-case letters, digits, dots and hyphens"
            )
        # Immutable, so the text form and the hash are computed once (both are on every
        # hot path: dictionary keys, encoding, comparisons).
        object.__setattr__(self, "_text", f"{'/'.join(self.components)}@{self.realm}")
        object.__setattr__(self, "_hash", hash((self.components, self.realm)))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Principal is immutable")

    def _key(self) -> tuple[tuple[str, ...], str]:
        return (self.components, self.realm)

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, Principal) and self._text == other._text)

    def __lt__(self, other: Principal) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Principal({str(self)!r})"

    @classmethod
    def parse(cls, text: str, default_realm: str | None = None) -> Principal:
        """Parse ``name/instance@REALM``; a name without ``@`` takes ``default_realm``."""
        if not isinstance(text, str) or len(text) > MAX_NAME_LENGTH:
            raise MalformedMessage(f"a principal name is text of at most {MAX_NAME_LENGTH} chars")
        name, at, realm = text.rpartition("@")
        if not at:
            if default_realm is None:
                raise MalformedMessage(f"principal {text!r} has no realm; write it as name@REALM")
            name, realm = text, default_realm
        if "@" in name:
            raise MalformedMessage(f"principal {text!r} has more than one '@'")
        return cls(tuple(name.split("/")), realm)

    @property
    def name(self) -> str:
        """The name without the realm (``HTTP/www.example.com``)."""
        return "/".join(self.components)

    @property
    def is_tgs(self) -> bool:
        """True for a ticket-granting service name ``krbtgt/REALM@REALM`` (RFC 4120 §7.3)."""
        return len(self.components) == 2 and self.components[0] == "krbtgt"

    def __str__(self) -> str:
        return self._text


def krbtgt(realm: str) -> Principal:
    """The ticket-granting service of ``realm`` (RFC 4120 §7.3)."""
    return named(("krbtgt", realm), realm)


@functools.lru_cache(maxsize=1024)
def named(components: tuple[str, ...], realm: str) -> Principal:
    """The principal ``components@realm``, one instance per name while it is in use (a
    Principal is immutable): the names a KDC meets in every request — its own krbtgt, the
    clients and services named in DER (RFC 4120 §5.2.2) — are checked and hashed once, not
    once per request. A name refused (``MalformedMessage``) is not remembered."""
    return Principal(components, realm)
