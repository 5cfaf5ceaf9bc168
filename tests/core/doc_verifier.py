"""An AP-REQ verifier written from docs/protocol.md alone, on an independent JOSE library.

This is what someone implementing Orthrus's service side in another code base would write
from the document: jwcrypto for JWE (RFC 7516), JWS (RFC 7515) and JWK (RFC 7517),
cryptography's HKDF (RFC 5869), and the standard library. It imports nothing of the project
(``test_protocol_from_docs.py`` checks that), so where it agrees with Orthrus the document
was enough. Each check cites the section of docs/protocol.md it comes from; the order is
that of "Verifying an AP-REQ: the order of checks".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwcrypto import jwe, jwk, jws
from jwcrypto.common import JWException

__all__ = ["DocVerifier", "Refused", "b64u_decode", "ckey", "usage_key"]

TICKET_USAGE = 2
AP_AUTHENTICATOR_USAGE = 11
MAX_TOKEN = 32 * 1024
_B64U = re.compile(r"[A-Za-z0-9_-]*\Z")


class Refused(Exception):
    """The verifier's answer to a bad AP-REQ: a Kerberos error name and the failed check."""

    def __init__(self, code: str, check: str) -> None:
        super().__init__(f"{code}: {check}")
        self.code = code
        self.check = check


def b64u_decode(text: str) -> bytes:
    """Unpadded base64url ("Keys and their encoding": JOSE segments, JWK ``x``, the token)."""
    if not isinstance(text, str) or not _B64U.match(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64u_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _key_bytes(text: object) -> bytes:
    """A key in JSON: standard base64 with padding, 32 bytes ("Keys and their encoding")."""
    if not isinstance(text, str):
        raise ValueError("a key is a base64 string")
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise ValueError("an A256GCM key is 32 bytes")
    return raw


def usage_key(key: bytes, usage: int) -> bytes:
    """The per-usage key ("Per-usage keys"): HKDF-SHA256, no salt, info orthrus/usage/N, 32 B."""
    info = b"orthrus/usage/" + str(usage).encode("ascii")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


def ckey(session_key: bytes) -> str:
    """The ``ckey`` claim ("KDC-signed authorization data")."""
    return _b64u_encode(hashlib.sha256(b"orthrus/authz/ckey|" + session_key).digest())


def open_part(token: object, key: bytes, usage: int, ctx: str | None) -> dict[str, Any]:
    """Open a sealed part ("Encrypted parts (JWE)"): header checks, then jwcrypto decrypts."""
    if not isinstance(token, str):
        raise Refused("KRB_AP_ERR_MODIFIED", "jwe-form")
    segments = token.split(".")
    if len(segments) != 5 or segments[1] != "":
        raise Refused("KRB_AP_ERR_MODIFIED", "jwe-form")
    try:
        header = json.loads(b64u_decode(segments[0]))
    except ValueError:
        raise Refused("KRB_AP_ERR_MODIFIED", "jwe-header") from None
    if not isinstance(header, dict):
        raise Refused("KRB_AP_ERR_MODIFIED", "jwe-header")
    if header.get("alg") != "dir" or header.get("enc") != "A256GCM":
        raise Refused("KRB_AP_ERR_MODIFIED", "alg")
    if type(header.get("usage")) is not int or header["usage"] != usage:
        raise Refused("KRB_AP_ERR_MODIFIED", "usage")
    if header.get("ctx") != ctx:
        raise Refused("KRB_AP_ERR_MODIFIED", "ctx")
    cek = jwk.JWK(kty="oct", k=_b64u_encode(usage_key(key, usage)))
    sealed = jwe.JWE(algs=["dir", "A256GCM"])
    try:
        sealed.deserialize(token, key=cek)
        plaintext = json.loads(sealed.payload)
    except (JWException, ValueError):
        raise Refused("KRB_AP_ERR_MODIFIED", "tag") from None
    if not isinstance(plaintext, dict):
        raise Refused("KRB_AP_ERR_MODIFIED", "plaintext")
    return plaintext


@dataclass
class DocVerifier:
    """A service holding ``keytab`` (the keytab file's JSON) that accepts AP-REQ tokens."""

    keytab: dict[str, Any]
    max_skew: int = 300
    seen: set[bytes] = field(default_factory=set)

    def verify(self, token: str, now: float) -> tuple[str, list[str]]:
        """The client and its KDC-signed groups, or :class:`Refused` at the first failed check."""
        ap_req = self._decode(token)
        ticket = ap_req["ticket"]
        server = ticket["server"]
        entries = [e for e in self.keytab["entries"] if e["principal"] == server]
        if not entries:
            raise Refused("KRB_AP_ERR_NOT_US", "server")
        keys = {e["kvno"]: e for e in entries if e.get("enctype", "A256GCM") == "A256GCM"}
        if ticket["kvno"] not in keys:
            raise Refused("KRB_AP_ERR_BADKEYVER", "kvno")
        service_key = _key_bytes(keys[ticket["kvno"]]["key"])
        part = open_part(ticket["enc_part"], service_key, TICKET_USAGE, ctx=server)
        try:
            session_key = _key_bytes(part["key"]["value"])
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise Refused("KRB_AP_ERR_MODIFIED", "session-key") from None
        authenticator = open_part(
            ap_req["authenticator"], session_key, AP_AUTHENTICATOR_USAGE, ctx=None
        )
        if part["starttime"] - self.max_skew > now:
            raise Refused("KRB_AP_ERR_TKT_NYV", "starttime")
        if now > part["endtime"] + self.max_skew:
            raise Refused("KRB_AP_ERR_TKT_EXPIRED", "endtime")
        groups = self._authorization(part, server, session_key, now)
        if authenticator["client"] != part["client"]:
            raise Refused("KRB_AP_ERR_BADMATCH", "client")
        if abs(authenticator["ctime"] + authenticator["cusec"] / 10**6 - now) > self.max_skew:
            raise Refused("KRB_AP_ERR_SKEW", "ctime")
        tag = b64u_decode(ap_req["authenticator"].rsplit(".", 1)[1])
        entry = hashlib.sha256(f"{AP_AUTHENTICATOR_USAGE}|{server}|".encode() + tag).digest()
        if entry in self.seen:
            raise Refused("KRB_AP_ERR_REPEAT", "replay")
        self.seen.add(entry)
        return part["client"], groups

    def _decode(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN:
            raise Refused("KRB_ERR_FIELD_TOOLONG", "token")
        try:
            ap_req = json.loads(b64u_decode(token))
        except ValueError:
            raise Refused("KRB_ERR_GENERIC", "token") from None
        if not isinstance(ap_req, dict) or ap_req.get("type") != "AP-REQ":
            raise Refused("KRB_ERR_GENERIC", "token")
        return ap_req

    def _authorization(
        self, part: dict[str, Any], server: str, session_key: bytes, now: float
    ) -> list[str]:
        """ "KDC-signed authorization data": the KDC's signature, then every claim's binding."""
        token = part.get("authorization_data")
        if not isinstance(token, str):
            raise Refused("KRB_AP_ERR_MODIFIED", "authz-missing")
        signed = jws.JWS()
        try:
            signed.deserialize(token)
            header = signed.jose_header
        except (JWException, ValueError):
            raise Refused("KRB_AP_ERR_MODIFIED", "signature") from None
        if header.get("alg") != "EdDSA":
            raise Refused("KRB_AP_ERR_MODIFIED", "alg")
        published = (self.keytab.get("kdc_jwks") or {}).get("keys", [])
        matching = [k for k in published if k.get("kid") == header.get("kid")]
        if len(matching) != 1:
            raise Refused("KRB_AP_ERR_MODIFIED", "kid")
        signed.allowed_algs = ["EdDSA"]
        try:
            signed.verify(jwk.JWK(**matching[0]), alg="EdDSA")
            claims = json.loads(signed.payload)
        except (JWException, ValueError):
            raise Refused("KRB_AP_ERR_MODIFIED", "signature") from None
        expected = {
            "iss": server.rpartition("@")[2],
            "sub": part["client"],
            "aud": server,
            "iat": part["authtime"],
            "nbf": part["starttime"],
            "exp": part["endtime"],
        }
        for claim, value in expected.items():
            if claims.get(claim) != value or type(claims.get(claim)) is not type(value):
                raise Refused("KRB_AP_ERR_MODIFIED", claim)
        if not isinstance(claims.get("ckey"), str) or not hmac.compare_digest(
            claims["ckey"], ckey(session_key)
        ):
            raise Refused("KRB_AP_ERR_MODIFIED", "ckey")
        if claims["nbf"] - self.max_skew > now or now > claims["exp"] + self.max_skew:
            raise Refused("KRB_AP_ERR_MODIFIED", "authz-time")
        groups = claims.get("groups")
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise Refused("KRB_AP_ERR_MODIFIED", "groups")
        return groups
