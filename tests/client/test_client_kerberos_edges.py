"""The client's Kerberos-wire edges without a KDC: krb5:// URLs, KRB5CCNAME, the MIT cache
file refused when damaged or asked to hold a JSON ticket, and an unreachable KDC — each a
sentence saying what to do, never a traceback."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from support import BIN, User, clean_env

from client_lib.ccache import CredentialCache
from client_lib.config import load_client_settings, mit_ccache_path
from client_lib.kerberos_transport import KerberosAddress
from orthrus.credentials import Credential
from orthrus.errors import ConfigError
from orthrus.messages import EncryptionKey, Ticket
from orthrus.principal import Principal, krbtgt

ALICE = Principal.parse("alice@MIT.TEST")


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("krb5://kdc.mit.test", KerberosAddress("kdc.mit.test", 88, False)),
        ("krb5://127.0.0.1:8888", KerberosAddress("127.0.0.1", 8888, False)),
        ("krb5+tcp://kdc.mit.test:88/", KerberosAddress("kdc.mit.test", 88, True)),
    ],
)
def test_krb5_urls(url: str, address: KerberosAddress) -> None:
    assert KerberosAddress.parse(url) == address


@pytest.mark.parametrize(
    "url", ["http://kdc:88", "krb5://", "krb5://kdc/realm", "krb5://kdc:notaport", "krb5://u@kdc"]
)
def test_bad_krb5_urls_say_how_to_write_one(url: str) -> None:
    with pytest.raises(ConfigError, match="krb5://"):
        KerberosAddress.parse(url)


def test_krb5ccname_names_the_cache_only_with_a_krb5_kdc(tmp_path: Path) -> None:
    env = {"ORTHRUS_CONFIG": "/dev/null", "KRB5CCNAME": f"FILE:{tmp_path}/cc"}
    kerberos = load_client_settings({**env, "ORTHRUS_KDC_URL": "krb5://127.0.0.1:88"})
    assert (kerberos.ccache, kerberos.ccache_format) == (f"{tmp_path}/cc", "mit")
    json_api = load_client_settings({**env, "ORTHRUS_KDC_URL": "http://127.0.0.1:8088"})
    assert json_api.ccache == ""
    chosen = load_client_settings(
        {**env, "ORTHRUS_KDC_URL": "krb5://k", "ORTHRUS_CCACHE": "/x", "ORTHRUS_CCACHE_FORMAT": ""}
    )
    assert chosen.ccache == "/x"


@pytest.mark.parametrize(("name", "path"), [("FILE:/tmp/cc", "/tmp/cc"), ("/tmp/cc", "/tmp/cc")])
def test_file_ccache_names(name: str, path: str) -> None:
    assert mit_ccache_path(name) == path


@pytest.mark.parametrize("name", ["KEYRING:persistent:0", "KCM:", "DIR:/run/cc", "MEMORY:x"])
def test_other_ccache_types_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="FILE credential caches only"):
        mit_ccache_path(name)


def test_an_mit_cache_cannot_hold_a_json_ticket(tmp_path: Path) -> None:
    """``--ccache-format mit`` with an Orthrus KDC's JSON tickets: refused, nothing written."""
    credential = Credential(
        client=ALICE,
        server=krbtgt("MIT.TEST"),
        key=EncryptionKey("A256GCM", bytes(32)),
        ticket=Ticket(krbtgt("MIT.TEST"), 1, "sealed"),
        flags=[],
        authtime=1,
        starttime=1,
        endtime=2,
    )
    cache = CredentialCache(tmp_path / "cc", "mit", explicit=True)
    with pytest.raises(ConfigError, match="JSON ticket"):
        cache.initialize(ALICE, credential)
    assert not (tmp_path / "cc").exists()


def test_a_damaged_mit_cache_is_one_sentence(tmp_path: Path) -> None:
    ccache = tmp_path / "cc"
    ccache.write_bytes(b"\x05\x04\x00\x00\x00\x00\x00\x01\x00\x00\x00\x09")
    ccache.chmod(0o600)
    result = User("krb5://127.0.0.1:88", ccache).run("klist")
    assert result.returncode != 0
    assert "is damaged" in result.stderr and "offset" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_kdc_says_what_to_check(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on: connections are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = clean_env(
        ORTHRUS_KDC_URL=f"krb5+tcp://127.0.0.1:{port}", ORTHRUS_CCACHE=str(tmp_path / "cc")
    )
    result = subprocess.run(
        [str(BIN / "orthrus"), "kinit", str(ALICE)],
        input="pass\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "cannot reach the KDC" in result.stderr and "ORTHRUS_KDC_URL" in result.stderr
    assert "Traceback" not in result.stderr
