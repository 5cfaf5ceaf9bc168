"""A throwaway MIT Kerberos realm for the side-by-side runs, adapted from the anchors
(../shared/anchors/setup_krb5.sh, run_krb5.py): realm BENCH.TEST in a temporary directory,
``krb5kdc`` on 127.0.0.1 (a free port, UDP and TCP), db2 back end, aes256/aes128-cts, the KDC
logging to a file, and the C load generator ``krb5bench`` (libkrb5) built there.

:class:`MITRealm` (``create``, ``kadmin``, ``start_kdc``) is also what the peer tests
(tests/peers) run the ``orthrus`` client against, in a realm of their own name.

Nothing under /etc is used (``KRB5_CONFIG``/``KRB5_KDC_PROFILE``); the packages come from
Debian when missing and the benchmark runs as root (:func:`ensure_installed`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import BENCH, HOST, free_port, log, start, stop

REALM = "BENCH.TEST"
SERVICE = f"host/bench.test@{REALM}"
PACKAGES = ["krb5-kdc", "krb5-admin-server", "krb5-user", "libkrb5-dev"]
TOOLS = ["krb5kdc", "kdb5_util", "kadmin.local", "krb5-config"]

_KRB5_CONF = """[libdefaults]
    default_realm = {realm}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    udp_preference_limit = 1465
    kdc_timesync = 0
[realms]
    {realm} = {{
        kdc = {host}:{port}
    }}
[domain_realm]
    {domain} = {realm}
"""

_KDC_CONF = """[kdcdefaults]
    kdc_listen = {host}:{port}
    kdc_tcp_listen = {host}:{port}
    kdc_max_dgram_reply_size = {max_dgram_reply}
[realms]
    {realm} = {{
        database_name = {dir}/principal
        key_stash_file = {dir}/stash
        acl_file = {dir}/kadm5.acl
        kdc_listen = {host}:{port}
        kdc_tcp_listen = {host}:{port}
        kadmind_listen = {host}:0
        max_life = 10h 0m 0s
        max_renewable_life = 7d 0h 0m 0s
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }}
[logging]
    kdc = FILE:{dir}/kdc.log
    default = FILE:{dir}/krb5lib.log
"""


def client_env(directory: Path, port: int, realm: str = REALM) -> dict[str, str]:
    """The environment of MIT's clients (``krb5bench``) for a KDC of ``realm`` on
    ``port`` of 127.0.0.1: a ``krb5.conf`` written in ``directory``, its own ccache and
    replay cache. MIT's KDC and Orthrus's are driven alike through it."""
    (directory / "rcache").mkdir(parents=True, exist_ok=True)
    config = directory / "krb5.conf"
    domain = realm.lower()
    config.write_text(_KRB5_CONF.format(realm=realm, host=HOST, port=port, domain=domain))
    return dict(
        os.environ,
        KRB5_CONFIG=str(config),
        KRB5RCACHEDIR=str(directory / "rcache"),
        KRB5CCNAME=f"FILE:{directory / 'ccache'}",
    )


def krb5bench_argv(
    binary: Path, load: str, keytab: Callable[[str], str], service: str, count: int, secs: float
) -> list[str]:
    """The ``krb5bench`` command line of one client for ``load`` (``keytab(name)``: the MIT
    keytab of ``bob`` or ``alice``), whichever KDC its environment points to."""
    b = str(binary)
    if load == "as_preauth":
        return [b, "as_kt", "bob", keytab("bob"), str(count), str(secs)]
    if load == "as_nopreauth":
        return [b, "as_kt", "alice", keytab("alice"), str(count), str(secs)]
    if load == "tgs":
        return [b, "tgs", "alice", keytab("alice"), service, str(count), str(secs)]
    raise ValueError(load)


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def ensure_installed() -> str | None:
    """Install MIT's packages from Debian if needed; None when ready, else why not."""
    if not missing_tools() and shutil.which("gcc"):
        return None
    if os.geteuid() != 0:
        return (
            f"MIT Kerberos is not installed ({', '.join(missing_tools())} missing) and the "
            f"benchmark is not root; install {' '.join(PACKAGES)} gcc to compare"
        )
    if shutil.which("apt-get") is None:
        return "MIT Kerberos is not installed and there is no apt-get to install it"
    log(f"installing {' '.join(PACKAGES)} from Debian (apt-get)...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", *PACKAGES, "gcc"],
    ):
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
            return f"apt-get failed ({' '.join(argv[:2])}): {' '.join(tail)}"
    if missing_tools():
        return f"still missing after apt-get: {', '.join(missing_tools())}"
    return None


def version() -> str:
    result = subprocess.run(
        ["krb5-config", "--version"], capture_output=True, text=True, timeout=10
    )
    return result.stdout.strip()


class MITRealm:
    """The realm's files, its KDC process (started and stopped by pid) and the client."""

    def __init__(self, directory: Path, realm: str = REALM) -> None:
        self.dir = directory / "mit"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.realm = realm
        self.port = free_port()
        self.bin = self.dir / "krb5bench"
        self.gss_bin = self.dir / "gssbench"
        self.env = client_env(self.dir, self.port, realm) | {
            "KRB5_KDC_PROFILE": str(self.dir / "kdc.conf"),
            "KRB5BENCH_SVC_KEYTAB": f"FILE:{self.dir / 'host.keytab'}",
        }
        self.kdc: subprocess.Popen[Any] | None = None

    def keytab(self, name: str) -> str:
        return str(self.dir / f"{name}.keytab")

    def create(self, max_dgram_reply: int = 4096) -> None:
        """The realm's ``kdc.conf`` and database (``kdb5_util create``), no principals yet;
        replies over ``max_dgram_reply`` octets are KRB_ERR_RESPONSE_TOO_BIG over UDP (MIT's
        default 4096)."""
        fields = {"realm": self.realm, "host": HOST, "port": self.port, "dir": self.dir}
        fields["max_dgram_reply"] = max_dgram_reply
        (self.dir / "kdc.conf").write_text(_KDC_CONF.format(**fields))
        (self.dir / "kadm5.acl").write_text("")
        self._run(["kdb5_util", "create", "-s", "-r", self.realm, "-P", "MasterPw-123"])

    def kadmin(self, query: str) -> None:
        """One ``kadmin.local -q`` query (``addprinc``, ``ktadd``...) on the realm."""
        self._run(["kadmin.local", "-q", query])

    def setup(self) -> None:
        """kdb5_util create, the principals of the anchors, keytabs, and the C client."""
        self.create()
        self.kadmin("addprinc -pw UserPw-123 -requires_preauth alice")
        self.kadmin("addprinc -pw UserPw-123 +requires_preauth bob")
        self.kadmin("addprinc -randkey host/bench.test")
        self.kadmin(f"ktadd -k {self.keytab('host')} host/bench.test")
        self.kadmin(f"ktadd -norandkey -k {self.keytab('alice')} alice")
        self.kadmin(f"ktadd -norandkey -k {self.keytab('bob')} bob")
        run = self._run
        flags = subprocess.run(
            ["krb5-config", "--cflags", "--libs", "krb5"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.split()
        run(
            ["gcc", "-O2", "-Wall", "-o", str(self.bin), str(BENCH / "mit" / "krb5bench.c"), *flags]
        )
        gss_flags = subprocess.run(
            ["krb5-config", "--cflags", "--libs", "krb5", "gssapi"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.split()
        source = str(BENCH / "mit" / "gssbench.c")
        run(["gcc", "-O2", "-Wall", "-o", str(self.gss_bin), source, *gss_flags])

    def _run(self, argv: list[str]) -> None:
        result = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:2])} failed: {result.stderr.strip()[-300:]}")

    def start_kdc(self, workers: int = 1) -> int:
        """``krb5kdc -n`` (foreground), one process unless ``workers`` > 1; returns its pid."""
        (self.dir / "kdc.log").write_text("")
        argv = ["krb5kdc", "-n"] + (["-w", str(workers)] if workers > 1 else [])
        self.kdc = start(argv, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not _listening(self.port):
            if self.kdc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"krb5kdc did not start; see {self.dir / 'kdc.log'}")
            time.sleep(0.05)
        return self.kdc.pid

    def stop_kdc(self) -> None:
        if self.kdc is not None:
            stop(self.kdc)
            self.kdc = None

    def client_argv(self, load: str, count: int, secs: float) -> list[str]:
        """The krb5bench command line of one client for ``load``."""
        if load != "ap":
            return krb5bench_argv(self.bin, load, self.keytab, SERVICE, count, secs)
        b = str(self.bin)
        if load == "ap":
            kt = f"FILE:{self.keytab('host')}"
            return [b, "aprd", "alice", self.keytab("alice"), SERVICE, kt, str(count), str(secs)]
        raise ValueError(load)

    def gss_accept_argv(self, count: int, secs: float, tokens_out: Path) -> list[str]:
        """gssbench: alice's SPNEGO tokens for the service, timed through MIT's
        ``gss_accept_sec_context`` (keytab ``$KRB5_KTNAME``: :meth:`gss_env`), and written
        to ``tokens_out`` for Orthrus to verify the same ones."""
        alice = self.keytab("alice")
        return [str(self.gss_bin), "alice", alice, SERVICE, str(count), str(secs), str(tokens_out)]

    def gss_env(self) -> dict[str, str]:
        """The environment of gssbench: the realm's, the service keytab as the acceptor's."""
        return self.env | {"KRB5_KTNAME": f"FILE:{self.keytab('host')}"}


def _listening(port: int) -> bool:
    """Whether something accepts TCP connections on ``port`` of 127.0.0.1 (krb5kdc opens
    its UDP and TCP sockets together, before it serves)."""
    try:
        socket.create_connection((HOST, port), timeout=1).close()
    except OSError:
        return False
    return True


def parse_line(line: str) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
