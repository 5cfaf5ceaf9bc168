"""A throwaway Orthrus realm for the benchmark: ``orthrus-kdc init`` in a temporary
directory, the principals the loads need, their keytabs, and the KDC
(``orthrus-kdc serve``) on a free port of 127.0.0.1, started and stopped by pid.

Principals (as in the MIT realm): ``bob`` (a password key, pre-authentication required: the
AS load logs him in with his key from a keytab, as MIT's ``as_kt bob``), ``alice`` (the TGS
load's client) and the service ``HTTP/bench.test`` (randomly keyed: TGS tickets are for it,
and the AP loads verify tickets made for it).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from bench.common import HOST, VENV_BIN, free_port, start, stop, wait_ready

REALM = "BENCH.TEST"
SERVICE = f"HTTP/bench.test@{REALM}"
PASSWORD = "UserPw-12345"


class OrthrusRealm:
    def __init__(self, directory: Path) -> None:
        self.dir = directory / "orthrus"
        self.kdc_dir = self.dir / "kdc"
        self.env = dict(os.environ, ORTHRUS_KDC_DIR=str(self.kdc_dir))
        self.env.pop("ORTHRUS_REDIS_URL", None)
        self.env.pop("ORTHRUS_DB_URL", None)
        self.port = 0
        self.kerberos_port = 0
        self.kdc: subprocess.Popen[Any] | None = None
        self.options: dict[str, Any] = {}

    def keytab(self, name: str) -> Path:
        return self.dir / f"{name}.keytab"

    def _admin(self, *args: str, stdin: str | None = None) -> None:
        argv = [str(VENV_BIN / "orthrus-kdc"), "--dir", str(self.kdc_dir), *args]
        result = subprocess.run(
            argv, input=stdin, env=self.env, capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            raise RuntimeError(f"orthrus-kdc {args[0]} failed: {result.stderr.strip()[-300:]}")

    def setup(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._admin("init", "--realm", REALM)
        self._admin("addprinc", f"bob@{REALM}", stdin=f"{PASSWORD}\n")
        self._admin("addprinc", f"alice@{REALM}", "--group", "staff", stdin=f"{PASSWORD}\n")
        self._admin("addprinc", "--randkey", SERVICE)
        for name, principal in (("bob", f"bob@{REALM}"), ("alice", f"alice@{REALM}")):
            self._admin("ktadd", "-k", str(self.keytab(name)), principal)
        self._admin("ktadd", "-k", str(self.keytab("service")), SERVICE)
        for name in ("bob", "alice"):  # their Kerberos keys, for MIT's krb5bench
            self._admin("ktadd", "--format", "mit", "-k", self.mit_keytab(name), f"{name}@{REALM}")

    def mit_keytab(self, name: str) -> str:
        """The MIT keytab of ``name`` (``orthrus-kdc ktadd --format mit``)."""
        return str(self.dir / f"{name}.mit.keytab")

    def start_kdc(self, workers: int, threads: int, extra: list[str] | None = None) -> int:
        """``orthrus-kdc serve`` on free ports (HTTP, and Kerberos over UDP and TCP);
        returns the pid of its ``serve`` process (the workers' parent)."""
        self.port = free_port()
        self.kerberos_port = free_port()
        self.options = {"workers": workers, "threads": threads, "extra": extra or []}
        argv = [
            str(VENV_BIN / "orthrus-kdc"),
            "--dir",
            str(self.kdc_dir),
            "serve",
            "--kerberos-port",
            str(self.kerberos_port),
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            *(extra or []),
        ]
        log = open(self.dir / "kdc-serve.log", "ab")  # noqa: SIM115 - closed with the process
        self.kdc = start(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_ready(self.port, self.kdc, "/livez")
        return self.kdc.pid

    def stop_kdc(self) -> None:
        if self.kdc is not None:
            stop(self.kdc)
            self.kdc = None
