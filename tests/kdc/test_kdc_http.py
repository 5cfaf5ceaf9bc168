"""The KDC over real HTTP (orthrus-kdc serve): what bad input gets.

Requests are built in-process with the protocol core and a chosen ``now``, then posted with
httpx to the session realm's KDC. Every refusal must be a 4xx JSON error, never a 500 nor a
traceback, and must change nothing in the principal database.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
from support import (
    REALM,
    Realm,
    credential_of,
    http_login,
    kdc_post,
    open_store,
    sqlite_snapshot,
)

from orthrus import codec
from orthrus.ap import open_ticket, seal_ticket
from orthrus.as_exchange import ASOptions, make_as_req
from orthrus.authz import AuthzSigner, AuthzVerifier
from orthrus.b64 import b64u_decode, b64u_encode
from orthrus.credentials import Credential
from orthrus.errors import ERROR_CODES
from orthrus.keys import Key, KeyUsage
from orthrus.keytab import Keytab
from orthrus.messages import (
    EncryptionKey,
    EncTicketPart,
    KDCReqBody,
    PAData,
    PAEncTimestamp,
    TGSRep,
)
from orthrus.principal import Principal, krbtgt
from orthrus.seal import seal
from orthrus.tgs_exchange import make_tgs_req, read_tgs_rep

ALICE = f"alice@{REALM}"
HTTP = Principal.parse(f"HTTP/localhost@{REALM}")
TGS = krbtgt(REALM)


def assert_json_error(response: httpx.Response, name: str | None = None, status: int | None = None):
    """A 4xx ``{"error": {"code", "name", "message"}}`` with no traceback; returns the error."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    error = response.json()["error"]
    assert set(error) <= {"code", "name", "message", "data"}
    assert {"code", "name", "message"} <= set(error)
    assert error["code"] == ERROR_CODES[error["name"]]
    assert isinstance(error["message"], str) and error["message"]
    if name is not None:
        assert error["name"] == name, error
    if status is not None:
        assert response.status_code == status
    return error


@pytest.fixture(scope="module")
def tgt(kdc_url: str) -> Credential:
    credential, _ = http_login(kdc_url, ALICE, "alice-pass", renewable_life=86400)
    return credential


@pytest.fixture(scope="module")
def krbtgt_key(realm: Realm) -> Key:
    """The realm's current krbtgt key, read in-process from the database (as the KDC does)."""
    with open_store(realm.directory) as store:
        (entry,) = [e for e in store.keytab_entries(TGS) if e.kvno == 1]
    return entry.to_key()


@pytest.fixture
def kdc_signer(realm: Realm) -> AuthzSigner:
    """The realm's signing key: the TGS checks it on a TGT, so a minted TGT needs it too."""
    with open_store(realm.directory) as store:
        return store.signer()


def tgs_post(url: str, message: object) -> httpx.Response:
    return kdc_post(url, "/v1/tgs", message)


def log_text(realm: Realm) -> str:
    return "".join(
        path.read_text(errors="replace")
        for pattern in ("kdc-*.log", "audit.log")
        for path in sorted(realm.directory.glob(pattern))
    )


# -- service --------------------------------------------------------------------------------


def test_readyz_livez(kdc_url: str) -> None:
    ready = httpx.get(f"{kdc_url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "realm": REALM}
    assert httpx.get(f"{kdc_url}/livez").json() == {"status": "ok"}


def test_jwks_serves_an_ed25519_public_key(
    kdc_url: str, tgt: Credential, http_keytab: Path
) -> None:
    response = httpx.get(f"{kdc_url}/.well-known/orthrus/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    keys = response.json()["keys"]
    assert keys
    for jwk in keys:
        assert jwk["kty"] == "OKP"
        assert jwk["crv"] == "Ed25519"
        assert jwk["alg"] == "EdDSA"
        assert len(b64u_decode(jwk["x"])) == 32
        assert jwk["kid"]
        assert "d" not in jwk
    # The published key is the one that signs tickets: a service can check groups with it.
    request = make_tgs_req(tgt, HTTP, time.time(), os.urandom)
    answer = tgs_post(kdc_url, request.message)
    assert answer.status_code == 200, answer.text
    ticket = read_tgs_rep(codec.decode(answer.content, TGSRep), request, time.time())
    service_key = Keytab.from_bytes(http_keytab.read_bytes()).keys_by_principal()[HTTP][1]
    part = open_ticket(ticket.ticket, service_key)
    groups = AuthzVerifier(response.json(), REALM).verify(part, HTTP, 300, now=time.time())
    assert groups == ("admins",)


def test_as_and_tgs_happy_path(kdc_url: str, tgt: Credential) -> None:
    assert tgt.server == TGS
    assert sorted(tgt.flags) == ["initial", "pre-authent", "renewable"]
    request = make_tgs_req(tgt, HTTP, time.time(), os.urandom)
    response = tgs_post(kdc_url, request.message)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert read_tgs_rep(codec.decode(response.content, TGSRep), request, time.time()).server == HTTP


# -- bad input ------------------------------------------------------------------------------


def as_doc() -> dict:
    req = make_as_req(Principal.parse(f"nobody@{REALM}"), time.time(), os.urandom, ASOptions())
    return json.loads(codec.encode(req))


def bad_requests(tgt: Credential) -> Iterator[tuple[str, str, bytes, str | None, int | None]]:
    """(method, path, body, expected error name or None, expected status or None)."""
    good_as = as_doc()
    tgs = json.loads(codec.encode(make_tgs_req(tgt, HTTP, time.time(), os.urandom).message))
    for body in (b"", b"{", b"null", b"[]", b"0", b'"AS-REQ"', b"\xff\xfe\x00", b"<as-req/>",
                 b"client=alice&server=krbtgt", b"[" * 20_000, b'{"a":' * 5_000):  # fmt: skip
        for path in ("/v1/as", "/v1/tgs"):
            yield "POST", path, body, "KRB_ERR_GENERIC", 400
    changes = [
        ("client", 7),
        ("client", "\u0430lice@EXAMPLE.TEST"),
        ("client", "alice@example.test"),
        ("client", "a" * 300),
        ("body", None),
        ("body", {"server": TGS.name}),
        ("padata", {}),
        ("type", "TGS-REQ"),
        ("extra", True),
    ]
    for field, value in changes:
        doc = dict(good_as, **{field: value})
        yield "POST", "/v1/as", json.dumps(doc).encode(), "KRB_ERR_GENERIC", 400
    for field, value in [("nonce", "1"), ("nonce", -1), ("till", 1.5), ("options", ["x"]),
                         ("server", None), ("extra", 1)]:  # fmt: skip
        doc = dict(good_as, body=dict(good_as["body"], **{field: value}))
        yield "POST", "/v1/as", json.dumps(doc).encode(), "KRB_ERR_GENERIC", 400
    for missing in ("client", "body"):
        doc = {k: v for k, v in good_as.items() if k != missing}
        yield "POST", "/v1/as", json.dumps(doc).encode(), "KRB_ERR_GENERIC", 400
    yield "POST", "/v1/tgs", json.dumps(good_as).encode(), "KRB_ERR_GENERIC", 400
    yield "POST", "/v1/as", json.dumps(tgs).encode(), "KRB_ERR_GENERIC", 400
    for field, value in [("ticket", "x"), ("authenticator", 5), ("extra", 1)]:
        doc = dict(tgs, ap_req=dict(tgs["ap_req"], **{field: value}))
        yield "POST", "/v1/tgs", json.dumps(doc).encode(), "KRB_ERR_GENERIC", 400
    # Well-formed JSON, garbage inside the sealed parts.
    for enc_part in ("x", "a.b.c.d.e", b64u_encode(b"[" * 30_000) + "..AAAAAAAAAAAAAAAA.AA.AA"):
        doc = dict(tgs, ap_req=dict(tgs["ap_req"], ticket=dict(tgs["ap_req"]["ticket"],
                                                               enc_part=enc_part)))  # fmt: skip
        yield "POST", "/v1/tgs", json.dumps(doc).encode(), "KRB_AP_ERR_MODIFIED", 400
    doc = dict(tgs, ap_req=dict(tgs["ap_req"], authenticator="a.b.c.d.e"))
    yield "POST", "/v1/tgs", json.dumps(doc).encode(), "KRB_AP_ERR_MODIFIED", 400
    doc = dict(tgs, ap_req=dict(tgs["ap_req"], ticket=dict(tgs["ap_req"]["ticket"], kvno=9)))
    yield "POST", "/v1/tgs", json.dumps(doc).encode(), "KRB_AP_ERR_BADKEYVER", 400
    # Unknown principals.
    yield "POST", "/v1/as", json.dumps(good_as).encode(), "KDC_ERR_C_PRINCIPAL_UNKNOWN", 404
    # Oversized.
    big = json.dumps(dict(good_as, client="a" * (64 * 1024))).encode()
    for path in ("/v1/as", "/v1/tgs"):
        yield "POST", path, big, "KRB_ERR_FIELD_TOOLONG", 413
        yield "POST", path, b" " * (1024 * 1024), "KRB_ERR_FIELD_TOOLONG", 413
    # Wrong methods and paths.
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        for path in ("/v1/as", "/v1/tgs"):
            yield method, path, b"", "KRB_ERR_GENERIC", 405
    yield "POST", "/livez", b"{}", "KRB_ERR_GENERIC", 405
    for path in ("/", "/v1", "/v2/as", "/v1/as/x", "/admin", "/../etc/passwd", "/%00"):
        yield "GET", path, b"", "KRB_ERR_GENERIC", 404
        yield "POST", path, b"{}", "KRB_ERR_GENERIC", 404


def test_bad_requests_get_4xx_json_and_change_nothing(
    realm: Realm, kdc_url: str, tgt: Credential
) -> None:
    db = realm.directory / "principal.db"
    before = sqlite_snapshot(db)
    log_before = log_text(realm)
    seen = 0
    with httpx.Client(timeout=10) as client:
        for method, path, body, name, status in bad_requests(tgt):
            for content_type in ("application/json", "text/plain"):
                # An oversized body gets its 413 on a connection of its own, as under
                # gunicorn, which closed the connection after draining 64 KiB of it.
                send = httpx.request if status == 413 else client.request
                response = send(
                    method,
                    f"{kdc_url}{path}",
                    content=body,
                    headers={"Content-Type": content_type},
                )
                try:
                    assert_json_error(response, name, status)
                except AssertionError as exc:
                    raise AssertionError(f"{method} {path} {body[:60]!r}: {exc}") from None
                seen += 1
    assert seen > 150
    assert sqlite_snapshot(db) == before
    new_log = log_text(realm)[len(log_before) :]
    assert "Traceback" not in new_log
    assert "internal error" not in new_log


def chunked(data: bytes, size: int = 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_chunked_oversized_body_is_413_not_truncated(kdc_url: str) -> None:
    """Without a Content-Length the limit must still refuse, not cut the body and go on."""
    probe = as_doc()
    for body in (b" " * 80 * 1024, json.dumps(probe).encode() + b" " * 80 * 1024):
        response = httpx.post(
            f"{kdc_url}/v1/as", content=chunked(body), headers={"Content-Type": "application/json"}
        )
        assert response.request.headers["Transfer-Encoding"] == "chunked"
        assert_json_error(response, "KRB_ERR_FIELD_TOOLONG", 413)
    # Within the limit, chunked or not, the request is read whole and answered.
    small = json.dumps(probe).encode() + b" " * 1000
    for content in (small, chunked(small)):
        response = httpx.post(f"{kdc_url}/v1/as", content=content)
        assert_json_error(response, "KDC_ERR_C_PRINCIPAL_UNKNOWN", 404)
    at_limit = b" " * (64 * 1024 - len(small)) + small
    assert_json_error(
        httpx.post(f"{kdc_url}/v1/as", content=at_limit), "KDC_ERR_C_PRINCIPAL_UNKNOWN"
    )


def test_preauth_with_a_nested_header_is_refused_not_500(kdc_url: str) -> None:
    req = make_as_req(Principal.parse(f"bob@{REALM}"), time.time(), os.urandom, ASOptions())
    nested = b64u_encode(b"[" * 30_000) + "..AAAAAAAAAAAAAAAA.AA.AAAAAAAAAAAAAAAAAAAAAA"
    req = msgspec.structs.replace(req, padata=[PAData("enc-timestamp", nested)])
    assert_json_error(kdc_post(kdc_url, "/v1/as", req), "KDC_ERR_PREAUTH_FAILED", 401)


def test_preauth_from_a_clock_far_in_the_future_is_skew_not_500(kdc_url: str) -> None:
    _, key = http_login(kdc_url, f"bob@{REALM}", "bob-pass")
    req = make_as_req(Principal.parse(f"bob@{REALM}"), time.time(), os.urandom, ASOptions())
    stamp = PAEncTimestamp(patimestamp=2**40 - 1, pausec=0)
    sealed = seal(key, KeyUsage.AS_REQ_PA_ENC_TIMESTAMP, codec.encode(stamp), os.urandom)
    req = msgspec.structs.replace(req, padata=[PAData("enc-timestamp", sealed)])
    assert_json_error(kdc_post(kdc_url, "/v1/as", req), "KRB_AP_ERR_SKEW", 400)


def test_preauth_skew_message_gives_both_clocks(kdc_url: str) -> None:
    _, key = http_login(kdc_url, f"bob@{REALM}", "bob-pass")
    client_now = time.time() + 3600
    req = make_as_req(Principal.parse(f"bob@{REALM}"), client_now, os.urandom, ASOptions(), key)
    error = assert_json_error(kdc_post(kdc_url, "/v1/as", req), "KRB_AP_ERR_SKEW", 400)
    assert "ahead of the KDC's" in error["message"]
    assert error["data"]["max_skew"] == 300
    assert abs(error["data"]["client_time"] - error["data"]["server_time"] - 3600) <= 2


# -- tickets over HTTP ------------------------------------------------------------------------


def with_enc_part(tgt: Credential, enc_part: str) -> Credential:
    return msgspec.structs.replace(
        tgt, ticket=msgspec.structs.replace(tgt.ticket, enc_part=enc_part)
    )


@pytest.mark.parametrize("part", [0, 2, 3, 4])
def test_tampered_tgt_is_modified(kdc_url: str, tgt: Credential, part: int) -> None:
    pieces = tgt.ticket.enc_part.split(".")
    raw = bytearray(b64u_decode(pieces[part]))
    raw[len(raw) // 2] ^= 0x80
    pieces[part] = b64u_encode(bytes(raw))
    tampered = with_enc_part(tgt, ".".join(pieces))
    request = make_tgs_req(tampered, HTTP, time.time(), os.urandom)
    assert_json_error(tgs_post(kdc_url, request.message), "KRB_AP_ERR_MODIFIED", 400)


def test_truncated_tgt_is_modified(kdc_url: str, tgt: Credential) -> None:
    truncated = with_enc_part(tgt, tgt.ticket.enc_part[:-3])
    request = make_tgs_req(truncated, HTTP, time.time(), os.urandom)
    assert_json_error(tgs_post(kdc_url, request.message), "KRB_AP_ERR_MODIFIED", 400)


def minted_tgt(krbtgt_key: Key, signer: AuthzSigner, start: float, life: int) -> Credential:
    """A TGT for alice sealed with the real krbtgt key and signed with the real signing key,
    with times of our choosing."""
    session = EncryptionKey.from_key(Key.generate(os.urandom))
    part = EncTicketPart(
        flags=["initial", "pre-authent"],
        key=session,
        client=Principal.parse(ALICE),
        authtime=int(start),
        starttime=int(start),
        endtime=int(start) + life,
    )
    part = msgspec.structs.replace(part, authorization_data=signer.sign(part, TGS, ()))
    return credential_of(part, seal_ticket(part, TGS, krbtgt_key, os.urandom))


def test_expired_tgt_is_tkt_expired(kdc_url: str, krbtgt_key: Key, kdc_signer: AuthzSigner) -> None:
    now = time.time()
    # Sanity: a fresh minted TGT is accepted, so the refusal below is about time only.
    fresh = make_tgs_req(minted_tgt(krbtgt_key, kdc_signer, now - 60, 3600), HTTP, now, os.urandom)
    assert tgs_post(kdc_url, fresh.message).status_code == 200
    expired = minted_tgt(krbtgt_key, kdc_signer, now - 4 * 3600, 3 * 3600 - 400)
    request = make_tgs_req(expired, HTTP, now, os.urandom)
    error = assert_json_error(tgs_post(kdc_url, request.message), "KRB_AP_ERR_TKT_EXPIRED", 400)
    assert "orthrus kinit" in error["message"]


def test_replayed_tgs_request_is_repeat(kdc_url: str, tgt: Credential) -> None:
    request = make_tgs_req(tgt, HTTP, time.time(), os.urandom)
    assert tgs_post(kdc_url, request.message).status_code == 200
    assert_json_error(tgs_post(kdc_url, request.message), "KRB_AP_ERR_REPEAT", 400)


def test_body_changed_in_transit_is_modified_and_the_original_still_works(
    kdc_url: str, tgt: Credential
) -> None:
    request = make_tgs_req(tgt, HTTP, time.time(), os.urandom)
    body = msgspec.structs.replace(request.message.body, server=TGS)
    changed = msgspec.structs.replace(request.message, body=body)
    assert_json_error(tgs_post(kdc_url, changed), "KRB_AP_ERR_MODIFIED", 400)
    assert tgs_post(kdc_url, request.message).status_code == 200


def test_skewed_authenticator(kdc_url: str, tgt: Credential) -> None:
    request = make_tgs_req(tgt, HTTP, time.time() - 400, os.urandom)
    error = assert_json_error(tgs_post(kdc_url, request.message), "KRB_AP_ERR_SKEW", 400)
    assert "behind the KDC's" in error["message"]


def test_unknown_service_and_service_ticket_as_tgt(kdc_url: str, tgt: Credential) -> None:
    nowhere = Principal.parse(f"HTTP/nowhere@{REALM}")
    request = make_tgs_req(tgt, nowhere, time.time(), os.urandom)
    assert_json_error(tgs_post(kdc_url, request.message), "KDC_ERR_S_PRINCIPAL_UNKNOWN", 404)
    request = make_tgs_req(tgt, HTTP, time.time(), os.urandom)
    reply = codec.decode(tgs_post(kdc_url, request.message).content, TGSRep)
    service = read_tgs_rep(reply, request, time.time())
    misuse = make_tgs_req(service, HTTP, time.time(), os.urandom)
    assert_json_error(tgs_post(kdc_url, misuse.message), "KRB_AP_ERR_NOT_US", 400)


def test_tgt_of_another_realm_is_wrong_realm(kdc_url: str, tgt: Credential) -> None:
    other = Principal.parse("krbtgt/OTHER.TEST@OTHER.TEST")
    foreign = msgspec.structs.replace(
        tgt, server=other, ticket=msgspec.structs.replace(tgt.ticket, server=other)
    )
    request = make_tgs_req(foreign, HTTP, time.time(), os.urandom)
    assert_json_error(tgs_post(kdc_url, request.message), "KDC_ERR_WRONG_REALM", 400)


def test_renewal_over_http(kdc_url: str, tgt: Credential) -> None:
    body = KDCReqBody(server=TGS, nonce=77, till=tgt.renew_till or 0, options=["renew"])
    request = make_tgs_req(tgt, TGS, time.time(), os.urandom, body)
    response = tgs_post(kdc_url, request.message)
    assert response.status_code == 200, response.text
    renewed = read_tgs_rep(codec.decode(response.content, TGSRep), request, time.time())
    assert renewed.renew_till == tgt.renew_till
    assert "initial" not in renewed.flags
