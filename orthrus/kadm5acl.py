"""Who may administer what: the KDC's ACL file, in the manner of MIT's ``kadm5.acl``.

One entry a line: a principal pattern, the operations it is granted, and an optional target
pattern (which principals it may act on; every principal when left out)::

    */admin@EXAMPLE.TEST   *
    helpdesk@EXAMPLE.TEST  ci  *@EXAMPLE.TEST

A ``*`` in a pattern stands for any run of characters within one name component or the
realm (it never matches a ``/`` or an ``@``): ``*@R`` matches ``bob@R`` but not
``joe/admin@R`` nor ``HTTP/web@R``; a pattern that is ``*`` alone matches every principal.
A pattern without ``@`` is in the KDC's realm. Operations are MIT's letters: ``a`` add,
``d`` delete, ``m`` modify, ``i`` inquire, ``l`` list, ``c`` change password or key, ``e``
extract keys; ``x`` or ``*`` is all of them. A request is allowed when any entry whose
patterns match grants its letter (there are no negative entries, so order does not matter).
``#`` starts a comment. Parsing is strict: a line that is not understood is an error naming
it, and the KDC then refuses every admin request rather than guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from orthrus.principal import Principal

__all__ = ["ALL_OPERATIONS", "OPERATION_NAMES", "ACLEntry", "ACLError", "AdminACL"]

#: The operation letters and what they allow (MIT's kadm5.acl letters).
OPERATION_NAMES = {
    "a": "add principals",
    "d": "delete principals",
    "m": "modify principals",
    "i": "inquire about principals",
    "l": "list principals",
    "c": "change passwords and keys",
    "e": "extract keys",
}
ALL_OPERATIONS = frozenset(OPERATION_NAMES)
_ALL = frozenset("x*")


class ACLError(ValueError):
    """An ACL file line that cannot be understood; the message names the line."""


def _pattern(text: str, realm: str) -> re.Pattern[str]:
    if "@" not in text and text != "*":
        text = f"{text}@{realm}"
    if text == "*":
        return re.compile(r".*\Z", re.DOTALL)
    return re.compile("".join("[^/@]*" if c == "*" else re.escape(c) for c in text) + r"\Z")


@dataclass(frozen=True, slots=True)
class ACLEntry:
    """One line: who, which operations, on whom."""

    principal: re.Pattern[str]
    operations: frozenset[str]
    target: re.Pattern[str]
    line: int

    def grants(self, admin: Principal, operation: str, target: Principal | None) -> bool:
        """True if this line lets ``admin`` do ``operation`` on ``target`` (None: no target,
        as for list)."""
        if operation not in self.operations or not self.principal.match(str(admin)):
            return False
        return target is None or self.target.match(str(target)) is not None


@dataclass(frozen=True, slots=True)
class AdminACL:
    """The parsed ACL file of a realm."""

    entries: tuple[ACLEntry, ...]

    @classmethod
    def parse(cls, text: str, realm: str) -> AdminACL:
        """Parse the file's text; patterns without ``@`` are in ``realm``."""
        entries = []
        for number, raw in enumerate(text.splitlines(), start=1):
            fields = raw.split("#", 1)[0].split()
            if not fields:
                continue
            if len(fields) not in (2, 3):
                raise ACLError(
                    f"line {number}: expected 'PRINCIPAL OPERATIONS [TARGET]', got {raw.strip()!r}"
                )
            letters = set(fields[1])
            unknown = letters - ALL_OPERATIONS - _ALL
            if unknown:
                raise ACLError(
                    f"line {number}: unknown operation {''.join(sorted(unknown))!r}; use "
                    f"{''.join(sorted(ALL_OPERATIONS))}, or x or * for all"
                )
            operations = ALL_OPERATIONS if letters & _ALL else frozenset(letters)
            target = fields[2] if len(fields) == 3 else "*"
            entries.append(
                ACLEntry(_pattern(fields[0], realm), operations, _pattern(target, realm), number)
            )
        return cls(tuple(entries))

    def allows(self, admin: Principal, operation: str, target: Principal | None = None) -> bool:
        """True if some entry lets ``admin`` do ``operation`` (a letter) on ``target``."""
        if operation not in ALL_OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")
        return any(entry.grants(admin, operation, target) for entry in self.entries)
