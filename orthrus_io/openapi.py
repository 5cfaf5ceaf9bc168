"""Building OpenAPI 3.1 descriptions (whose schemas are JSON Schema 2020-12) of Orthrus apps.

Message schemas are generated from the message models themselves
(:func:`msgspec.json.schema_components`), so the description cannot drift from what the
codec accepts: the same types, bounds, tags and ``additionalProperties: false``. The KDC
(:mod:`kdc.openapi`) and ``service_demo`` (:mod:`service_demo.openapi`) serve theirs at
``GET /openapi.json``; the fuzzers (``scripts/fuzz.sh``, ``tests/fuzz``) generate requests
from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from orthrus.principal import MAX_NAME_LENGTH, Principal

__all__ = ["ERROR_SCHEMA", "json_body", "json_response", "message_schemas", "openapi_document"]

_REF = "#/components/schemas/{name}"

#: The JSON error every refusal carries (docs/protocol.md, "Errors").
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "name", "message"],
            "properties": {
                "code": {"type": "integer"},
                "name": {"type": "string"},
                "message": {"type": "string"},
                "data": {"type": "object"},
            },
        }
    },
}


def _schema_hook(type_: type) -> dict[str, Any]:
    if type_ is Principal:
        return {
            "type": "string",
            "description": "A principal name, name[/instance...]@REALM (RFC 4120 §6.2)",
            "pattern": r"^[A-Za-z0-9._:-]+(/[A-Za-z0-9._:-]+){0,3}@[A-Z0-9.-]+$",
            "maxLength": MAX_NAME_LENGTH,
        }
    raise NotImplementedError(f"no schema for {type_!r}")


def message_schemas(types: Sequence[Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``$ref`` schemas of ``types`` and the components they need (plus ``Error``)."""
    refs, components = msgspec.json.schema_components(
        types, schema_hook=_schema_hook, ref_template=_REF
    )
    components = dict(components)
    components["Error"] = ERROR_SCHEMA
    return list(refs), components


def json_body(schema: dict[str, Any], content_type: str = "application/json") -> dict[str, Any]:
    """A required request body of ``content_type`` with ``schema``."""
    return {"required": True, "content": {content_type: {"schema": schema}}}


def json_response(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON response (the error schema by default)."""
    return {
        "description": description,
        "content": {"application/json": {"schema": schema or {"$ref": _REF.format(name="Error")}}},
    }


def openapi_document(
    title: str, description: str, paths: dict[str, Any], components: dict[str, Any]
) -> dict[str, Any]:
    """The OpenAPI 3.1 document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1", "description": description},
        "paths": paths,
        "components": {"schemas": components},
    }
