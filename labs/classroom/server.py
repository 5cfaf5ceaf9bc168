"""``orthrus-lab class serve`` and ``class stop``: the class server's processes.

The KDC and the ``HTTP/notes`` service serve HTTPS on the host the instructor names (port P
and P+1), with the class certificate, and the KDC speaks Kerberos itself (RFC 4120 DER over
UDP and TCP) on port P+3, for MIT's kinit, kvno and tshark (exercises 16 to 18); all append to
the class trace, on the instructor's machine only. The dashboard serves plain HTTP on
loopback only, and its grid only to a request with the token ``class serve`` makes
(:mod:`labs.classroom.dashboard`): it shows every student's grades, so it is for the
instructor's own browser, not the classroom network nor the other accounts of the machine.
Processes are
started and stopped by pid, as the lab's are (:mod:`labs.procs`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labs.classroom import KERBEROS_OFFSET
from labs.classroom.dashboard import new_token, token_of
from labs.classroom.realm import ClassState, certificates, notes_principal
from labs.lab import lab_env
from labs.procs import (
    port_free,
    python_command,
    read_proc,
    running,
    start_process,
    stop_processes,
    wait_ready,
)
from labs.state import LabPaths
from orthrus.errors import ConfigError
from orthrus_io.tls import client_ssl_context

__all__ = [
    "CLASS_PROCESSES",
    "ServeOptions",
    "dashboard_url",
    "is_served",
    "serve_class",
    "stop_class",
]

#: In start order: the services ask the KDC whether the realm is a lab.
CLASS_PROCESSES = ("kdc", "notes", "dashboard")

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Where the class is served: the KDC on ``port`` (HTTPS) and ``port + 3`` (Kerberos, RFC
    4120 §7.2, UDP and TCP: MIT's programs), notes on ``port + 1``, the dashboard on loopback
    at ``dashboard_port`` (0: ``port + 2``)."""

    host: str
    port: int
    dashboard_port: int = 0

    def ports(self) -> dict[str, int]:
        return {
            "kdc": self.port,
            "notes": self.port + 1,
            "dashboard": self.dashboard_port or self.port + 2,
            "kerberos": self.port + KERBEROS_OFFSET,
        }


def _local(host: str) -> str:
    """The address this machine reaches a server bound to ``host`` at."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a bind-all name


def https_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"https://{shown}:{port}"


def dashboard_url(paths: LabPaths, state: ClassState) -> str:
    """The dashboard's URL with its token in the fragment (never sent to the server)."""
    return f"http://127.0.0.1:{state.ports['dashboard']}/#token={token_of(paths.root)}"


def _commands(paths: LabPaths, state: ClassState) -> dict[str, list[str]]:
    tls = certificates(paths)
    certs = ("--certfile", str(tls.cert), "--keyfile", str(tls.key))

    def bind(host: str, name: str) -> tuple[str, ...]:
        return ("--host", host, "--port", str(state.ports[name]))

    services = paths.service_dir()
    return {
        "kdc": python_command(
            "kdc.cli",
            *("--dir", str(paths.kdc), "serve", *bind(state.host, "kdc"), *certs),
            *("--kerberos-port", str(state.ports["kerberos"])),
        ),
        "notes": python_command(
            "service_demo",
            *("--keytab", str(paths.keytab("notes")), "--realm", state.realm),
            *("--principal", notes_principal(state.realm)),
            *bind(state.host, "notes"),
            *certs,
            *("--kdc-url", https_url(_local(state.host), state.ports["kdc"])),
            *("--trace", str(paths.trace), "--replay-cache", str(services / "notes.replay")),
            *("--db", str(services / "notes.sqlite")),
        ),
        "dashboard": python_command(
            "labs.classroom.dashboard", "--dir", str(paths.root), *bind("127.0.0.1", "dashboard")
        ),
    }


def _check_host(state: ClassState, host: str) -> None:
    if _local(host) not in state.hosts and host not in ("0.0.0.0", "::"):  # noqa: S104
        raise ConfigError(
            f"the class certificate names {', '.join(state.hosts)}, not {host}: students "
            f"could not verify the server; make the class with --host {host} "
            "(orthrus-lab class init), or serve on one of those names"
        )


def serve_class(paths: LabPaths, state: ClassState, options: ServeOptions, say: Say) -> None:
    """Start the KDC, notes and the dashboard (each waited for); stop them all on a failure."""
    _check_host(state, options.host)
    if any(_alive(paths, name) for name in CLASS_PROCESSES):
        raise ConfigError(
            f"the class in {paths.root} is already served; stop it first: "
            f"orthrus-lab class stop --dir {paths.root}"
        )
    wanted = options.ports()
    busy = [f"{n} {p}" for n, p in wanted.items() if not port_free(p)]
    if busy:
        raise ConfigError(f"ports in use ({', '.join(busy)}): choose another --port")
    state.host, state.ports = options.host, wanted
    state.save(paths)
    new_token(paths.root)  # a new one each time the class is served
    env = lab_env()
    env["SSL_CERT_FILE"] = str(certificates(paths).ca)  # notes asks the KDC over HTTPS
    trust = client_ssl_context(str(certificates(paths).ca))
    commands = _commands(paths, state)
    try:
        for name in CLASS_PROCESSES:
            info, process = start_process(paths, name, commands[name], wanted[name], env)
            tls: dict[str, Any] = {}
            if name != "dashboard":
                tls = {"url": https_url(_local(state.host), info.port), "verify": trust}
            wait_ready(info, process, paths.log(name), **tls)
    except ConfigError:
        stop_class(paths, lambda _: None)
        raise
    say(
        f"Class realm {state.realm} served: KDC {https_url(options.host, wanted['kdc'])} "
        f"(Kerberos on port {wanted['kerberos']}, UDP and TCP), "
        f"notes {https_url(options.host, wanted['notes'])}; dashboard {dashboard_url(paths, state)}"
    )


def _alive(paths: LabPaths, name: str) -> bool:
    info = read_proc(paths, name)
    return info is not None and running(info)


def stop_class(paths: LabPaths, say: Say) -> None:
    """Stop every process ``class serve`` started (by pid; stale pid files removed)."""
    for note in stop_processes(paths, list(reversed(CLASS_PROCESSES))):
        if note:
            say(note)


def is_served(paths: LabPaths) -> bool:
    return all(_alive(paths, name) for name in CLASS_PROCESSES)
