"""A class realm: its directory, ``class.json``, and ``orthrus-lab class init``.

::

    DIR/class.json            realm, students (names only), host names, ports
    DIR/handout.txt           each student's password, written once (mode 0600)
    DIR/kdc/                  the KDC (lab = true, so that it records the trace)
    DIR/kdc/trace.jsonl       what the KDC and the services saw: the only evidence graded
    DIR/keytabs/notes.keytab  the shared service's keytab
    DIR/tls/ca.pem            the class CA (public: hand it to the students)
    DIR/tls/server.pem|.key   the servers' certificate and key
    DIR/run/, DIR/logs/       the processes ``class serve`` started

Passwords exist in clear only in the handout: the KDC keeps Argon2id keys, ``class.json``
keeps names. Each student gets a service of their own for the roasting exercise,
``HTTP/legacy-NAME``, and a user of their own for exercise 7, ``carol-NAME`` (no
pre-authentication), each keyed from a weak password drawn at random from the lab's word
list and then forgotten — one student cracking theirs learns nothing another can hand in.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from labs.classroom.certs import ClassCertificates, make_certificates
from labs.lab import KDF_OPTIONS, KERBEROS_OPTIONS, Lab
from labs.state import LabPaths, LabService, LabState, LabUser, NotALab, require_lab_realm
from orthrus.errors import ConfigError
from orthrus_io.files import write_private

__all__ = [
    "CLASS_REALM",
    "ClassState",
    "carol_principal",
    "class_paths",
    "create_class",
    "student_lab",
]

CLASS_REALM = "CLASS.TEST"
STATE_FORMAT = "orthrus-class/1"
#: Loopback names are always in the certificate: the services ask the KDC over loopback.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
WORDLIST = Path(__file__).resolve().parent.parent / "wordlists" / "common-passwords.txt"

Say = Callable[[str], None]


def class_paths(directory: str | Path) -> LabPaths:
    """A class directory has a lab's layout (kdc/, keytabs/, run/, logs/)."""
    return LabPaths.of(directory)


def state_file(paths: LabPaths) -> Path:
    return paths.root / "class.json"


def handout_file(paths: LabPaths) -> Path:
    return paths.root / "handout.txt"


def certificates(paths: LabPaths) -> ClassCertificates:
    return ClassCertificates.under(paths.root / "tls")


def notes_principal(realm: str) -> str:
    return f"HTTP/notes@{realm}"


def legacy_principal(student: str, realm: str) -> str:
    return f"HTTP/legacy-{student}@{realm}"


def carol_principal(student: str, realm: str) -> str:
    """The student's own target of exercise 7: no pre-authentication, a weak password."""
    return f"carol-{student}@{realm}"


@dataclass
class ClassState:
    """``class.json``: the realm, who is in the class, where it is served."""

    realm: str
    students: list[str]
    hosts: list[str]
    ports: dict[str, int] = field(default_factory=dict)
    host: str = ""
    created: float = 0.0

    def principal(self, student: str) -> str:
        return f"{student}@{self.realm}"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "realm": self.realm,
            "students": self.students,
            "hosts": self.hosts,
            "ports": self.ports,
            "host": self.host,
            "created": self.created,
        }

    def save(self, paths: LabPaths) -> None:
        write_private(state_file(paths), (json.dumps(self.to_json(), indent=2) + "\n").encode())

    @classmethod
    def load(cls, paths: LabPaths) -> ClassState:
        """Read ``class.json``; refuse a directory with none, or whose KDC is not a lab's."""
        path = state_file(paths)
        if not path.exists():
            raise NotALab(
                f"no class in {paths.root}: make one with: orthrus-lab class init "
                f"--dir {paths.root} --roster FILE"
            )
        try:
            data = json.loads(path.read_text())
            if data.get("format") != STATE_FORMAT:
                raise ValueError(f"format {data.get('format')!r}")
            state = cls(
                realm=str(data["realm"]),
                students=[str(s) for s in data["students"]],
                hosts=[str(h) for h in data["hosts"]],
                ports={str(k): int(v) for k, v in data["ports"].items()},
                host=str(data.get("host", "")),
                created=float(data["created"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise NotALab(f"{path} is damaged ({type(exc).__name__}: {exc})") from None
        require_lab_realm(paths)
        return state


class _StudentView(Lab):
    """A class realm seen for one student, sharing the class's open principal store."""

    def __init__(self, paths: LabPaths, state: LabState, store: Any) -> None:
        super().__init__(paths, state)
        self._store = store

    def store(self) -> Any:
        return self._store


def student_lab(paths: LabPaths, state: ClassState, student: str, store: Any) -> Lab:
    """The realm as the grader sees it for one student: that student is its only user,
    ``HTTP/notes`` and the student's own ``HTTP/legacy-NAME`` its services."""
    realm = state.realm
    view = LabState(
        realm,
        [LabUser(student, "", note="a student of the class")],
        [
            LabService("notes", notes_principal(realm), "service_demo"),
            LabService("legacy", legacy_principal(student, realm), "labs.legacy", weak=True),
        ],
    )
    return _StudentView(paths, view, store)


def _weak_passwords(minimum: int) -> list[str]:
    """The word list's passwords the realm's policy accepts (weak, but long enough)."""
    words = [w.strip() for w in WORDLIST.read_text().splitlines()]
    return [w for w in words if len(w) >= minimum and not w.startswith("#")]


def _handout(state: ClassState, passwords: dict[str, str]) -> str:
    lines = [
        f"Orthrus class realm {state.realm}: one password per student, shown once.",
        "Give each student their line and the CA certificate tls/ca.pem (public).",
        "Students join with: orthrus-lab join https://HOST:PORT --ca ca.pem",
        "",
        "student,principal,password",
    ]
    lines += [f"{s},{state.principal(s)},{passwords[s]}" for s in state.students]
    return "\n".join(lines) + "\n"


def create_class(
    paths: LabPaths, students: Sequence[str], hosts: Sequence[str], say: Say
) -> ClassState:
    """Make the class realm in ``paths``: KDC, one account per student, the services, TLS."""
    from kdc import cli as kdc_cli
    from kdc.config import load_settings
    from kdc.store import NewPrincipal, Store
    from orthrus.keytab import Keytab
    from orthrus.principal import Principal

    if state_file(paths).exists() or (paths.kdc.exists() and any(paths.kdc.iterdir())):
        raise ConfigError(
            f"{paths.root} already holds a class; use another --dir (nothing was changed)"
        )
    names = list(dict.fromkeys([*hosts, *LOOPBACK_HOSTS]))
    paths.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.redirect_stdout(io.StringIO()):
        kdc_cli.cli.main(
            # Kerberos keys as the lab's (AES-256, 4,096 PBKDF2 iterations): MIT's programs
            # log in over the Kerberos wire and the roasting lines are hashcat's (16-18).
            [
                *("--dir", str(paths.kdc), "init", "--realm", CLASS_REALM),
                *KDF_OPTIONS,
                *KERBEROS_OPTIONS,
            ],
            prog_name="orthrus-kdc",
            standalone_mode=False,
        )
    # lab = true: the KDC records the trace (the evidence) and lets the lab's clock switch work.
    settings = msgspec.structs.replace(load_settings(paths.kdc, env={}), lab=True)
    write_private(paths.kdc / "kdc.toml", settings.to_toml().encode())
    store = Store.open(settings)
    state = ClassState(
        CLASS_REALM, list(students), names, created=datetime.datetime.now(datetime.UTC).timestamp()
    )
    passwords = {s: secrets.token_urlsafe(12) for s in state.students}
    weak = _weak_passwords(settings.min_password_length)
    for student in state.students:
        principal = Principal.parse(state.principal(student))
        store.add_principal(NewPrincipal(principal, passwords[student]))
        legacy = Principal.parse(legacy_principal(student, state.realm))
        # As in the local lab, the administrator lets legacy-NAME be a ticket's server
        # although its key comes from a password: that is what exercise 11 is about.
        store.add_principal(NewPrincipal(legacy, secrets.choice(weak), allow_svr=True))
        # Exercise 7's carol, one per student: no pre-authentication, a weak password.
        carol = Principal.parse(carol_principal(student, state.realm))
        store.add_principal(NewPrincipal(carol, secrets.choice(weak), requires_preauth=False))
    notes = Principal.parse(notes_principal(state.realm))
    store.add_principal(NewPrincipal(notes))
    keytab = Keytab().merged(store.keytab_entries(notes), store.signer().jwks())
    write_private(paths.keytab("notes"), keytab.to_bytes())
    paths.service_dir().mkdir(exist_ok=True, mode=0o700)
    make_certificates(certificates(paths), names, datetime.datetime.now(datetime.UTC))
    write_private(handout_file(paths), _handout(state, passwords).encode())
    state.save(paths)
    say(
        f"Created class realm {state.realm} in {paths.root}: {len(state.students)} students; "
        f"their passwords are in {handout_file(paths)} (mode 0600, the only copy); "
        f"students trust {certificates(paths).ca}"
    )
    return state
