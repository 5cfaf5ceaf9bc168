"""Creating, starting, stopping and describing a lab realm.

``up`` creates (once) a realm whose ``kdc.toml`` says ``lab = true``, with the cheapest
Argon2id parameters clients accept (the project's default costs), its users and two
services with their keytabs; then it starts the KDC, the two services and the impostor
on free loopback ports. Running ``up`` again starts only what is not running.
"""

from __future__ import annotations

import contextlib
import io
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from labs.procs import (
    ProcInfo,
    choose_port,
    python_command,
    read_proc,
    running,
    start_process,
    stop_process,
    stop_processes,
    wait_ready,
)
from labs.state import (
    KDC_SWITCHES,
    LAB_REALM,
    PROCESS_NAMES,
    SERVICE_NAMES,
    SWITCH_FLAGS,
    LabPaths,
    LabState,
    NotALab,
    default_services,
    default_users,
    service_switches,
)
from orthrus.errors import ConfigError
from orthrus_io.files import write_private

__all__ = [
    "DEFAULT_PORT_BASE",
    "KDF_OPTIONS",
    "Lab",
    "ProcessStatus",
    "create_lab",
    "krb5_conf",
    "lab_env",
    "start_lab",
    "stop_lab",
    "write_kdc_switches",
    "write_mit_keytab",
]

#: Argon2id for the lab: the floor every client holds a KDC to (64 MiB, three passes; see
#: orthrus.pwkdf.KDFPolicy), on one lane. Nothing cheaper: a client of a lab realm keeps
#: the floor, since a fake KDC could claim to be a lab. A login takes about 0.3 s, and so
#: does each guess of exercise 7: the cost a real realm has.
KDF_OPTIONS = ("--kdf-lanes", "1")
#: The lab's Kerberos keys: RFC 3962's AES-256 type at 4,096 PBKDF2 iterations, the defaults
#: of MIT and Active Directory. They are what hashcat's and john's formats for AS-REP roasting
#: and Kerberoasting assume (``$krb5asrep$18$``, ``$krb5tgs$18$``: 4,096 iterations, salt
#: REALM + name), so the lines ``orthrus-lab roast`` writes are the ones those tools read.
KERBEROS_OPTIONS = ("--enctypes", "aes256-cts-hmac-sha1-96", "--kerberos-iterations", "4096")
DEFAULT_PORT_BASE = 8800
_PORT_OFFSETS = {"kdc": 0, "notes": 1, "legacy": 2, "impostor": 3, "web": 4, "kerberos": 5}

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    name: str
    running: bool
    pid: int | None
    port: int | None
    url: str | None


class Lab:
    """A lab directory and its state."""

    #: The CA its KDC's certificate is checked with ("" for a local lab: plain HTTP on
    #: loopback; a joined class server's CA, see labs.classroom.joined).
    ca_file = ""

    def __init__(self, paths: LabPaths, state: LabState) -> None:
        self.paths = paths
        self.state = state

    def http_verify(self) -> ssl.SSLContext | bool:
        """What ``httpx`` checks the KDC's certificate with."""
        from orthrus_io.tls import client_ssl_context

        return client_ssl_context(self.ca_file) if self.ca_file else True

    @classmethod
    def open(cls, paths: LabPaths) -> Lab:
        """The lab in ``paths`` (``NotALab`` if there is none or it is not a lab realm)."""
        return cls(paths, LabState.load(paths))

    def processes(self) -> list[ProcessStatus]:
        out = []
        for name in (*PROCESS_NAMES, "web"):
            info = read_proc(self.paths, name)
            alive = info is not None and running(info)
            out.append(
                ProcessStatus(
                    name,
                    alive,
                    info.pid if info else None,
                    info.port if info else None,
                    info.url if info and alive else None,
                )
            )
        return out

    def is_up(self) -> bool:
        return all(p.running for p in self.processes() if p.name in PROCESS_NAMES)

    def require_up(self) -> None:
        """``NotALab`` naming the stopped processes, and how to start them."""
        down = [p.name for p in self.processes() if p.name in PROCESS_NAMES and not p.running]
        if down:
            raise NotALab(
                f"the lab in {self.paths.root} is not up ({', '.join(down)} not running): "
                f"start it with: orthrus-lab up --dir {self.paths.root}"
            )

    def url(self, name: str) -> str:
        info = read_proc(self.paths, name)
        if info is None or not running(info):
            raise NotALab(
                f"{name} of the lab in {self.paths.root} is not running: start the lab with: "
                f"orthrus-lab up --dir {self.paths.root}"
            )
        return info.url

    def store(self) -> Any:
        """The KDC's principal store (for the grader and the lab's admin steps)."""
        from kdc.config import load_settings
        from kdc.store import Store

        return Store.open(load_settings(self.paths.kdc, env={}))

    def status_json(self) -> dict[str, Any]:
        return {
            "dir": str(self.paths.root),
            "realm": self.state.realm,
            "up": self.is_up(),
            "trace": str(self.paths.trace),
            "kdc_dir": str(self.paths.kdc),
            "kerberos_port": self.state.ports.get("kerberos"),
            "krb5_conf": str(self.paths.krb5_conf),
            "mit_keytab": str(self.paths.mit_keytab),
            "kdc_switches": {s: self.state.switch("kdc", s) for s in KDC_SWITCHES},
            "processes": {
                p.name: {"running": p.running, "pid": p.pid, "port": p.port, "url": p.url}
                for p in self.processes()
            },
            "services": {
                s.name: {
                    "principal": s.principal,
                    "keytab": str(self.paths.keytab(s.name)),
                    "switches": {
                        switch: self.state.switch(s.name, switch)
                        for switch in service_switches(s.name)
                    },
                    "note": s.note,
                }
                for s in self.state.services
            },
            "users": {
                u.name: {
                    "principal": u.principal(self.state.realm),
                    "password": u.password,
                    "preauth": u.preauth,
                    "groups": list(u.groups),
                    "ccache": str(self.paths.ccache(u.name)),
                    "note": u.note,
                }
                for u in self.state.users
            },
        }


def create_lab(paths: LabPaths, say: Say, realm: str = LAB_REALM) -> LabState:
    """Make the lab realm: ``orthrus-kdc init`` (marked ``lab = true``), users, services."""
    from kdc import cli as kdc_cli
    from kdc.config import load_settings
    from kdc.store import NewPrincipal, Store
    from orthrus.keytab import Keytab
    from orthrus.principal import Principal

    if paths.kdc.exists() and any(paths.kdc.iterdir()):
        raise NotALab(
            f"{paths.kdc} already holds files but {paths.state} is missing: the lab is damaged; "
            f"start over with: orthrus-lab reset --dir {paths.root}"
        )
    paths.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        kdc_cli.cli.main(
            ["--dir", str(paths.kdc), "init", "--realm", realm, *KDF_OPTIONS, *KERBEROS_OPTIONS],
            prog_name="orthrus-kdc",
            standalone_mode=False,
        )
    settings = msgspec.structs.replace(load_settings(paths.kdc, env={}), lab=True)
    write_private(paths.kdc / "kdc.toml", settings.to_toml().encode())
    store = Store.open(settings)
    state = LabState(realm, default_users(), default_services(realm), created=time.time())
    for user in state.users:
        store.add_principal(
            NewPrincipal(
                Principal.parse(user.principal(realm)), user.password, user.preauth, user.groups
            )
        )
    jwks = store.signer().jwks()
    for service in state.services:
        principal = Principal.parse(service.principal)
        # The lab's administrator lets its services be tickets' servers even when their key
        # comes from a password (legacy): exercise 11 is about what that allows.
        store.add_principal(NewPrincipal(principal, service.password, allow_svr=True))
        keytab = Keytab().merged(store.keytab_entries(principal), jwks)
        write_private(paths.keytab(service.name), keytab.to_bytes())
    for directory in (paths.root / "users", paths.service_dir()):
        directory.mkdir(exist_ok=True, mode=0o700)
    write_mit_keytab(paths, state)
    state.save(paths)
    say(f"Created lab realm {realm} in {paths.root} (kdc.toml: lab = true)")
    return state


#: What each KDC switch sets in ``kdc.toml``, on and off. A rate limit is only felt by the
#: addresses it does not exempt, and lab clients are on loopback: on, it exempts nobody and
#: is low enough for a spray of a few names to run into it; off, it is a new realm's.
_KDC_SWITCH_SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "lockout": {"on": {"lockout_attempts": 5}, "off": {"lockout_attempts": 0}},
    "hide-unknown": {
        "on": {"hide_unknown_principals": True},
        "off": {"hide_unknown_principals": False},
    },
    "rate-limit": {
        "on": {"rate_limit": "10/hour", "rate_limit_exempt": ""},
        "off": {"rate_limit": "20/second;600/minute", "rate_limit_exempt": "127.0.0.1,::1"},
    },
    "tgt-signature": {"on": {"lab_unsigned_tgts": False}, "off": {"lab_unsigned_tgts": True}},
}


def write_kdc_switches(lab: Lab) -> None:
    """Write the lab's KDC switches into its ``kdc.toml`` (the KDC reads it when it starts)."""
    from kdc.config import load_settings

    changes: dict[str, Any] = {}
    for switch in KDC_SWITCHES:
        changes.update(_KDC_SWITCH_SETTINGS[switch][lab.state.switch("kdc", switch)])
    settings = msgspec.structs.replace(load_settings(lab.paths.kdc, env={}), **changes)
    write_private(lab.paths.kdc / "kdc.toml", settings.to_toml().encode())


def krb5_conf(realm: str, host: str, port: int) -> str:
    """The ``krb5.conf`` MIT's programs need for a lab or class realm: its KDC on ``host``'s
    Kerberos ``port`` (UDP, then TCP for large replies: RFC 4120 §7.2), and nothing from DNS."""
    shown = f"[{host}]" if ":" in host else host
    return (
        "# The lab realm for MIT's kinit, klist, kvno (export KRB5_CONFIG=this file)\n"
        "[libdefaults]\n"
        f"    default_realm = {realm}\n"
        "    dns_lookup_kdc = false\n"
        "    dns_lookup_realm = false\n"
        "    dns_canonicalize_hostname = false\n"
        "    rdns = false\n"
        "[realms]\n"
        f"    {realm} = {{\n"
        f"        kdc = {shown}:{port}\n"
        "    }\n"
    )


def write_mit_keytab(paths: LabPaths, state: LabState) -> None:
    """``keytabs/realm.keytab``: every Kerberos key of the lab realm (krbtgt, the services,
    the users) as an MIT keytab, for Wireshark's and tshark's Kerberos decryption
    (``-o kerberos.file:...``). It is the whole realm: a lab file, never a real realm's."""
    from kdc import cli as kdc_cli

    names = [
        f"krbtgt/{state.realm}",
        *(s.principal for s in state.services),
        *(u.principal(state.realm) for u in state.users),
    ]
    command = ["--dir", str(paths.kdc), "ktadd", "--format", "mit", "-k", str(paths.mit_keytab)]
    with contextlib.redirect_stdout(io.StringIO()):
        kdc_cli.cli.main([*command, *names], prog_name="orthrus-kdc", standalone_mode=False)


def lab_env() -> dict[str, str]:
    """The environment of the lab's processes: the caller's, without its ORTHRUS_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORTHRUS_")}
    env["ORTHRUS_CONFIG"] = os.devnull
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _command(lab: Lab, name: str, port: int) -> list[str]:
    paths, state = lab.paths, lab.state
    host = ("--host", "127.0.0.1", "--port", str(port))
    if name == "kdc":
        kerberos = str(state.ports["kerberos"])
        return python_command(
            "kdc.cli", "--dir", str(paths.kdc), "serve", *host, "--kerberos-port", kerberos
        )
    if name == "impostor":
        return python_command(
            "labs.impostor", *host, "--realm", state.realm, "--trace", str(paths.trace)
        )
    if name == "web":
        return python_command("labs.web", "--dir", str(paths.root), *host)
    service = state.service(name)
    switches = [
        SWITCH_FLAGS[switch]
        for switch in service_switches(name)
        if state.switch(name, switch) == "off"
    ]
    common = (
        "--keytab",
        str(paths.keytab(name)),
        "--principal",
        service.principal,
        *host,
        "--kdc-url",
        f"http://127.0.0.1:{state.ports['kdc']}",
        "--trace",
        str(paths.trace),
        *switches,
    )
    # A replay cache in a file survives the restarts that lab switches cause, as a real
    # service's must (an in-memory one would forget what it accepted before a restart).
    replay = ("--replay-cache", str(paths.service_dir() / f"{name}.replay"))
    if service.app == "service_demo":
        db = paths.service_dir() / f"{name}.sqlite"
        return python_command(
            "service_demo",
            *common,
            *replay,
            "--db",
            str(db),
            "--realm",
            state.realm,
            *_backend(state),
        )
    return python_command(service.app, *common, *replay)


def _backend(state: LabState) -> tuple[str, ...]:
    """The back end the notes service's ``/backend/whoami`` calls as the user (exercise 19:
    delegation): the legacy archive, on its port (chosen first, see ``start_lab``)."""
    port = state.ports.get("legacy")
    if not port:
        return ()
    legacy = state.service("legacy")
    return ("--backend-url", f"http://127.0.0.1:{port}", "--backend-principal", legacy.principal)


def _launch(lab: Lab, name: str, port_base: int, say: Say) -> tuple[ProcInfo, Any]:
    own = {name, "kerberos"} if name == "kdc" else {name}  # the KDC's ports are its own
    taken = {p for n, p in lab.state.ports.items() if n not in own}
    wanted = lab.state.ports.get(name) or (port_base + _PORT_OFFSETS[name] if port_base else 0)
    port = choose_port(wanted, taken, say)
    lab.state.ports[name] = port
    if name == "kdc":  # RFC 4120 over UDP and TCP, for MIT's programs (krb5.conf)
        taken.add(port)
        wanted = lab.state.ports.get("kerberos") or (
            port_base + _PORT_OFFSETS["kerberos"] if port_base else 0
        )
        lab.state.ports["kerberos"] = choose_port(wanted, taken, say)
        conf = krb5_conf(lab.state.realm, "127.0.0.1", lab.state.ports["kerberos"])
        write_private(lab.paths.krb5_conf, conf.encode())
    lab.state.save(lab.paths)
    return start_process(lab.paths, name, _command(lab, name, port), port, lab_env())


def _await(lab: Lab, started: list[tuple[ProcInfo, Any]]) -> None:
    try:
        for info, process in started:
            wait_ready(info, process, lab.paths.log(info.name))
    except ConfigError:
        for info, _ in started:
            stop_process(lab.paths, info.name)
        raise


def start_one(lab: Lab, name: str, port_base: int, say: Say) -> ProcInfo:
    """Start process ``name`` on its port (or the next free one) and wait until it answers."""
    started = _launch(lab, name, port_base, say)
    _await(lab, [started])
    return started[0]


def start_lab(paths: LabPaths, say: Say, port_base: int = DEFAULT_PORT_BASE) -> Lab:
    """Create the lab if needed and start whatever of it is not running."""
    state = LabState.load(paths) if paths.state.exists() else create_lab(paths, say)
    lab = Lab(paths, state)
    missing = []
    for name in PROCESS_NAMES:
        info = read_proc(paths, name)
        if info is not None and running(info):
            continue
        if info is not None or paths.pidfile(name).exists():
            note = stop_process(paths, name)
            if note:
                say(note)
        missing.append(name)
    if not missing:
        say(f"The lab in {paths.root} is already up; nothing started.")
        return lab
    if "kdc" in missing:  # first: the services ask it whether the realm is a lab
        start_one(lab, "kdc", port_base, say)
        missing.remove("kdc")
    # legacy's port first: notes is started with it, as its back end (exercise 19)
    missing.sort(key=lambda name: name != "legacy")
    _await(lab, [_launch(lab, name, port_base, say) for name in missing])
    return lab


def stop_lab(paths: LabPaths, say: Say) -> None:
    """Stop every process the lab started (stale pid files are cleaned up)."""
    names = [*PROCESS_NAMES, "web"]
    if paths.run.exists():
        names += [p.stem for p in paths.run.glob("*.pid") if p.stem not in names]
    for note in stop_processes(paths, list(reversed(names))):
        if note:
            say(note)


def restart_service(lab: Lab, name: str, say: Say) -> ProcInfo:
    """Restart the KDC or a service so that it runs with the lab's current switches."""
    if name not in (*SERVICE_NAMES, "kdc"):
        raise ConfigError(
            f"only the KDC and the services {', '.join(SERVICE_NAMES)} have lab switches"
        )
    if name == "kdc":
        write_kdc_switches(lab)
    stop_process(lab.paths, name)
    return start_one(lab, name, DEFAULT_PORT_BASE, say)
