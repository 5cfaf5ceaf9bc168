"""Helpers for the operations tests: real PostgreSQL schemas, Redis prefixes and servers, KDC
and service processes, a TCP proxy to cut the database off, certificates, metrics, secrets.

PostgreSQL and Redis come from ``ORTHRUS_TEST_PG_URL`` and ``ORTHRUS_TEST_REDIS_URL``
(``.ci/run`` sets both); tests that need them skip, saying so, when they are unset. Every
test uses a schema or key prefix of its own and removes it afterwards.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import BIN, REALM, clean_env, free_port, kdc_post, stop

from labs.classroom.certs import ClassCertificates
from labs.classroom.certs import make_certificates as make_class_certificates
from orthrus.credentials import Credential
from orthrus.httpauth import encode_ap_req, http_binding
from orthrus.messages import TGSRep
from orthrus.principal import Principal

PG_URL = os.environ.get("ORTHRUS_TEST_PG_URL", "")
REDIS_URL = os.environ.get("ORTHRUS_TEST_REDIS_URL", "")

needs_pg = pytest.mark.skipif(
    not PG_URL,
    reason="ORTHRUS_TEST_PG_URL is not set (a PostgreSQL database, e.g. "
    "postgresql+psycopg://postgres@127.0.0.1:5432/test; .ci/run sets it)",
)
needs_redis = pytest.mark.skipif(
    not REDIS_URL,
    reason="ORTHRUS_TEST_REDIS_URL is not set (a Redis server, e.g. redis://127.0.0.1:6379/0; "
    ".ci/run sets it)",
)
needs_redis_server = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="redis-server is not installed (needed to stop and restart a Redis of our own)",
)


# -- PostgreSQL ------------------------------------------------------------------------------


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL ``postgresql+psycopg://...`` as psycopg itself takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def with_schema(url: str, schema: str) -> str:
    """``url`` with every connection's ``search_path`` set to ``schema``."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


def with_port(url: str, port: int) -> str:
    """``url`` pointing at 127.0.0.1:``port`` instead of its host (for the proxy)."""
    scheme, _, rest = url.partition("://")
    credentials, at, hostpart = rest.rpartition("@")
    _, slash, path = hostpart.partition("/")
    return f"{scheme}://{credentials}{at}127.0.0.1:{port}{slash}{path}"


def pg_execute(sql: str, *params: object) -> list[tuple[object, ...]]:
    import psycopg

    with psycopg.connect(libpq_url(PG_URL), autocommit=True) as conn:
        cursor = conn.execute(sql, params)  # type: ignore[arg-type]
        return list(cursor.fetchall()) if cursor.description else []


@contextlib.contextmanager
def pg_schema(label: str) -> Iterator[str]:
    """A new schema ``orthrus_<label>_<random>``; yields the SQLAlchemy URL using it."""
    schema = f"orthrus_{label}_{uuid.uuid4().hex[:8]}"
    pg_execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield with_schema(PG_URL, schema)
    finally:
        pg_execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def newest_migration() -> str:
    """The head revision of kdc/migrations (what ``init`` must have applied)."""
    versions = Path(__file__).resolve().parents[2] / "kdc" / "migrations" / "versions"
    return sorted(p.name for p in versions.glob("[0-9]*.py"))[-1].partition("_")[0]


def pg_snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of the schema ``url`` uses (for before/after checks)."""
    import psycopg

    with psycopg.connect(libpq_url(url).replace("+psycopg", "")) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() ORDER BY table_name"
            )
        ]
        return {t: sorted(conn.execute(f'SELECT * FROM "{t}"'), key=repr) for t in tables}


# -- Redis -----------------------------------------------------------------------------------


def redis_prefix(label: str) -> str:
    return f"orthrus-test-{label}-{uuid.uuid4().hex[:8]}"


def redis_keys(url: str, prefix: str) -> list[bytes]:
    import redis

    return list(redis.Redis.from_url(url).scan_iter(match=f"{prefix}*", count=1000))


def redis_cleanup(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = redis_keys(url, prefix)
    if keys:
        client.delete(*keys)


class RedisServer:
    """A ``redis-server`` of our own on a free port, to stop and start again."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120  # bounds a redis-server that never starts, not load
        while True:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
                return
            except redis.RedisError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


# -- A TCP proxy we can cut ------------------------------------------------------------------


class TCPProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; :meth:`stop` closes the listener and every
    connection at once (the database "goes away"), :meth:`start` opens the same port again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self._sockets: list[socket.socket] = []

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._sockets = [listener]
        self._running.set()
        self._thread = threading.Thread(target=self._loop, args=(listener,), daemon=True)
        self._thread.start()

    def _loop(self, listener: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ)
        peers: dict[socket.socket, socket.socket] = {}
        while self._running.is_set():
            for key, _ in selector.select(timeout=0.05):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                if sock is listener:
                    client, _ = listener.accept()
                    try:
                        upstream = socket.create_connection(self.target, timeout=2)
                    except OSError:
                        client.close()
                        continue
                    for one, other in ((client, upstream), (upstream, client)):
                        peers[one] = other
                        selector.register(one, selectors.EVENT_READ)
                        self._sockets.append(one)
                    continue
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                other = peers.get(sock)
                if not data or other is None:
                    for end in (sock, other):
                        if end is not None and end in peers:
                            selector.unregister(end)
                            peers.pop(end, None)
                            end.close()
                    continue
                with contextlib.suppress(OSError):
                    other.sendall(data)
        selector.close()

    def stop(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(5)
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._sockets = []


# -- Processes -------------------------------------------------------------------------------


@dataclass
class Server:
    """A server process on a free 127.0.0.1 port, with its log file."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    ready_path: str = "/livez"
    verify: object = True

    def wait(self, timeout: float = 120) -> Server:
        """Until the server is ready; as :func:`support.wait_http`, ``timeout`` bounds only a
        server that never comes up, and no probe is abandoned half-way."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.url} exited early:\n{self.log.read_text()[-3000:]}")
            left = max(deadline - time.monotonic(), 0.1)
            try:
                reply = httpx.get(self.url + self.ready_path, timeout=left, verify=self.verify)  # type: ignore[arg-type]
                if reply.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{self.url} did not start:\n{self.log_text()}"
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGINT (the KDC's server and gunicorn stop after the requests in flight), then
        SIGTERM (at once), then SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        stop(self.process)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def tracebacks(self) -> list[str]:
        """The tracebacks in the log, but for gunicorn's ``SystemExit: 0``: the SIGINT of
        :meth:`stop` makes a worker that is still in a request it has answered (its client
        already has the reply; on a loaded machine the worker has not run since) exit right
        there, and gunicorn logs that exit as an error. An exception of the app never ends
        so."""
        found: list[str] = []
        block: list[str] | None = None
        for line in self.log_text().splitlines():
            if line.startswith("Traceback (most recent call last):"):
                block = [line]
            elif block is not None:
                block.append(line)
                if not line.startswith((" ", "\t")):
                    if line != "SystemExit: 0":
                        found.append("\n".join(block))
                    block = None
        return found


def start_kdc(
    directory: Path,
    workers: int = 2,
    env: dict[str, str] | None = None,
    args: Iterable[str] = (),
    scheme: str = "http",
) -> Server:
    """``orthrus-kdc serve`` on a free port (not yet waited for: call :meth:`Server.wait`)."""
    port = free_port()
    log = directory.parent / f"kdc-{directory.name}-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                str(BIN / "orthrus-kdc"),
                "--dir",
                str(directory),
                "serve",
                "--kerberos-port",
                "0",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--threads",
                "4",
                *args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=clean_env(**(env or {})),
        )
    return Server(process, f"{scheme}://127.0.0.1:{port}", log)


def start_service(
    directory: Path,
    keytab: Path,
    workers: int = 2,
    args: Iterable[str] = (),
    env: dict[str, str] | None = None,
    scheme: str = "http",
) -> Server:
    """``python -m service_demo`` on a free port (call :meth:`Server.wait`)."""
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / f"service-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "service_demo",
                "--keytab",
                str(keytab),
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--db",
                str(directory / "notes.sqlite"),
                "--principal",
                f"HTTP/localhost@{REALM}",
                *args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=clean_env(**(env or {})),
            cwd=directory,
        )
    return Server(process, f"{scheme}://127.0.0.1:{port}", log)


def wait_all(servers: Iterable[Server]) -> None:
    for server in servers:
        server.wait()


def stop_all(servers: Iterable[Server]) -> None:
    """Stop servers together: SIGINT to each, then wait for each."""
    running = [s for s in servers if s.process.poll() is None]
    for server in running:
        server.process.send_signal(signal.SIGINT)
    for server in running:
        server.stop()


def admin(
    directory: Path, *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``orthrus-kdc --dir DIRECTORY ARGS`` (not checked: the caller asserts)."""
    return subprocess.run(
        [str(BIN / "orthrus-kdc"), "--dir", str(directory), *args],
        input=input,
        capture_output=True,
        text=True,
        env=clean_env(**(env or {})),
        timeout=60,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"{result.args}: {result.stderr}"
    assert "Traceback" not in result.stderr
    return result


def set_config(directory: Path, **values: object) -> None:
    """Change keys of ``DIRECTORY/kdc.toml`` (as an operator would with an editor)."""
    path = directory / "kdc.toml"
    lines = path.read_text().splitlines()
    for key, value in values.items():
        text = f'"{value}"' if isinstance(value, str) else str(value).lower()
        lines = [line for line in lines if not line.startswith(f"{key} =")]
        lines.append(f"{key} = {text}")
    path.write_text("\n".join(lines) + "\n")


def populate(
    directory: Path,
    users: dict[str, str],
    service: str,
    keytab: Path,
    env: dict[str, str] | None = None,
) -> None:
    """Fixture set-up, in this process through :class:`kdc.store.Store` (each CLI call costs a
    Python start): ``users`` with their passwords, a random-key ``service`` and its keytab,
    exactly as ``addprinc`` and ``ktadd`` make them. The CLI is tested where it is the subject."""
    from kdc.config import load_settings
    from kdc.store import NewPrincipal, Store
    from orthrus.keytab import Keytab
    from orthrus_io.files import write_private

    store = Store.open(load_settings(directory, clean_env(**(env or {}))))
    for name, password in users.items():
        store.add_principal(NewPrincipal(Principal.parse(f"{name}@{REALM}"), password))
    principal = Principal.parse(service)
    store.add_principal(NewPrincipal(principal))
    table = Keytab().merged(store.keytab_entries(principal), store.signer().jwks())
    write_private(keytab, table.to_bytes())


def key_versions(directory: Path, name: str) -> list[int]:
    """The key versions the realm's database holds for ``name`` (read in this process)."""
    from kdc.config import load_settings
    from kdc.store import Store

    store = Store.open(load_settings(directory, clean_env()))
    return [key["kvno"] for key in store.describe(Principal.parse(name))["keys"]]


def exported_keys(directory: Path, *names: str) -> set[tuple[str, int, bytes]]:
    """What ``ktadd`` would export for ``names``: every key as the realm opens it now."""
    from kdc.config import load_settings
    from kdc.store import Store

    store = Store.open(load_settings(directory, clean_env()))
    return {
        (str(e.principal), e.kvno, e.key)
        for name in names
        for e in store.keytab_entries(Principal.parse(name))
    }


def change_password(kdc_url: str, name: str, old: str, new: str) -> int:
    """``orthrus kpasswd`` through the client library in this process; the new kvno."""
    from client_lib.api import Client
    from client_lib.config import ClientSettings

    client = Client(ClientSettings(kdc_url=kdc_url, ccache=os.devnull))
    try:
        return client.change_password(Principal.parse(name), old, new).kvno
    finally:
        client.close()


# -- Metrics ---------------------------------------------------------------------------------


def audit_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of an audit log."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def metric(url: str, name: str, verify: object = True, **labels: str) -> float:
    """The sum of samples ``name`` whose labels include ``labels``, scraped from URL/metrics
    over a new connection (so any worker may answer)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(url + "/metrics", timeout=10, verify=verify).text  # type: ignore[arg-type]
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def metric_files(directory: Path, kind: str = "counter") -> list[Path]:
    """The per-worker files of prometheus-client's multiprocess mode in ``directory``."""
    return sorted(directory.glob(f"**/{kind}_*.db"))


# -- TLS -------------------------------------------------------------------------------------


#: The TLS files a test server uses: a CA made for the test and a server certificate it signs.
Certificates = ClassCertificates


def make_certificates(
    directory: Path, hosts: Iterable[str] = ("localhost", "127.0.0.1")
) -> Certificates:
    """A CA and a server certificate it signs for ``hosts``, as the class server makes them."""
    paths = Certificates.under(directory)
    make_class_certificates(paths, list(hosts), datetime.datetime.now(datetime.UTC))
    return paths


# -- Secrets ---------------------------------------------------------------------------------


def encodings(secret: bytes) -> set[str]:
    """The ways a secret could be written into a log: base64, base64url, hex."""
    return {
        base64.b64encode(secret).decode().rstrip("="),
        base64.urlsafe_b64encode(secret).decode().rstrip("="),
        secret.hex(),
        secret.hex().upper(),
    }


@dataclass
class Secrets:
    """Every secret a test used, to be looked for in logs."""

    values: set[str] = field(default_factory=set)

    def add_text(self, *texts: str) -> None:
        self.values.update(t for t in texts if t)

    def add_bytes(self, *secrets: bytes) -> None:
        for secret in secrets:
            self.values.update(encodings(secret))

    def add_keytab(self, path: Path) -> None:
        from orthrus.keytab import Keytab

        for entry in Keytab.from_bytes(path.read_bytes()).entries:
            self.add_bytes(entry.key)

    def add_ccache(self, path: Path) -> None:
        from client_lib.ccache import CredentialCache

        for credential in CredentialCache(path).credentials():
            self.add_bytes(credential.session_key.material)
            self.add_text(credential.ticket.enc_part)

    def add_master_key(self, path: Path) -> None:
        import json

        for entry in json.loads(path.read_text())["keys"]:
            self.add_text(entry["key"])
            self.add_bytes(base64.b64decode(entry["key"]))

    def found_in(self, text: str) -> list[str]:
        return sorted(s[:12] + "…" for s in self.values if s in text)


# -- The shared cluster and service (fixtures in conftest.py) -----------------------------

SERVICE = f"HTTP/localhost@{REALM}"
#: Users of the cluster and their passwords (each test uses its own user).
USERS = {
    "carol": "carol-s3cret-pass",
    "mallory": "mallory-s3cret-pass",
    "trent": "trent-s3cret-pass",
    "zed": "zed-s3cret-pass",
}

#: Users of the SQLite realm.
SQLITE_USERS = {"kim": "kim-s3cret-pass", "pat": "pat-first-pass1", "tess": "tess-s3cret-pass"}


@dataclass
class Cluster:
    directory: Path
    db_url: str
    prefix: str
    kdcs: list[Server]
    keytab: Path
    secrets: set[str] = field(default_factory=set)

    @property
    def env(self) -> dict[str, str]:
        """What every process of the cluster is started with."""
        return {"ORTHRUS_REDIS_URL": REDIS_URL, "ORTHRUS_REDIS_PREFIX": self.prefix}

    def admin(self, *args: str, input: str | None = None) -> str:
        return ok(admin(self.directory, *args, input=input, env=self.env)).stdout


@dataclass
class Service:
    server: Server
    directory: Path
    metrics_dir: Path
    prefix: str

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def audit_log(self) -> Path:
        return self.directory / "audit.log"


# -- Tickets through the real KDC, with the core ---------------------------------------------


def service_ticket(kdc_url: str, tgt: Credential, service: str = SERVICE) -> Credential:
    """A service ticket from the KDC at ``kdc_url`` (a TGS exchange over HTTP)."""
    from orthrus import codec
    from orthrus.tgs_exchange import make_tgs_req, read_tgs_rep

    request = make_tgs_req(tgt, Principal.parse(service), time.time(), os.urandom)
    reply = kdc_post(kdc_url, "/v1/tgs", request.message)
    assert reply.status_code == 200, reply.text
    return read_tgs_rep(codec.decode(reply.content, TGSRep), request, time.time())


def ap_token(credential: Credential, method: str = "GET", path: str = "/whoami") -> str:
    """A fresh ``Authorization: Ticket`` token bound to ``method`` and ``path``."""
    from orthrus.ap import AuthenticatorFields, make_ap_req

    fields = AuthenticatorFields(checksum=http_binding(method, path))
    ap_req, _ = make_ap_req(credential, time.time(), os.urandom, fields)
    return encode_ap_req(ap_req)


def whoami(
    url: str, token: str, headers: dict[str, str] | None = None, verify: object = True
) -> httpx.Response:
    """``GET URL/whoami`` with the token (and ``headers``) over a new connection."""
    all_headers = {"Authorization": f"Ticket {token}", **(headers or {})}
    return httpx.get(url + "/whoami", headers=all_headers, timeout=10, verify=verify)  # type: ignore[arg-type]
