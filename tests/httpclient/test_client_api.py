"""The public client API (issue 18): the one-line auth forms with defaults from the
environment, a session reusing service tickets, the async path over httpx.AsyncClient with
100 concurrent requests, and the errors a caller catches, against a real KDC and service."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from support import REALM, Realm, User, free_port
from test_http_clients import impostor

import client_lib
from client_lib.config import ClientSettings
from orthrus.errors import ConfigError, KDCError, TransportError
from orthrus.principal import Principal

ALICE = Principal.parse(f"alice@{REALM}")
#: The user the wrong passwords are tried on: alice's failures would count towards her
#: lockout (5 per 10 minutes) and lock her out of every other test of the session.
DAVE = Principal.parse(f"dave@{REALM}")


@pytest.fixture(scope="module")
def dave(realm: Realm) -> Principal:
    realm.add_user(str(DAVE), "dave-pass")
    return DAVE


@pytest.fixture
def alice_env(alice: User, monkeypatch: pytest.MonkeyPatch) -> User:
    """alice's credentials, given to the library only through ORTHRUS_* variables."""
    for name, value in alice.env().items():
        if name.startswith("ORTHRUS_"):
            monkeypatch.setenv(name, value)
    return alice


def client_of(user: User) -> client_lib.Client:
    return client_lib.Client(ClientSettings(kdc_url=user.kdc_url, ccache=str(user.ccache)))


def count_kdc_calls(monkeypatch: pytest.MonkeyPatch, transport: Any) -> list[str]:
    """The paths ``transport`` posts to from now on."""
    paths: list[str] = []
    exchange = transport.exchange

    def counted(path: str, *args: Any) -> Any:
        paths.append(path)
        return exchange(path, *args)

    monkeypatch.setattr(transport, "exchange", counted)
    return paths


def test_public_api_names_what_a_caller_needs() -> None:
    for name in ("Client", "AsyncClient", "LoginOptions", "RequestsTicketAuth", "BadPassword"):
        assert name in client_lib.__all__
    assert all(hasattr(client_lib, name) for name in client_lib.__all__)


def test_requests_one_line_auth_takes_its_defaults_from_the_environment(
    alice_env: User, service_url: str
) -> None:
    auth = client_lib.RequestsTicketAuth(mutual=True)
    response = requests.get(f"{service_url}/whoami", auth=auth, timeout=10)
    assert response.status_code == 200
    assert response.json()["principal"] == f"alice@{REALM}"


def test_httpx_one_line_auth_takes_keyword_options(alice_env: User, service_url: str) -> None:
    auth = client_lib.HttpxTicketAuth(mutual=True, service="HTTP/localhost", preemptive=True)
    response = httpx.get(f"{service_url}/whoami", auth=auth)
    assert response.json()["principal"] == f"alice@{REALM}"
    assert auth.last_reply is not None  # mutual: the AP-REP was checked
    assert len(response.history) == 0  # preemptive: no challenge round trip


def test_keyword_client_is_used_instead_of_the_environment(bob: User, service_url: str) -> None:
    auth = client_lib.HttpxTicketAuth(client=client_of(bob))
    assert httpx.get(f"{service_url}/whoami", auth=auth).json()["principal"] == f"bob@{REALM}"


def test_authenticator_and_keyword_options_do_not_mix(alice: User) -> None:
    authenticator = client_lib.TicketAuthenticator(client_of(alice))
    with pytest.raises(TypeError):
        client_lib.RequestsTicketAuth(authenticator, mutual=True)


def test_a_session_wide_auth_reuses_the_service_ticket(
    alice: User, service_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_of(alice)
    kdc_calls = count_kdc_calls(monkeypatch, client.transport)
    with requests.Session() as session:
        session.auth = client_lib.RequestsTicketAuth(mutual=True, client=client)
        for _ in range(3):
            response = session.get(f"{service_url}/whoami", timeout=10)
            assert response.json()["auth_method"] == "ticket"  # mutual: a ticket each time
    assert kdc_calls == ["/v1/tgs"]


def test_100_concurrent_async_requests_from_one_event_loop(
    alice: User, service_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The KDC exchange goes over httpx.AsyncClient (the blocking transport is never opened),
    once for all 100 requests, and every request is answered as alice."""
    client = client_of(alice)
    auth = client_lib.HttpxTicketAuth(client=client)
    kdc_calls = count_kdc_calls(monkeypatch, auth.authenticator.async_client.transport)

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(auth=auth, timeout=120, limits=limits) as http:
            calls = [http.get(f"{service_url}/whoami") for _ in range(100)]
            responses = await asyncio.gather(*calls)
        await auth.aclose()
        return responses

    responses = asyncio.run(run())
    assert [r.status_code for r in responses] == [200] * 100
    assert {r.json()["principal"] for r in responses} == {f"alice@{REALM}"}
    assert kdc_calls == ["/v1/tgs"]
    assert client._transport is None


def test_async_client_logs_in_with_the_same_checks(user: User, dave: Principal) -> None:
    async def run() -> None:
        settings = ClientSettings(kdc_url=user.kdc_url, ccache=str(user.ccache))
        async with client_lib.AsyncClient(settings) as client:
            with pytest.raises(client_lib.BadPassword):
                await client.login(dave, "wrong-pass")
            assert not user.ccache.exists()
            await client.login(ALICE, "alice-pass")
            ticket = await client.get_service_ticket(Principal.parse(f"HTTP/localhost@{REALM}"))
            assert ticket.client == ALICE

    asyncio.run(run())


def test_a_wrong_password_is_bad_password_with_its_code(user: User, dave: Principal) -> None:
    with pytest.raises(client_lib.BadPassword) as refused:
        client_of(user).login(dave, "wrong-pass")
    assert (refused.value.name, refused.value.code) == ("KDC_ERR_PREAUTH_FAILED", 24)
    assert isinstance(refused.value, KDCError)  # what callers caught before still works
    assert not user.ccache.exists()


def test_an_unreachable_kdc_is_kdc_unreachable(tmp_path: Path) -> None:
    settings = ClientSettings(
        kdc_url=f"http://127.0.0.1:{free_port()}", ccache=str(tmp_path / "cc")
    )
    with pytest.raises(client_lib.KDCUnreachable) as unreachable:
        client_lib.Client(settings).login(ALICE, "alice-pass")
    assert isinstance(unreachable.value, TransportError)
    assert unreachable.value.name == "KRB5_KDC_UNREACH"


def test_no_credentials_is_no_credentials(user: User, service_url: str) -> None:
    auth = client_lib.RequestsTicketAuth(client=client_of(user))
    with pytest.raises(client_lib.NoCredentials) as missing:
        requests.get(f"{service_url}/whoami", auth=auth, timeout=10)
    assert isinstance(missing.value, ConfigError)
    assert missing.value.name == "KRB5_FCC_NOFILE"


def test_a_refused_ticket_is_service_refused_with_the_services_code(
    alice: User, service_url: str
) -> None:
    token = alice.run("token", f"HTTP/localhost@{REALM}").stdout.strip()
    headers = {"Authorization": f"Ticket {token}"}
    assert httpx.get(f"{service_url}/whoami", headers=headers).status_code == 200
    replayed = httpx.get(f"{service_url}/whoami", headers=headers)
    with pytest.raises(client_lib.ServiceRefused) as refused:
        client_lib.raise_for_refusal(replayed)
    assert (refused.value.name, refused.value.code) == ("KRB_AP_ERR_REPEAT", 34)
    forbidden = requests.get(
        f"{service_url}/admin/stats", auth=client_lib.RequestsTicketAuth(client=client_of(alice))
    )
    client_lib.raise_for_refusal(forbidden)  # alice is an admin: not refused


def test_async_auth_refuses_an_impostor_when_mutual(alice: User) -> None:
    """The async flow is the sync one: a service that proves nothing is refused."""
    auth = client_lib.HttpxTicketAuth(mutual=True, client=client_of(alice))

    async def run(url: str) -> None:
        async with httpx.AsyncClient(auth=auth) as http:
            await http.get(f"{url}/whoami")

    with impostor() as fake, pytest.raises(client_lib.ProtocolError) as refused:
        asyncio.run(run(fake))
    assert refused.value.name == "KRB_AP_ERR_MUT_FAIL"
