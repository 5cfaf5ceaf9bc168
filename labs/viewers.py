"""Who a lab's trace is decoded as: the keys each viewer really holds (RFC 4120 §1.1, §3).

In a local lab (``orthrus-lab trace --as V``, the page's "Decode as") a viewer is one of:

- a **user** of the lab (``alice``): their password, hence their long-term key and every
  session key the KDC handed them;
- a **service** of the lab (``notes``, ``legacy``): its own keytab, hence every ticket sealed
  for it, the session keys inside, the authenticators under those — what that service itself
  opens and checks, including a forged ticket's KDC-signature verdict;
- the **KDC** (``kdc``): krbtgt's key and every principal's, as the KDC holds them — only once
  an exercise has handed the student the krbtgt key (exercise 12 exports it to
  ``lab/keytabs/krbtgt.keytab``).

There is no instructor in a local lab: the every-key view is the class instructor's, on the
class dashboard behind its token (:mod:`labs.classroom.dashboard`). Asking for a view one
does not hold is refused with :class:`ViewerRefused`, saying why and what to pick instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from labs.decode import KeySource, KeytabKeys, PasswordKeys, StoreKeys
from labs.lab import Lab
from orthrus.errors import ConfigError

__all__ = [
    "INSTRUCTOR",
    "KDC",
    "KRBTGT_KEYTAB",
    "Viewer",
    "ViewerRefused",
    "instructor_viewer",
    "local_viewer",
    "local_viewers",
]

#: The class instructor's every-key view (class mode only).
INSTRUCTOR = "instructor"
#: The KDC's view: krbtgt's key and every principal's.
KDC = "kdc"
#: The keytab exercise 12 exports the krbtgt key to (``lab/keytabs/krbtgt.keytab``).
KRBTGT_KEYTAB = "krbtgt"


class ViewerRefused(ConfigError):
    """A view the asker does not hold the keys of (the message says which to pick)."""


@dataclass(frozen=True, slots=True)
class Viewer:
    """A viewer: its name (``--as``), who it is, and the long-term keys it holds (made when
    a trace is decoded, not when the views are listed)."""

    name: str
    holder: str
    keys: Callable[[], KeySource]
    label: str

    def to_json(self) -> dict[str, str]:
        return {"value": self.name, "label": self.label}


NO_INSTRUCTOR = (
    "a local lab has no instructor view: decode as a user (their password), a service (its "
    "own keytab) or kdc (once exercise 12 hands you the krbtgt key); the every-key view is "
    "the class instructor's, on the class dashboard"
)


def _kdc_handed(lab: Lab) -> bool:
    return lab.paths.keytab(KRBTGT_KEYTAB).exists()


def local_viewers(lab: Lab) -> list[Viewer]:
    """Every view a student of this local lab may pick, in the page's order."""
    realm = lab.state.realm
    viewers = [
        Viewer(
            user.name,
            user.principal(realm),
            partial(PasswordKeys, {user.principal(realm): user.password}),
            f"{user.principal(realm)} ({user.note})",
        )
        for user in lab.state.users
    ]
    viewers += [
        Viewer(
            service.name,
            service.principal,
            partial(KeytabKeys, [lab.paths.keytab(service.name)]),
            f"{service.principal} (service: its keytab)",
        )
        for service in lab.state.services
    ]
    if _kdc_handed(lab):
        viewers.append(
            Viewer(KDC, "the KDC", lambda: StoreKeys(lab.store()), "the KDC (krbtgt and every key)")
        )
    return viewers


def local_viewer(lab: Lab, name: str) -> Viewer:
    """The view ``name`` of this local lab; :class:`ViewerRefused` if the student does not
    hold its keys (``instructor``; ``kdc`` before exercise 12), ``ConfigError`` if it names
    nobody."""
    if name == INSTRUCTOR:
        raise ViewerRefused(NO_INSTRUCTOR)
    found = next((v for v in local_viewers(lab) if name in (v.name, v.holder)), None)
    if found is not None:
        return found
    if name == KDC:
        raise ViewerRefused(
            "the KDC's view needs the krbtgt key, which exercise 12 hands you: "
            f"orthrus-kdc --dir {lab.paths.kdc} ktadd -k {lab.paths.keytab(KRBTGT_KEYTAB)} "
            f"krbtgt/{lab.state.realm}"
        )
    users = ", ".join(u.name for u in lab.state.users)
    services = ", ".join(s.name for s in lab.state.services)
    raise ConfigError(
        f"the lab has no viewer {name!r}: pick a user ({users}), a service ({services}) or kdc"
    )


def instructor_viewer(store: Any) -> Viewer:
    """The class instructor's view: every key of the class realm's KDC database."""
    return Viewer(
        INSTRUCTOR, "the instructor (every key)", lambda: StoreKeys(store), "instructor (every key)"
    )
