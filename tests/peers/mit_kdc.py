"""A real MIT Kerberos KDC (``krb5kdc``) for the ``orthrus`` client to talk to (issue 15 §3):
realm MIT.TEST made by ``kdb5_util`` and ``kadmin.local`` in a temporary directory
(:class:`bench.mit.MITRealm`, the realm the benchmarks compare against), on a free port of
127.0.0.1 over UDP and TCP, with

- ``alice`` (a password, pre-authentication required) and ``bob`` (a password, none);
- ``HTTP/localhost`` (a random key), its key exported by ``kadmin.local ktadd``;
- alice's keys in an MIT keytab (``ktadd -norandkey``), for ``orthrus kinit -k -t``.

Every test here skips, saying why, when MIT's KDC programs are not installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from mit_peer import missing_mit_tools
from support import User

from bench.mit import MITRealm

REALM = "MIT.TEST"
ALICE = f"alice@{REALM}"
BOB = f"bob@{REALM}"
ALICE_PASSWORD = "alice-mit-pass"
BOB_PASSWORD = "bob-mit-pass"
HTTP_SERVICE = f"HTTP/localhost@{REALM}"
TGT = f"krbtgt/{REALM}@{REALM}"

#: MIT's KDC and administration programs (Debian krb5-kdc, krb5-admin-server).
KDC_TOOLS = ("krb5kdc", "kdb5_util", "kadmin.local")


@dataclass
class MITKDC:
    """The running KDC, its realm's files and the keytabs exported from it."""

    realm: MITRealm
    http_keytab: Path
    alice_keytab: Path

    @property
    def port(self) -> int:
        return self.realm.port

    def url(self, tcp_only: bool = False) -> str:
        """``ORTHRUS_KDC_URL`` for this KDC: ``krb5://`` (UDP, then TCP) or ``krb5+tcp://``."""
        scheme = "krb5+tcp" if tcp_only else "krb5"
        return f"{scheme}://127.0.0.1:{self.port}"

    def user(self, ccache: Path, tcp_only: bool = False) -> User:
        """The ``orthrus`` CLI pointed at this KDC with its own credential cache."""
        return User(self.url(tcp_only), ccache)

    def mit_env(self, ccache: Path) -> dict[str, str]:
        """MIT's programs pointed at this KDC and at ``ccache``."""
        return dict(self.realm.env, KRB5CCNAME=f"FILE:{ccache}", LC_ALL="C", TZ="UTC")


def start_mit_kdc(directory: Path, max_dgram_reply: int = 4096) -> MITKDC:
    """A new MIT.TEST realm with its principals and keytabs, its KDC started (and ready)."""
    reason = missing_mit_tools(KDC_TOOLS, "Debian krb5-kdc, krb5-admin-server")
    if reason:
        pytest.skip(reason)
    realm = MITRealm(directory, REALM)
    realm.create(max_dgram_reply)
    realm.kadmin(f"addprinc -pw {ALICE_PASSWORD} +requires_preauth alice")
    realm.kadmin(f"addprinc -pw {BOB_PASSWORD} -requires_preauth bob")
    realm.kadmin("addprinc -randkey HTTP/localhost")
    http_keytab, alice_keytab = realm.dir / "http.keytab", realm.dir / "alice.keytab"
    realm.kadmin(f"ktadd -k {http_keytab} HTTP/localhost")
    realm.kadmin(f"ktadd -norandkey -k {alice_keytab} alice")
    realm.start_kdc()
    return MITKDC(realm, http_keytab, alice_keytab)
