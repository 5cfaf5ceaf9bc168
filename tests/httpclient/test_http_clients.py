"""Clients of a protected service: `orthrus fetch`, `orthrus token`, the requests and httpx
auth classes, sealed bodies and mutual authentication, against a real service_demo."""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import requests
from support import REALM, User, assert_one_sentence_error

from client_lib.api import Client
from client_lib.config import ClientSettings
from client_lib.http_auth import (
    HttpxTicketAuth,
    Pending,
    PlainRequest,
    RequestsTicketAuth,
    TicketAuthenticator,
    fetch_sealed,
)
from orthrus.errors import APError
from orthrus.principal import Principal

SERVICE = Principal.parse(f"HTTP/localhost@{REALM}")


def api_client(user: User) -> Client:
    return Client(ClientSettings(kdc_url=user.kdc_url, ccache=str(user.ccache)))


@contextmanager
def impostor() -> Iterator[str]:
    """Answers 200 to anything, asking for no ticket and proving nothing."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_fetch_answers_the_challenge_and_prints_the_body(alice: User, service_url: str) -> None:
    result = alice.run("fetch", f"{service_url}/whoami")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["principal"] == f"alice@{REALM}"
    assert body["groups"] == ["admins"]


def test_fetch_of_a_forbidden_page_fails_with_the_reason(bob: User, service_url: str) -> None:
    result = bob.run("fetch", f"{service_url}/admin/stats")
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]["name"] == "KDC_ERR_POLICY"
    # As curl -f does, the status goes to stderr: the body alone does not say it.
    assert result.stderr.strip() == f"orthrus: HTTP 403 FORBIDDEN: {service_url}/admin/stats"


def test_fetch_mutual_checks_the_service_reply(alice: User, service_url: str) -> None:
    result = alice.run("fetch", "--mutual", f"{service_url}/whoami")
    assert result.returncode == 0, result.stderr
    assert "proved its identity" in result.stderr


def test_fetch_mutual_refuses_an_impostor(alice: User) -> None:
    with impostor() as fake:
        result = alice.run("fetch", "--mutual", f"{fake}/whoami")
    assert_one_sentence_error(result, "KRB_AP_ERR_MUT_FAIL")


def test_fetch_encrypt_posts_a_sealed_note(alice: User, service_url: str) -> None:
    posted = alice.run(
        "fetch", "--encrypt", "-d", '{"text": "sealed note"}', f"{service_url}/notes"
    )
    assert posted.returncode == 0, posted.stderr
    assert json.loads(posted.stdout)["text"] == "sealed note"
    listed = alice.run("fetch", f"{service_url}/notes")
    assert "sealed note" in [n["text"] for n in json.loads(listed.stdout)["notes"]]


def test_sealed_body_never_travels_in_clear(alice: User, service_url: str) -> None:
    sent: list[bytes] = []
    seen: list[bytes] = []

    def on_request(request: httpx.Request) -> None:
        sent.append(request.read())

    def on_response(response: httpx.Response) -> None:
        seen.append(response.read())

    client = api_client(alice)
    with httpx.Client(event_hooks={"request": [on_request], "response": [on_response]}) as http:
        plain = PlainRequest("POST", f"{service_url}/notes", b'{"text": "top secret"}', {})
        reply = fetch_sealed(http, TicketAuthenticator(client), plain)
    assert json.loads(reply.body)["text"] == "top secret"
    assert b"top secret" not in b"".join(sent) + b"".join(seen)
    assert reply.response.headers["Content-Type"].startswith("application/orthrus-priv")


def test_token_works_once_with_curl_style_header(alice: User, service_url: str) -> None:
    token = alice.run("token", str(SERVICE)).stdout.strip()
    headers = {"Authorization": f"Ticket {token}"}
    assert httpx.get(f"{service_url}/whoami", headers=headers).status_code == 200
    replay = httpx.get(f"{service_url}/whoami", headers=headers)
    assert replay.status_code == 401
    assert replay.json()["error"]["name"] == "KRB_AP_ERR_REPEAT"


def test_token_bound_to_one_path_is_refused_on_another(alice: User, service_url: str) -> None:
    token = alice.run("token", "--method", "GET", "--path", "/whoami", str(SERVICE)).stdout.strip()
    moved = httpx.get(f"{service_url}/notes", headers={"Authorization": f"Ticket {token}"})
    assert moved.status_code == 401
    assert moved.json()["error"]["name"] == "KRB_AP_ERR_MODIFIED"


def test_token_needs_method_and_path_together(alice: User) -> None:
    result = alice.run("token", "--method", "GET", str(SERVICE))
    assert result.returncode != 0
    assert "--method and --path go together" in result.stderr


@pytest.mark.parametrize("preemptive", [False, True])
def test_requests_auth_class(alice: User, service_url: str, preemptive: bool) -> None:
    auth = RequestsTicketAuth(TicketAuthenticator(api_client(alice), mutual=True), preemptive)
    response = requests.get(f"{service_url}/whoami", auth=auth, timeout=10)
    assert response.status_code == 200
    assert response.json()["principal"] == f"alice@{REALM}"


@pytest.mark.parametrize("preemptive", [False, True])
def test_httpx_auth_class(alice: User, service_url: str, preemptive: bool) -> None:
    auth = HttpxTicketAuth(TicketAuthenticator(api_client(alice), mutual=True), preemptive)
    response = httpx.post(f"{service_url}/notes", json={"text": "via httpx"}, auth=auth)
    assert response.status_code in (200, 201)
    assert auth.last_reply is not None  # the AP-REP was checked


def test_requests_auth_refuses_an_impostor_when_mutual(alice: User) -> None:
    auth = RequestsTicketAuth(TicketAuthenticator(api_client(alice), mutual=True))
    with impostor() as fake, pytest.raises(APError) as refused:
        requests.get(f"{fake}/whoami", auth=auth, timeout=10)
    assert refused.value.name == "KRB_AP_ERR_MUT_FAIL"


def test_a_forged_mutual_reply_is_refused(alice: User, service_url: str) -> None:
    """A reply header that is not an AP-REP under our session key fails the check."""
    authenticator = TicketAuthenticator(api_client(alice), SERVICE, mutual=True)
    _, pending = authenticator.authorization("GET", f"{service_url}/whoami", None)
    other_token = alice.run("token", "--mutual", str(SERVICE)).stdout.strip()
    reply = httpx.get(f"{service_url}/whoami", headers={"Authorization": f"Ticket {other_token}"})
    # The service's genuine reply, but to another authenticator: not ours.
    assert isinstance(pending, Pending)
    with pytest.raises(APError) as refused:
        authenticator.check_response(reply.headers, pending)
    assert refused.value.name == "KRB_AP_ERR_MUT_FAIL"
    with pytest.raises(APError):
        authenticator.check_response({"Authentication-Info": "Ticket AAAA"}, pending)
    with pytest.raises(APError):
        authenticator.check_response({}, pending)


def _send(library: str, auth: Any, url: str) -> Any:
    if library == "requests":
        return requests.get(url, auth=auth, timeout=10)
    return httpx.get(url, auth=auth)


@pytest.mark.parametrize("library", ["requests", "httpx"])
def test_auth_classes_use_the_session_the_service_hands_out(
    alice: User, service_url: str, library: str
) -> None:
    """The first request answers the challenge with a ticket and gets a session; the next
    ones send the session with a fresh proof each (no AP-REQ); a session the service
    refuses is dropped and the request answered with a ticket again."""
    authenticator = TicketAuthenticator(api_client(alice))
    auth_class = RequestsTicketAuth if library == "requests" else HttpxTicketAuth
    auth = auth_class(authenticator)  # type: ignore[abstract]
    methods = [
        _send(library, auth, f"{service_url}/whoami").json()["auth_method"] for _ in range(3)
    ]
    assert methods == ["ticket", "session", "session"]
    assert _send(library, auth, f"{service_url}/notes").status_code == 200
    # The service no longer takes the session (say its key left the keytab): a ticket again.
    origin = service_url.lower()
    held = authenticator._sessions[origin]
    authenticator._sessions[origin] = dataclasses.replace(held, token=held.token[:-4] + "AAAA")
    answer = _send(library, auth, f"{service_url}/whoami")
    assert answer.status_code == 200 and answer.json()["auth_method"] == "ticket"
    assert _send(library, auth, f"{service_url}/whoami").json()["auth_method"] == "session"


def test_mutual_authentication_never_uses_a_session(alice: User, service_url: str) -> None:
    """A session's answers carry no AP-REP, so a client asking for mutual authentication
    sends a ticket every time (and checks every reply)."""
    auth = HttpxTicketAuth(TicketAuthenticator(api_client(alice), mutual=True))
    for _ in range(2):
        response = httpx.get(f"{service_url}/whoami", auth=auth)
        assert response.json()["auth_method"] == "ticket"
        assert auth.last_reply is not None
