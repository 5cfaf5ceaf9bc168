"""The KDC's OpenAPI 3.1 description, served at ``GET /openapi.json``.

Request and reply schemas come from the message models (:mod:`orthrus_io.openapi`), so the
description is exactly what the codec accepts (RFC 4120 §5 messages as JSON,
docs/protocol.md). Every refusal is a 4xx JSON error; 503 only when a back end (database,
Redis) is down; 429 when a client is over its rate limit.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response

from orthrus.codec import encode
from orthrus.kadmin import OPERATIONS
from orthrus.kpasswd import KpasswdRep, KpasswdReq
from orthrus.messages import ASRep, ASReq, TGSRep, TGSReq
from orthrus.otp_enroll import OTPEnrollRep, OTPEnrollReq
from orthrus.priv import PRIV_CONTENT_TYPE
from orthrus_io.openapi import json_body, json_response, message_schemas, openapi_document

__all__ = ["kdc_openapi", "register_openapi"]

_ANY_OBJECT: dict[str, Any] = {"type": "object"}


def _exchange(summary: str, request: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "requestBody": json_body(request),
            "responses": {
                "200": json_response("the reply", reply),
                "4XX": json_response(
                    "refused: the Kerberos error (RFC 4120 §7.5.9) that applies; 413 for a "
                    "body over max_request_bytes, 429 over the rate limit"
                ),
                "503": json_response("a back end (database, Redis) is unavailable"),
            },
        }
    }


def _get(summary: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "responses": {
                "200": json_response("the document", schema or _ANY_OBJECT),
                "503": json_response("not ready", _ANY_OBJECT),
            },
        }
    }


def _admin() -> dict[str, Any]:
    sealed = {"content": {PRIV_CONTENT_TYPE: {"schema": {"type": "string"}}}}
    return {
        "post": {
            "summary": "remote administration, as MIT's kadmind (orthrus.kadmin): an "
            "Authorization: Ticket for kadmin/admin@REALM bound to the path, the request and "
            "the reply sealed as KRB-PRIV under the authenticator's subkey (RFC 4120 §5.7.1)",
            "parameters": [
                {
                    "name": "operation",
                    "in": "path",
                    "required": True,
                    "schema": {"enum": list(OPERATIONS)},
                }
            ],
            "requestBody": {"required": True, **sealed},
            "responses": {
                "200": {"description": "the sealed reply", **sealed},
                "4XX": json_response(
                    "refused: 401 the ticket (with the challenge), 403 a permission the ACL "
                    "lacks or ktadd off TLS and loopback, 404 no such principal"
                ),
                "503": json_response("a back end is down, or the ACL file is broken"),
            },
        }
    }


def kdc_openapi() -> dict[str, Any]:
    """The description of every route of :func:`kdc.app.create_app`."""
    refs, components = message_schemas(
        [ASReq, ASRep, TGSReq, TGSRep, KpasswdReq, KpasswdRep, OTPEnrollReq, OTPEnrollRep]
    )
    as_req, as_rep, tgs_req, tgs_rep, kpasswd_req, kpasswd_rep, enroll_req, enroll_rep = refs
    paths = {
        "/v1/as": _exchange("AS exchange: log in (RFC 4120 §3.1)", as_req, as_rep),
        "/v1/tgs": _exchange("TGS exchange: service tickets, renewal (§3.3)", tgs_req, tgs_rep),
        "/v1/kpasswd": _exchange("password change (RFC 3244)", kpasswd_req, kpasswd_rep),
        "/v1/admin/{operation}": _admin(),
        "/v1/otp/enroll": _exchange(
            "enroll an authenticator app for two-factor login (RFC 6238 TOTP)",
            enroll_req,
            enroll_rep,
        ),
        "/.well-known/orthrus/jwks.json": _get("the KDC's public signing keys (RFC 7517)"),
        "/v1/realm": _get("the realm's name, lab flag and clock skew"),
        "/livez": _get("the process runs"),
        "/readyz": _get("the database answers"),
        "/openapi.json": _get("this description"),
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "text format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }
    return openapi_document(
        "Orthrus KDC",
        "Kerberos V5 exchanges (RFC 4120) as JSON over HTTP; see docs/protocol.md",
        paths,
        components,
    )


def register_openapi(app: Flask) -> None:
    """Serve :func:`kdc_openapi` at ``GET /openapi.json`` (built once)."""
    document = encode(kdc_openapi())

    @app.get("/openapi.json")
    def openapi_json() -> Response:
        return Response(document, mimetype="application/json")
