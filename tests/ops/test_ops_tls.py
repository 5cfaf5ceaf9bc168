"""TLS: ``orthrus-kdc serve`` and ``python -m service_demo`` terminate TLS themselves with a
certificate made here (a throwaway CA); the client verifies it against ``ORTHRUS_CA_FILE`` (or
the system store, which does not know it), and refuses plain ``http://`` to anything but
loopback unless ``ORTHRUS_ALLOW_PLAIN_HTTP`` says a proxy does TLS."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from ops_support import (
    SERVICE,
    SQLITE_USERS,
    Certificates,
    Server,
    make_certificates,
    start_kdc,
    start_service,
    stop_all,
)
from support import BIN, REALM, Realm, clean_env

NAME = f"tess@{REALM}"
#: A documentation address (RFC 5737): nothing answers there, and nothing may be sent.
REMOTE = "192.0.2.10"


@dataclass
class TLS:
    certs: Certificates
    kdc: Server
    service: Server

    def kdc_url(self) -> str:
        return self.kdc.url.replace("127.0.0.1", "localhost")

    def service_url(self) -> str:
        return self.service.url.replace("127.0.0.1", "localhost")


@pytest.fixture(scope="module")
def tls(sqlite_realm: Realm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLS]:
    base = tmp_path_factory.mktemp("tls")
    certs = make_certificates(base)
    pem = ["--certfile", str(certs.cert), "--keyfile", str(certs.key)]
    keytab = sqlite_realm.directory.parent / "http.keytab"
    kdc = start_kdc(sqlite_realm.directory, 1, args=pem, scheme="https")
    service = start_service(
        base / "svc", keytab, 1, args=[*pem, "--browser-sessions"], scheme="https"
    )
    context = ssl.create_default_context(cafile=str(certs.ca))
    kdc.verify = service.verify = context
    try:
        kdc.wait()
        service.wait()
        yield TLS(certs, kdc, service)
    finally:
        stop_all([kdc, service])
    for server in (kdc, service):
        assert not server.tracebacks(), server.log_text()


def orthrus(
    tmp_path: Path, *args: str, input: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """The ``orthrus`` CLI with a cache of this test's own and ``env``."""
    return subprocess.run(
        [str(BIN / "orthrus"), *args],
        input=input,
        capture_output=True,
        text=True,
        env=clean_env(ORTHRUS_CCACHE=str(tmp_path / "ccache"), **env),
        timeout=60,
    )


def test_client_verifies_the_kdc_and_service_certificates(tls: TLS, tmp_path: Path) -> None:
    env = {"ORTHRUS_KDC_URL": tls.kdc_url(), "ORTHRUS_CA_FILE": str(tls.certs.ca)}
    login = orthrus(tmp_path, "kinit", NAME, input=f"{SQLITE_USERS['tess']}\n", **env)
    assert login.returncode == 0, login.stderr
    fetched = orthrus(tmp_path, "fetch", "--mutual", tls.service_url() + "/whoami", **env)
    assert fetched.returncode == 0, fetched.stderr
    assert f'"principal": "{NAME}"' in fetched.stdout.replace('":"', '": "')
    assert "mutual authentication" in fetched.stderr
    # With browser sessions on, the session cookie is set over HTTPS, marked Secure.
    token = orthrus(tmp_path, "token", "--method", "GET", "--path", "/whoami", SERVICE, **env)
    reply = httpx.get(
        tls.service.url + "/whoami",
        headers={"Authorization": f"Ticket {token.stdout.strip()}"},
        verify=tls.service.verify,  # type: ignore[arg-type]
        timeout=10,
    )
    assert reply.status_code == 200
    cookie = reply.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_without_the_ca_the_certificate_is_refused(tls: TLS, tmp_path: Path) -> None:
    login = orthrus(
        tmp_path, "kinit", NAME, input=f"{SQLITE_USERS['tess']}\n", ORTHRUS_KDC_URL=tls.kdc_url()
    )
    assert login.returncode != 0
    assert "certificate" in login.stderr.lower() and "ORTHRUS_CA_FILE" in login.stderr
    assert "Traceback" not in login.stderr
    fetched = orthrus(tmp_path, "fetch", tls.service_url() + "/livez")
    assert fetched.returncode != 0 and "certificate" in fetched.stderr.lower()


def test_plain_http_only_to_loopback(tls: TLS, tmp_path: Path) -> None:
    remote = orthrus(tmp_path, "kinit", NAME, input="x\n", ORTHRUS_KDC_URL=f"http://{REMOTE}:8088")
    fetched = orthrus(tmp_path, "fetch", f"http://{REMOTE}/whoami")
    for result in (remote, fetched):
        assert result.returncode != 0
        assert "plain HTTP" in result.stderr and "https://" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    # TLS-only ports do not speak plain HTTP, even on loopback.
    with pytest.raises(httpx.HTTPError):
        httpx.get(tls.kdc.url.replace("https", "http") + "/livez", timeout=5)
    # ORTHRUS_ALLOW_PLAIN_HTTP lifts the refusal (a TLS proxy in between): the client now
    # tries to connect, so the error is about reaching the host, not about plain HTTP.
    (tmp_path / "client.toml").write_text("[client]\ntimeout = 1.0\n")
    allowed = orthrus(
        tmp_path,
        "kinit",
        NAME,
        input="x\n",
        ORTHRUS_KDC_URL=f"http://{REMOTE}:8088",
        ORTHRUS_ALLOW_PLAIN_HTTP="1",
        ORTHRUS_CONFIG=str(tmp_path / "client.toml"),
    )
    assert allowed.returncode != 0
    assert "cannot reach the KDC" in allowed.stderr and "plain HTTP" not in allowed.stderr
