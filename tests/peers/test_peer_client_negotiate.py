"""``orthrus fetch --negotiate`` and the ``requests``/``httpx`` auth classes against a real
``service_demo`` whose keytab MIT's ``kadmin.local ktadd`` exported, with tickets from MIT's
``krb5kdc`` (issue 15 §3): the service names the user, and with ``--mutual`` its AP-REP is
checked."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mit_kdc import ALICE, ALICE_PASSWORD, HTTP_SERVICE, MITKDC
from support import User, clean_env, free_port, stop, wait_http


@pytest.fixture(scope="module")
def service_url(mit_kdc: MITKDC, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """service_demo as HTTP/localhost@MIT.TEST, with the keytab kadmin.local exported."""
    port = free_port()
    work = tmp_path_factory.mktemp("negotiate-service")
    argv = [
        sys.executable, "-m", "service_demo", "--keytab", str(mit_kdc.http_keytab),
        "--port", str(port), "--workers", "1", "--db", str(work / "notes.sqlite"),
        "--principal", HTTP_SERVICE,
    ]  # fmt: skip
    with (work / "service.log").open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=clean_env())
    try:
        wait_http(f"http://127.0.0.1:{port}/livez", process)
        yield f"http://localhost:{port}"
    finally:
        stop(process)


@pytest.fixture
def alice(mit_kdc: MITKDC, tmp_path: Path) -> User:
    user = mit_kdc.user(tmp_path / "ccache")
    user.kinit(ALICE, ALICE_PASSWORD).check_returncode()
    return user


def test_fetch_negotiate_mutual_names_the_user(alice: User, service_url: str) -> None:
    result = alice.run("fetch", "--negotiate", "--mutual", f"{service_url}/whoami", check=True)
    assert f'"principal":"{ALICE}"' in result.stdout
    assert '"auth_method":"negotiate"' in result.stdout
    assert "the service proved its identity" in result.stderr


def test_fetch_with_a_krb5_kdc_answers_negotiate_by_itself(alice: User, service_url: str) -> None:
    """A krb5:// client holds DER tickets, which only Negotiate carries: no flag needed."""
    result = alice.run("fetch", f"{service_url}/whoami", check=True)
    assert f'"principal":"{ALICE}"' in result.stdout


def test_fetch_uses_a_tgt_mit_kinit_wrote(
    mit_kdc: MITKDC, service_url: str, tmp_path: Path
) -> None:
    ccache = tmp_path / "mit-ccache"
    done = subprocess.run(
        ["kinit", ALICE],
        input=f"{ALICE_PASSWORD}\n",
        env=mit_kdc.mit_env(ccache),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    user = mit_kdc.user(ccache)
    result = user.run("fetch", "--negotiate", "--mutual", f"{service_url}/whoami", check=True)
    assert f'"principal":"{ALICE}"' in result.stdout


_AUTH_CLASSES = """
import asyncio, sys, httpx, requests
from client_lib import HttpxTicketAuth, RequestsTicketAuth
url = sys.argv[1]
with httpx.Client(auth=HttpxTicketAuth(mutual=True, negotiate=True)) as http:
    reply = http.get(url)
    reply.raise_for_status()
    print("httpx", reply.json()["principal"])
reply = requests.get(url, auth=RequestsTicketAuth(mutual=True, negotiate=True), timeout=30)
reply.raise_for_status()
print("requests", reply.json()["principal"])

async def main():
    auth = HttpxTicketAuth(mutual=True, service="HTTP/localhost@MIT.TEST")
    async with httpx.AsyncClient(auth=auth) as http:
        reply = await http.get(url)
    await auth.aclose()
    reply.raise_for_status()
    print("httpx async", reply.json()["principal"])

asyncio.run(main())
"""


def test_requests_and_httpx_auth_classes_answer_negotiate(alice: User, service_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _AUTH_CLASSES, f"{service_url}/whoami"],
        env=alice.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == [f"httpx {ALICE}", f"requests {ALICE}", f"httpx async {ALICE}"]


def test_orthrus_token_is_a_negotiate_token_curl_can_send(alice: User, service_url: str) -> None:
    """``orthrus token`` with a krb5:// KDC prints the SPNEGO token for
    ``Authorization: Negotiate``, which any HTTP client can send."""
    token = alice.run("token", HTTP_SERVICE, check=True).stdout.strip()
    done = subprocess.run(
        ["curl", "-s", "-H", f"Authorization: Negotiate {token}", f"{service_url}/whoami"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f'"principal":"{ALICE}"' in done.stdout, done.stdout
