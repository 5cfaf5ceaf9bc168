"""The lab directory: its layout, and ``lab.json``, what ``orthrus-lab up`` created.

::

    lab/lab.json              realm, users and their lab passwords, services (never a
                              service's password), ports, switches
    lab/kdc/                  the KDC (kdc.toml with lab = true, database, master key)
    lab/kdc/trace.jsonl       the trace: one JSON line per exchange (orthrus_io.trace)
    lab/keytabs/NAME.keytab   each service's keytab
    lab/keytabs/realm.keytab  every Kerberos key of the realm, MIT format (for tshark)
    lab/krb5.conf             MIT's settings for the lab realm (its KDC's Kerberos port)
    lab/users/NAME.ccache     each user's credential cache
    lab/services/             the services' databases and audit logs
    lab/run/NAME.pid          the processes the lab started (JSON: pid, port, start time)
    lab/logs/NAME.log         their output
    lab/activity.jsonl        what the lab's own tools did (decode, crack, forge...), for grading

A directory whose KDC is not a lab realm (``lab = false``) is refused by every lab command.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orthrus.errors import ConfigError
from orthrus_io.files import write_private
from orthrus_io.trace import TRACE_NAME

__all__ = [
    "DEFAULT_DIR",
    "KDC_SWITCHES",
    "LAB_REALM",
    "SERVICE_NAMES",
    "SWITCHES",
    "SWITCH_FLAGS",
    "LabPaths",
    "LabService",
    "LabState",
    "LabUser",
    "NotALab",
    "default_services",
    "default_users",
    "service_switches",
]

DEFAULT_DIR = "lab"
LAB_REALM = "LAB.TEST"
STATE_FORMAT = "orthrus-lab/1"
#: The processes of a lab, in the order they start (the KDC first: services ask it).
PROCESS_NAMES = ("kdc", "notes", "legacy", "impostor")
SERVICE_NAMES = ("notes", "legacy")
#: Each lab switch and its state when nobody has switched it: a service's defences are on; of
#: the KDC's, lockout is on and the others off, as in a new realm (``orthrus-kdc init``).
SWITCH_DEFAULTS: dict[str, dict[str, str]] = {
    "service": {
        "replay-cache": "on",
        "authz": "on",
        "authenticator": "on",
        "session-key": "on",
        "timestamp": "on",
    },
    "kdc": {"lockout": "on", "hide-unknown": "off", "rate-limit": "off", "tgt-signature": "on"},
}
SWITCHES = tuple(SWITCH_DEFAULTS["service"])
KDC_SWITCHES = tuple(SWITCH_DEFAULTS["kdc"])
#: The Dialogue track's switches (docs/labs/dialogue.md): legacy, the archive, has them; notes
#: (service_demo, the product's own example) does not.
DIALOGUE_SWITCHES = ("authenticator", "session-key", "timestamp")
#: The flag of each service switch when it is off (labs.legacy, service_demo).
SWITCH_FLAGS = {
    "replay-cache": "--lab-no-replay-cache",
    "authz": "--lab-unsigned-authz",
    "authenticator": "--lab-no-authenticator",
    "session-key": "--lab-no-session-key",
    "timestamp": "--lab-no-timestamp",
}


def service_switches(name: str) -> tuple[str, ...]:
    """The switches of the lab's service ``name``."""
    if name == "legacy":
        return SWITCHES
    return tuple(s for s in SWITCHES if s not in DIALOGUE_SWITCHES)


class NotALab(ConfigError):
    """The directory holds no lab, or one that is not up; the message says what to run."""


@dataclass(frozen=True, slots=True)
class LabUser:
    """A user of the lab realm, with its lab password (shown to the student on purpose)."""

    name: str
    password: str
    preauth: bool = True
    groups: tuple[str, ...] = ()
    note: str = ""

    def principal(self, realm: str) -> str:
        return f"{self.name}@{realm}"


@dataclass(frozen=True, slots=True)
class LabService:
    """A service of the lab: its principal, what runs it, and how its key was made.

    ``password`` (a weak one, for the roasting exercise) is only used to create the key: it
    is never saved, so that reading ``lab.json`` does not answer exercise 11; ``weak`` is
    what the grader needs to know (it checks a cracked answer against the KDC's key).
    """

    name: str
    principal: str
    app: str
    password: str | None = field(default=None, repr=False)
    note: str = ""
    weak: bool = False


def default_users() -> list[LabUser]:
    """alice and bob (plain users), carol (no pre-authentication, a weak password), dave
    (group admins), erin (a common password, for spraying)."""
    return [
        LabUser("alice", "alice-lab-pass", note="a student"),
        LabUser("bob", "bob-lab-pass", note="another student"),
        LabUser(
            "carol",
            "sunshine",
            preauth=False,
            note="no pre-authentication and a weak password (exercise 7)",
        ),
        LabUser("dave", "dave-lab-pass", groups=("admins",), note="in group admins"),
        LabUser(
            "erin",
            "password1",  # a lab password, common on purpose
            note="a password from every list of common ones (exercise 15)",
        ),
    ]


def default_services(realm: str) -> list[LabService]:
    """notes (service_demo, random key) and legacy (a key from a weak password)."""
    return [
        LabService("notes", f"HTTP/notes@{realm}", "service_demo", note="service_demo, random key"),
        LabService(
            "legacy",
            f"HTTP/legacy@{realm}",
            "labs.legacy",
            password="baseball1",  # noqa: S106 - a lab password, weak on purpose
            weak=True,
            note="an old archive whose key comes from a weak password (exercise 11)",
        ),
    ]


@dataclass(frozen=True, slots=True)
class LabPaths:
    """Where everything of one lab lives."""

    root: Path

    @classmethod
    def of(cls, directory: str | Path) -> LabPaths:
        return cls(Path(directory).expanduser().resolve())

    @property
    def state(self) -> Path:
        return self.root / "lab.json"

    @property
    def kdc(self) -> Path:
        return self.root / "kdc"

    @property
    def trace(self) -> Path:
        return self.kdc / TRACE_NAME

    @property
    def activity(self) -> Path:
        return self.root / "activity.jsonl"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def krb5_conf(self) -> Path:
        return self.root / "krb5.conf"

    @property
    def mit_keytab(self) -> Path:
        return self.root / "keytabs" / "realm.keytab"

    def mit_ccache(self, user: str) -> Path:
        return self.root / "users" / f"{user}.krb5cc"

    def keytab(self, service: str) -> Path:
        return self.root / "keytabs" / f"{service}.keytab"

    def ccache(self, user: str) -> Path:
        return self.root / "users" / f"{user}.ccache"

    def service_dir(self) -> Path:
        return self.root / "services"

    def pidfile(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"


@dataclass
class LabState:
    """``lab.json``: what ``up`` created and how it runs now."""

    realm: str
    users: list[LabUser]
    services: list[LabService]
    ports: dict[str, int] = field(default_factory=dict)
    switches: dict[str, dict[str, str]] = field(default_factory=dict)
    created: float = 0.0

    def user(self, name: str) -> LabUser:
        """A user by name or principal; ``NotALab`` (naming the users) if unknown."""
        short = name.split("@", 1)[0]
        for user in self.users:
            if user.name == short:
                return user
        known = ", ".join(u.name for u in self.users)
        raise ConfigError(f"the lab has no user {name!r}; its users are {known}")

    def service(self, name: str) -> LabService:
        for service in self.services:
            if name in (service.name, service.principal, service.principal.split("@")[0]):
                return service
        known = ", ".join(s.name for s in self.services)
        raise ConfigError(f"the lab has no service {name!r}; its services are {known}")

    def switch(self, component: str, switch: str) -> str:
        """``on`` or ``off``: ``component`` is ``kdc`` or a service's name."""
        default = SWITCH_DEFAULTS["kdc" if component == "kdc" else "service"][switch]
        return self.switches.get(component, {}).get(switch, default)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "realm": self.realm,
            "created": self.created,
            "ports": self.ports,
            "switches": self.switches,
            "users": [
                {
                    "name": u.name,
                    "password": u.password,
                    "preauth": u.preauth,
                    "groups": list(u.groups),
                    "note": u.note,
                }
                for u in self.users
            ],
            "services": [
                {
                    "name": s.name,
                    "principal": s.principal,
                    "app": s.app,
                    "weak": s.weak,
                    "note": s.note,
                }
                for s in self.services
            ],
        }

    def save(self, paths: LabPaths) -> None:
        write_private(paths.state, (json.dumps(self.to_json(), indent=2) + "\n").encode())

    @classmethod
    def load(cls, paths: LabPaths) -> LabState:
        """Read ``lab.json``; refuse a directory with no lab, or whose realm is not a lab."""
        if not paths.state.exists():
            raise NotALab(
                f"no lab in {paths.root}: start one with: orthrus-lab up --dir {_shown(paths)}"
            )
        try:
            data = json.loads(paths.state.read_text())
            state = cls(
                realm=data["realm"],
                users=[
                    LabUser(u["name"], u["password"], u["preauth"], tuple(u["groups"]), u["note"])
                    for u in data["users"]
                ],
                services=[
                    LabService(
                        s["name"], s["principal"], s["app"], note=s["note"], weak=bool(s["weak"])
                    )
                    for s in data["services"]
                ],
                ports={str(k): int(v) for k, v in data["ports"].items()},
                switches=data.get("switches", {}),
                created=float(data.get("created", 0.0)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise NotALab(
                f"{paths.state} is damaged ({type(exc).__name__}: {exc}); start over with: "
                f"orthrus-lab reset --dir {_shown(paths)}"
            ) from None
        require_lab_realm(paths)
        return state


def require_lab_realm(paths: LabPaths) -> None:
    """Refuse a KDC directory whose ``kdc.toml`` does not say ``lab = true``."""
    from kdc.config import load_settings

    settings = load_settings(paths.kdc, env={})
    if not settings.lab:
        raise NotALab(
            f"the realm in {paths.kdc} was not created as a lab (kdc.toml has lab = false): "
            "lab commands refuse it; make a lab with: orthrus-lab up --dir NEW_DIR"
        )


def _shown(paths: LabPaths) -> str:
    try:
        relative = os.path.relpath(paths.root)
    except ValueError:
        return str(paths.root)
    return str(paths.root) if relative.startswith("..") else relative
