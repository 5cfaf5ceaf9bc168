"""MIT Kerberos's own programs (Debian's krb5-user) as peers: a throwaway ``KRB5_CONFIG`` for
realm EXAMPLE.TEST, a private credential cache and keytab, a runner of MIT commands, and
what a test needs to know of the Orthrus KDC they talk to (:class:`PeerKDC`).

Nothing of the machine's Kerberos is used: ``/etc/krb5.conf`` is never read, no ``KRB5*``
variable of the developer's reaches the programs, and messages are MIT's English ones
(``LC_ALL=C``) with times in UTC, so tests can compare what MIT prints.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pytest
from support import REALM, Realm

ALICE = f"alice@{REALM}"
ALICE_PASSWORD = "alice-peer-pass"
HTTP_SERVICE = f"HTTP/localhost@{REALM}"

#: What the peer tests run; ``make test`` installs them (Debian krb5-user) when root.
MIT_TOOLS = ("kinit", "klist", "kvno", "ktutil", "kdestroy")


def missing_mit_tools(
    tools: Sequence[str] = MIT_TOOLS, packages: str = "Debian krb5-user"
) -> str | None:
    """Why MIT's programs ``tools`` (from ``packages``) cannot run here, for
    ``pytest.skip``, or None."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return None
    return (
        f"MIT Kerberos's {', '.join(missing)} not installed ({packages}): "
        "'make test' installs it when run as root"
    )


class MITResult(NamedTuple):
    """What an MIT command did: exit status, standard output, standard error."""

    rc: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class KDCAddress:
    """Where MIT clients find the KDC, and how they reach it."""

    port: int
    host: str = "127.0.0.1"
    #: ``udp_preference_limit = 1``: every request over TCP (RFC 4120 §7.2.2).
    tcp_only: bool = False


@dataclass
class MITPeer:
    """MIT's programs configured for EXAMPLE.TEST in ``directory``.

    ``enctypes`` (MIT names, e.g. ``aes256-cts-hmac-sha1-96``) sets ``permitted_enctypes``,
    ``default_tkt_enctypes`` and ``default_tgs_enctypes``; empty keeps MIT's defaults.
    """

    directory: Path
    kdc: KDCAddress | None = None
    enctypes: Sequence[str] = ()
    realm: str = REALM
    extra_env: dict[str, str] = field(default_factory=dict)
    #: False: ``kdc_timesync = 0``, so a client whose clock is off is refused rather than
    #: corrected from the KDC's time in the KRB-ERROR (MIT's default corrects it).
    timesync: bool = True

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.config.write_text(self.krb5_conf())

    @property
    def config(self) -> Path:
        return self.directory / "krb5.conf"

    @property
    def ccache(self) -> Path:
        return self.directory / "ccache"

    @property
    def keytab(self) -> Path:
        return self.directory / "keytab"

    @property
    def trace(self) -> Path:
        """libkrb5's trace of every command run (``KRB5_TRACE``), for failure messages."""
        return self.directory / "krb5-trace.log"

    def krb5_conf(self) -> str:
        libdefaults = {
            "default_realm": self.realm,
            "dns_lookup_kdc": "false",
            "dns_lookup_realm": "false",
            "dns_canonicalize_hostname": "false",
            "rdns": "false",
        }
        if self.kdc is not None and self.kdc.tcp_only:
            libdefaults["udp_preference_limit"] = "1"
        if not self.timesync:
            libdefaults["kdc_timesync"] = "0"
        if self.enctypes:
            names = " ".join(self.enctypes)
            for setting in ("permitted_enctypes", "default_tkt_enctypes", "default_tgs_enctypes"):
                libdefaults[setting] = names
        lines = ["[libdefaults]", *(f"    {k} = {v}" for k, v in libdefaults.items())]
        if self.kdc is not None:
            lines += [
                "[realms]",
                f"    {self.realm} = {{",
                f"        kdc = {self.kdc.host}:{self.kdc.port}",
                "    }",
                "[domain_realm]",
                f"    localhost = {self.realm}",
            ]
        return "\n".join(lines) + "\n"

    def env(self) -> dict[str, str]:
        """The environment MIT's programs run with: this peer's files and nothing else."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KRB5", "ORTHRUS_"))}
        env.update(
            KRB5_CONFIG=str(self.config),
            KRB5CCNAME=f"FILE:{self.ccache}",
            KRB5_KTNAME=f"FILE:{self.keytab}",
            KRB5_CLIENT_KTNAME=f"FILE:{self.keytab}",
            KRB5RCACHEDIR=str(self.directory),
            KRB5_TRACE=str(self.trace),
            LC_ALL="C",
            TZ="UTC",
        )
        env.update(self.extra_env)
        return env

    def run(self, *argv: str, input: str | None = None, timeout: float = 30) -> MITResult:
        """Run an MIT command (``argv[0]`` found on PATH) with :meth:`env`, feeding ``input``
        on standard input; a command still running after ``timeout`` seconds fails the test."""
        try:
            done = subprocess.run(
                argv,
                input=input,
                capture_output=True,
                text=True,
                env=self.env(),
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{' '.join(argv)} did not finish within {timeout} s; trace:\n{self.trace_tail()}"
            ) from None
        return MITResult(done.returncode, done.stdout, done.stderr)

    def ok(self, *argv: str, input: str | None = None) -> str:
        """:meth:`run` that must succeed; its standard output."""
        result = self.run(*argv, input=input)
        if result.rc != 0:
            raise AssertionError(
                f"{' '.join(argv)} exited {result.rc}: {result.stderr.strip()}\n"
                f"trace:\n{self.trace_tail()}"
            )
        return result.stdout

    def trace_tail(self, lines: int = 30) -> str:
        if not self.trace.exists():
            return "(no trace)"
        return "\n".join(self.trace.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class PeerKDC:
    """A running Orthrus KDC: its realm (for ``orthrus-kdc`` commands), HTTP URL and
    Kerberos port (None until the KDC has a Kerberos listener)."""

    realm: Realm
    url: str
    kerberos_port: int | None

    def address(self, tcp_only: bool = False) -> KDCAddress:
        """Where MIT clients reach this KDC; skips the test while there is no listener."""
        if self.kerberos_port is None:
            pytest.skip("the Orthrus KDC has no Kerberos listener yet (issue 14 §3)")
        return KDCAddress(self.kerberos_port, tcp_only=tcp_only)
