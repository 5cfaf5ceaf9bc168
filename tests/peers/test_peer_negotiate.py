"""``Authorization: Negotiate`` from real Kerberos clients (issue 15 §1, §2, §4).

MIT's ``kinit`` against the Orthrus KDC, then ``curl --negotiate`` and Python's ``gssapi``
(MIT's ``gss_init_sec_context``) against a running ``service_demo`` whose keytab is the MIT
one of ``orthrus-kdc ktadd --format mit``. The mutual authentication is checked by the
client library: ``gssapi`` completes its context on the service's token with the mutual
flag set, what requests-gssapi's ``REQUIRED`` asks (``requests_kerberos`` gets the page
too). A replayed header, a ticket for another service and a tampered token are each a 401
with both challenges. A service in a real MIT realm (``krb5kdc``, keytab from
``kadmin.local ktadd``) accepts ``curl --negotiate`` from a user of that realm.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from mit_peer import ALICE, ALICE_PASSWORD, KDCAddress, MITPeer, PeerKDC
from support import REALM, clean_env, free_port, stop, wait_http

SYSTEM_PYTHON = "/usr/bin/python3"
CAROL = f"carol@{REALM}"
CAROL_PASSWORD = "carol-peer-pass"
HTTP = f"HTTP/localhost@{REALM}"
CHALLENGES = ['Ticket realm="EXAMPLE.TEST"', "Negotiate"]

#: Run by Debian's Python with python3-gssapi (MIT's libgssapi_krb5): a SPNEGO context for
#: HTTP@localhost asking for mutual authentication. ``token`` prints the first token and
#: stops; ``fetch URL`` sends it, completes the context on the service's answer (which
#: fails without a valid AP-REP) and prints the body.
GSSAPI_CLIENT = """
import base64, sys, urllib.request, gssapi
service = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "token" else "HTTP@localhost"
name = gssapi.Name(service, gssapi.NameType.hostbased_service)
spnego = gssapi.Mechanism.from_sasl_name("SPNEGO")
mutual = gssapi.RequirementFlag.mutual_authentication
flags = mutual | gssapi.RequirementFlag.out_of_sequence_detection
ctx = gssapi.SecurityContext(name=name, mech=spnego, flags=flags, usage="initiate")
token = ctx.step()
if sys.argv[1] == "token":
    print(base64.b64encode(token).decode())
    sys.exit(0)
request = urllib.request.Request(sys.argv[2])
request.add_header("Authorization", "Negotiate " + base64.b64encode(token).decode())
with urllib.request.urlopen(request) as response:
    body = response.read().decode()
    scheme, _, answer = response.headers["WWW-Authenticate"].partition(" ")
assert scheme == "Negotiate", scheme
ctx.step(base64.b64decode(answer))
assert ctx.complete and mutual in ctx.actual_flags, "no mutual authentication"
print(body)
"""

#: requests_kerberos (Debian's python3-requests-kerberos; requests-gssapi is not packaged
#: for Debian 12) with mutual authentication REQUIRED. Like curl, it does not notice a
#: NegTokenResp without the AP-REP (MIT's SPNEGO completes without one, leaving the mutual
#: flag off): the AP-REP is proved by GSSAPI_CLIENT, which checks that flag.
REQUESTS_CLIENT = """
import sys, requests
from requests_kerberos import HTTPKerberosAuth, REQUIRED
response = requests.get(sys.argv[1], auth=HTTPKerberosAuth(mutual_authentication=REQUIRED))
response.raise_for_status()
print(response.text)
"""


def _python_module(name: str) -> str | None:
    """Why Debian's Python cannot import ``name`` (None: it can)."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} is not installed"
    found = subprocess.run(
        [SYSTEM_PYTHON, "-c", f"import {name}"], capture_output=True, timeout=60, check=False
    )
    if found.returncode != 0:
        return f"Debian's python3-{name.replace('_', '-')} is not installed ('make test' as root)"
    return None


def need_module(name: str) -> None:
    """Skip, saying why, unless Debian's Python has the module ``name``."""
    reason = _python_module(name)
    if reason:
        pytest.skip(reason)


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed ('make test' installs it as root)")


@dataclass
class Service:
    """A running ``service_demo`` (one worker) on a free port of 127.0.0.1."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        # curl and gssapi name the service after the URL's host: HTTP/localhost.
        return f"http://localhost:{self.port}"


def start_service(directory: Path, keytab: Path, principal: str, *extra: str) -> Service:
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = directory / "service.log"
    command = [
        sys.executable, "-m", "service_demo", "--keytab", str(keytab), "--port", str(port),
        "--db", str(directory / "notes.sqlite"), "--principal", principal, *extra,
    ]  # fmt: skip
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=clean_env(), cwd=directory
        )
    service = Service(port, process, log)
    try:
        wait_http(f"http://127.0.0.1:{port}/livez", process)
    except RuntimeError:
        stop(process)
        raise AssertionError(log.read_text()) from None
    return service


@dataclass
class NegotiateRealm:
    """The Orthrus KDC with carol (group staff) and HTTP/other, and a service_demo whose
    keytab is ``ktadd --format mit`` of HTTP/localhost, with the KDC's JWKS."""

    kdc: PeerKDC
    service: Service


@pytest.fixture(scope="module")
def negotiate_realm(
    start_kdc: Callable[..., PeerKDC], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NegotiateRealm]:
    kdc = start_kdc()
    kdc.realm.add_user("carol", CAROL_PASSWORD, "--group", "staff")
    kdc.realm.add_service(f"HTTP/other@{REALM}")
    directory = tmp_path_factory.mktemp("negotiate-service")
    keytab = directory / "http.keytab"
    kdc.realm.admin("ktadd", "--format", "mit", "-k", str(keytab), HTTP)
    jwks = directory / "jwks.json"
    jwks.write_text(httpx.get(f"{kdc.url}/.well-known/orthrus/jwks.json", timeout=30).text)
    service = start_service(directory, keytab, HTTP, "--kdc-jwks", str(jwks))
    yield NegotiateRealm(kdc, service)
    stop(service.process)
    assert "Traceback" not in service.log.read_text(), service.log.read_text()


@pytest.fixture
def carol(negotiate_realm: NegotiateRealm, make_mit: Callable[..., MITPeer]) -> MITPeer:
    """MIT's programs with carol's TGT from the Orthrus KDC (MIT kinit)."""
    need("curl")
    mit = make_mit(negotiate_realm.kdc.address())
    mit.ok("kinit", CAROL, input=f"{CAROL_PASSWORD}\n")
    return mit


def test_curl_negotiate_with_mit_kinit_names_the_principal_and_its_groups(
    negotiate_realm: NegotiateRealm, carol: MITPeer
) -> None:
    url = negotiate_realm.service.url + "/whoami"
    out = carol.ok("curl", "-4", "-sS", "-i", "--fail", "--negotiate", "-u", ":", url)
    head, _, body = out.replace("\r\n", "\n").partition("\n\n")
    whoami = json.loads(body)
    assert whoami["principal"] == CAROL
    assert whoami["groups"] == ["staff"]  # signed by the KDC, checked with its JWKS
    assert whoami["auth_method"] == "negotiate"
    # The answer carries the service's token (NegTokenResp with the AP-REP).
    assert any(line.lower().startswith("www-authenticate: negotiate ") for line in head.split("\n"))
    assert f"HTTP/localhost@{REALM}" in carol.ok("klist")  # MIT's ticket for the service


def test_gssapi_completes_mutual_authentication(
    negotiate_realm: NegotiateRealm, carol: MITPeer
) -> None:
    need_module("gssapi")
    url = negotiate_realm.service.url + "/whoami"
    out = carol.ok(SYSTEM_PYTHON, "-c", GSSAPI_CLIENT, "fetch", url)
    assert json.loads(out)["principal"] == CAROL


def test_requests_kerberos_with_mutual_authentication_required(
    negotiate_realm: NegotiateRealm, carol: MITPeer
) -> None:
    need_module("requests_kerberos")
    url = negotiate_realm.service.url + "/whoami"
    out = carol.ok(SYSTEM_PYTHON, "-c", REQUESTS_CLIENT, url)
    assert json.loads(out)["principal"] == CAROL


def _mit_token(mit: MITPeer, service: str = "HTTP@localhost") -> str:
    need_module("gssapi")
    return mit.ok(SYSTEM_PYTHON, "-c", GSSAPI_CLIENT, "token", service).strip()


def _refused(service: Service, token: str) -> dict[str, object]:
    response = httpx.get(
        f"http://127.0.0.1:{service.port}/whoami",
        headers={"Authorization": f"Negotiate {token}"},
        timeout=30,
    )
    assert response.status_code == 401, response.text
    assert response.headers.get_list("WWW-Authenticate") == CHALLENGES
    error: dict[str, object] = response.json()["error"]
    return error


def test_replayed_negotiate_header_is_repeat(
    negotiate_realm: NegotiateRealm, carol: MITPeer
) -> None:
    token = _mit_token(carol)
    first = httpx.get(
        f"http://127.0.0.1:{negotiate_realm.service.port}/whoami",
        headers={"Authorization": f"Negotiate {token}"},
        timeout=30,
    )
    assert first.status_code == 200, first.text
    assert _refused(negotiate_realm.service, token)["name"] == "KRB_AP_ERR_REPEAT"


def test_ticket_for_another_service_is_not_us(
    negotiate_realm: NegotiateRealm, carol: MITPeer
) -> None:
    token = _mit_token(carol, "HTTP@other")
    assert _refused(negotiate_realm.service, token)["name"] == "KRB_AP_ERR_NOT_US"


def test_tampered_token_is_modified(negotiate_realm: NegotiateRealm, carol: MITPeer) -> None:
    raw = bytearray(base64.b64decode(_mit_token(carol)))
    raw[-40] ^= 0x01  # inside the authenticator's ciphertext, at the end of the token
    token = base64.b64encode(bytes(raw)).decode()
    assert _refused(negotiate_realm.service, token)["name"] == "KRB_AP_ERR_MODIFIED"


def test_mit_kinit_with_alice_has_no_groups_but_an_identity(
    negotiate_realm: NegotiateRealm, make_mit: Callable[..., MITPeer]
) -> None:
    need("curl")
    mit = make_mit(negotiate_realm.kdc.address())
    mit.ok("kinit", ALICE, input=f"{ALICE_PASSWORD}\n")
    url = negotiate_realm.service.url + "/whoami"
    whoami = json.loads(mit.ok("curl", "-4", "-sS", "--fail", "--negotiate", "-u", ":", url))
    assert (whoami["principal"], whoami["groups"]) == (ALICE, [])


# A real MIT realm: krb5kdc, kdb5_util, kadmin.local (Debian's krb5-kdc, krb5-admin-server).

MIT_REALM = "MIT.TEST"
MIT_USER = f"dave@{MIT_REALM}"
MIT_PASSWORD = "dave-mit-pass"

_KDC_CONF = """[kdcdefaults]
    kdc_listen = 127.0.0.1:{port}
    kdc_tcp_listen = 127.0.0.1:{port}
[realms]
    {realm} = {{
        database_name = {dir}/principal
        key_stash_file = {dir}/stash
        acl_file = {dir}/kadm5.acl
        kdc_listen = 127.0.0.1:{port}
        kdc_tcp_listen = 127.0.0.1:{port}
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }}
[logging]
    kdc = FILE:{dir}/kdc.log
"""


def _wait_tcp(port: int, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Until krb5kdc accepts TCP connections (RFC 4120 §7.2.2), or it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"krb5kdc exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"krb5kdc did not listen on {port} within {timeout} s")


@pytest.fixture(scope="module")
def mit_realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MITPeer, Path]]:
    """A realm MIT.TEST served by MIT's krb5kdc, with dave and HTTP/localhost, whose keytab
    kadmin.local exported; the MITPeer is configured for it (and its KDC's files)."""
    need("krb5kdc", "kdb5_util", "kadmin.local", "curl")
    directory = tmp_path_factory.mktemp("mit-realm")
    port = free_port()
    peer = MITPeer(directory / "client", KDCAddress(port), realm=MIT_REALM)
    (directory / "kdc.conf").write_text(_KDC_CONF.format(port=port, realm=MIT_REALM, dir=directory))
    (directory / "kadm5.acl").write_text("")
    peer.extra_env["KRB5_KDC_PROFILE"] = str(directory / "kdc.conf")
    keytab = directory / "http.keytab"
    peer.ok("kdb5_util", "create", "-s", "-r", MIT_REALM, "-P", "Master-pw-1")
    peer.ok("kadmin.local", "-r", MIT_REALM, "-q", f"addprinc -pw {MIT_PASSWORD} dave")
    peer.ok("kadmin.local", "-r", MIT_REALM, "-q", "addprinc -randkey HTTP/localhost")
    peer.ok("kadmin.local", "-r", MIT_REALM, "-q", f"ktadd -k {keytab} HTTP/localhost")
    kdc = subprocess.Popen(
        ["krb5kdc", "-n", "-r", MIT_REALM],
        env=peer.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_tcp(port, kdc)
        yield peer, keytab
    finally:
        stop(kdc)


def test_service_with_a_kadmin_keytab_accepts_curl_from_an_mit_realm_user(
    mit_realm: tuple[MITPeer, Path], tmp_path: Path
) -> None:
    peer, keytab = mit_realm
    service = start_service(tmp_path / "service", keytab, f"HTTP/localhost@{MIT_REALM}")
    try:
        peer.ok("kinit", MIT_USER, input=f"{MIT_PASSWORD}\n")
        url = service.url + "/whoami"
        whoami = json.loads(peer.ok("curl", "-4", "-sS", "--fail", "--negotiate", "-u", ":", url))
        # A ticket of another KDC: the identity, and no groups (nothing the service can check).
        assert (whoami["principal"], whoami["groups"]) == (MIT_USER, [])
        assert whoami["service"] == f"HTTP/localhost@{MIT_REALM}"
        reason = _python_module("gssapi")
        if reason is None:  # and MIT's own library completes mutual authentication
            out = peer.ok(SYSTEM_PYTHON, "-c", GSSAPI_CLIENT, "fetch", url)
            assert json.loads(out)["principal"] == MIT_USER
    finally:
        stop(service.process)
    assert "Traceback" not in service.log.read_text()
