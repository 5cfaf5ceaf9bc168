"""Helpers for tests over real processes: throwaway realms, a KDC on a free port, the CLIs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from kdc.store import Store
    from orthrus.credentials import Credential
    from orthrus.keys import Key
    from orthrus.messages import EncTicketPart, Ticket

BIN = Path(sys.executable).parent
REALM = "EXAMPLE.TEST"
#: The cheapest Argon2id parameters a client accepts: the floor (64 MiB, three passes; see
#: orthrus.pwkdf.KDFPolicy) on one lane, ~0.25 s per derivation. Nothing cheaper: the KDC
#: and the clients refuse less. The Kerberos keys' PBKDF2 at the KDC's floor (1,000).
FAST_KDF = ("--kdf-lanes", "1", "--kerberos-iterations", "1000")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env_changes(**extra: str) -> dict[str, str | None]:
    """What :func:`clean_env` changes in this process's environment (None: unset), as click's
    runner takes it for a CLI run in-process."""
    changes: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ORTHRUS_")}
    changes["ORTHRUS_CONFIG"] = os.devnull
    changes.update(extra)
    return changes


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any ORTHRUS_* setting of the developer's, plus ``extra``."""
    merged = {**os.environ, **env_changes(**extra)}
    return {k: v for k, v in merged.items() if v is not None}


def in_process(command: Any, args: Sequence[str], input: str | None, **env: str) -> str:
    """A CLI (a click command of ``kdc.cli``, ``client_lib.cli``) run in this process with
    click's runner: the CLI's own code, without a Python start and its imports (~0.2-0.5 s
    of CPU a command), for fixtures that only set something up. Tests of a CLI run it as a
    user would, in a process of its own. Returns its output; AssertionError if it failed."""
    from click.testing import CliRunner

    result = CliRunner().invoke(command, list(args), input=input, env=env_changes(**env))
    if result.exit_code != 0:
        raise AssertionError(f"{' '.join(args)} failed: {result.output}") from result.exception
    return result.output


def wait_http(
    url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 120
) -> None:
    """Until ``url`` answers 200 (or ``process`` exits). ``timeout`` only bounds a server that
    never comes up: on a loaded machine a start takes what it takes. A probe is given all
    the time left, never abandoned half-way: the server would log a broken pipe."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited early with {process.returncode}")
        try:
            if httpx.get(url, timeout=left).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@dataclass
class Realm:
    """A realm created with ``orthrus-kdc init`` in a directory, administered by the CLI."""

    directory: Path
    name: str = REALM
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def admin(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(BIN / "orthrus-kdc"), "--dir", str(self.directory), *args],
            input=input,
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"orthrus-kdc {' '.join(args)} failed: {result.stderr}")
        return result

    def setup(self, *args: str, input: str | None = None) -> str:
        """``orthrus-kdc --dir DIR ARGS`` in-process (:func:`in_process`), for fixtures that
        only set a realm up; tests of the CLI itself run it as a user would (:meth:`admin`)."""
        from kdc.cli import cli

        umask = os.umask(0o077)  # as kdc.cli.main: what the KDC creates is private
        try:
            return in_process(cli, ["--dir", str(self.directory), *args], input)
        finally:
            os.umask(umask)

    @classmethod
    def create(cls, directory: Path, *init_args: str) -> Realm:
        realm = cls(directory)
        realm.setup("init", "--realm", REALM, *FAST_KDF, *init_args)
        return realm

    def add_user(self, name: str, password: str, *extra: str) -> None:
        self.setup("addprinc", *extra, name, input=f"{password}\n")

    def add_service(self, name: str, keytab: Path | None = None) -> None:
        self.setup("addprinc", "--randkey", name)
        if keytab is not None:
            self.setup("ktadd", "-k", str(keytab), name)

    def serve(
        self,
        workers: int = 1,
        extra_env: dict[str, str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> str:
        """Start ``orthrus-kdc serve`` on a free port (with ``extra_args``); return its URL."""
        port = free_port()
        log = open(self.directory / f"kdc-{port}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [
                str(BIN / "orthrus-kdc"),
                "--dir",
                str(self.directory),
                "serve",
                "--kerberos-port",  # none, unless extra_args name one (the last one counts)
                "0",
                "--port",
                str(port),
                "--workers",
                str(workers),
                *extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=clean_env(**(extra_env or {})),
        )
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/livez", process)
        return url

    def stop_all(self) -> None:
        for process in self.processes:
            stop(process)
        self.processes.clear()


@dataclass
class User:
    """Runs the ``orthrus`` CLI with its own credential cache, as a user would."""

    kdc_url: str
    ccache: Path
    keytab: Path | None = None

    def settings(self) -> dict[str, str]:
        """This user's ``ORTHRUS_*`` variables."""
        extra = {"ORTHRUS_KDC_URL": self.kdc_url, "ORTHRUS_CCACHE": str(self.ccache)}
        if self.keytab:
            extra["ORTHRUS_KEYTAB"] = str(self.keytab)
        return extra

    def env(self) -> dict[str, str]:
        return clean_env(**self.settings())

    def run(
        self, *args: str, input: str | None = None, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(BIN / "orthrus"), *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"orthrus {' '.join(args)} failed: {result.stderr}")
        return result

    def kinit(self, principal: str, password: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.run("kinit", *extra, principal, input=f"{password}\n")

    def login(self, principal: str, password: str) -> None:
        """``orthrus kinit`` in-process (:func:`in_process`), for fixtures whose tests are not
        about kinit (those run :meth:`kinit`)."""
        from client_lib.cli import cli

        in_process(cli, ["kinit", principal], f"{password}\n", **self.settings())


def assert_one_sentence_error(result: subprocess.CompletedProcess[str], name: str) -> None:
    """A CLI failure: non-zero exit, the error's name, no traceback."""
    assert result.returncode != 0, result.stdout
    assert name in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def names(values: Sequence[object]) -> list[str]:
    return [str(v) for v in values]


# -- In-process protocol over real HTTP (tests/kdc, tests/client) ------------------------------


def kdc_post(
    url: str, path: str, body: object, headers: dict[str, str] | None = None
) -> httpx.Response:
    """POST to the KDC: ``body`` as raw bytes/str, or a message model encoded by the codec."""
    from orthrus import codec

    content = body if isinstance(body, bytes | str) else codec.encode(body)
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return httpx.post(f"{url}{path}", content=content, headers=all_headers, timeout=10)


def http_login(
    url: str, client: str, password: str, now: float | None = None, **options: Any
) -> tuple[Credential, Key]:
    """Log ``client`` in over HTTP with the core, as the client library does.

    Returns the TGT and the long-term key derived from ``password``; ``options`` go to
    :class:`orthrus.as_exchange.ASOptions`; ``now`` (default: the clock) is the client's time.
    """
    import msgspec

    from orthrus import codec
    from orthrus.as_exchange import ASOptions, make_as_req, read_as_rep
    from orthrus.messages import ASRep
    from orthrus.principal import Principal
    from orthrus.pwkdf import KDFParams, string_to_key

    now = time.time() if now is None else now
    principal = Principal.parse(client)
    probe = make_as_req(principal, now, os.urandom, ASOptions(**options))
    hint = kdc_post(url, "/v1/as", probe).json()["error"]
    assert hint["name"] == "KDC_ERR_PREAUTH_REQUIRED", hint
    params = msgspec.convert(hint["data"]["kdf"], KDFParams)
    key = string_to_key(password, principal, params, hint["data"]["kvno"])
    req = make_as_req(principal, now, os.urandom, ASOptions(**options), key)
    response = kdc_post(url, "/v1/as", req)
    assert response.status_code == 200, response.text
    return read_as_rep(codec.decode(response.content, ASRep), req, key, now), key


def sqlite_snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of a SQLite database, read-only (for before/after checks)."""
    import sqlite3

    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {
            table: sorted(connection.execute(f'SELECT * FROM "{table}"'), key=repr)
            for table in tables
        }
    finally:
        connection.close()


@contextmanager
def open_store(directory: Path, **overrides: Any) -> Iterator[Store]:
    """The realm's principal database opened in-process (``overrides``: settings changed from
    the realm's ``kdc.toml``), closed (engine disposed) after.

    Close it before this process reads or copies the database files by other means: closing
    any descriptor of a file drops every POSIX lock the process holds on it, and another
    process then takes SQLite's WAL and shared-memory files away from under open connections.
    """
    import msgspec

    from kdc.config import load_settings
    from kdc.store import Store

    store = Store.open(msgspec.structs.replace(load_settings(directory, env={}), **overrides))
    try:
        yield store
    finally:
        store._engine.dispose()


@contextmanager
def fake_kdc(kdf: dict[str, Any], salt: str) -> Iterator[tuple[str, list[Any]]]:
    """A fake KDC on a free loopback port (what DNS or ARP spoofing puts in the real one's
    place): every AS-REQ without padata gets KDC_ERR_PREAUTH_REQUIRED with the KDF and salt
    it chooses, every other one KDC_ERR_PREAUTH_FAILED. Yields its URL and the requests."""
    import http.server
    import json
    import threading

    from orthrus.errors import ProtocolError

    seen: list[Any] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            if body.get("padata"):
                error = ProtocolError("KDC_ERR_PREAUTH_FAILED", "wrong password", {"kvno": 1})
            else:
                hint = {"kvno": 1, "kdf": {"salt": salt, "algorithm": "argon2id", **kdf}}
                error = ProtocolError("KDC_ERR_PREAUTH_REQUIRED", "pre-authenticate", hint)
            payload = json.dumps(error.to_json()).encode()
            self.send_response(error.http_status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            """Quiet: the tests read what the fake KDC was sent, not its log."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # shutdown() waits for serve_forever to look again: every 50 ms, not every 0.5 s.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()


def credential_of(part: EncTicketPart, ticket: Ticket) -> Credential:
    """The credential a client would hold for ``ticket``, whose contents are ``part`` (for
    tests that seal tickets themselves: forged, or made with a key they hold)."""
    from orthrus.credentials import Credential

    return Credential(
        client=part.client,
        server=ticket.server,
        key=part.key,
        ticket=ticket,
        flags=part.flags,
        authtime=part.authtime,
        starttime=part.starttime,
        endtime=part.endtime,
    )
