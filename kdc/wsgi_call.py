"""A request of the KDC's server handed to a WSGI application (PEP 3333): its environ, and
the call, which runs in a thread of the worker's pool (:mod:`kdc.http_server`).

The server has read the whole request, body included (at most ``max_request_bytes``,
de-chunked), before the application is called: ``wsgi.input`` is that body in memory and
``CONTENT_LENGTH`` its length.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kdc.http_api import Reply, internal_error

__all__ = ["HTTPRequest", "call_wsgi", "wsgi_environ"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True, slots=True)
class HTTPRequest:
    """One request as the server parsed it (RFC 9112 §3)."""

    method: str
    #: The request target as sent (for the access log).
    target: str
    #: The path, percent-decoded, each octet one character (PEP 3333's ``PATH_INFO``).
    path: str
    query: str
    #: ``"1.1"`` or ``"1.0"``.
    version: str
    #: Field names lower-case, in the order received.
    headers: tuple[tuple[str, str], ...]
    body: bytes
    client: tuple[str, int] | None
    server: tuple[str, int]
    scheme: str

    def header(self, name: str) -> str:
        """The first value of the field ``name`` (lower-case), or ""."""
        return next((value for key, value in self.headers if key == name), "")


def wsgi_environ(request: HTTPRequest, multiprocess: bool) -> dict[str, Any]:
    """The environ of ``request`` (PEP 3333, "environ Variables"). A field whose name has an
    underscore is dropped: ``X_Request_Id`` would otherwise pass for ``X-Request-Id``."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": request.path,
        "QUERY_STRING": request.query,
        "SERVER_NAME": request.server[0],
        "SERVER_PORT": str(request.server[1]),
        "SERVER_PROTOCOL": f"HTTP/{request.version}",
        "CONTENT_LENGTH": str(len(request.body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": request.scheme,
        "wsgi.input": io.BytesIO(request.body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": multiprocess,
        "wsgi.run_once": False,
    }
    if request.client is not None:
        environ["REMOTE_ADDR"] = request.client[0]
        environ["REMOTE_PORT"] = str(request.client[1])
    for name, value in request.headers:
        if "_" in name or name in ("content-length", "transfer-encoding"):
            continue  # the body is read whole: its length is CONTENT_LENGTH's
        key = "CONTENT_TYPE" if name == "content-type" else "HTTP_" + name.upper().replace("-", "_")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def call_wsgi(app: WSGIApp, environ: dict[str, Any]) -> Reply:
    """``app``'s answer to ``environ``: the status and headers it started, its body joined,
    its iterable closed (PEP 3333). An exception out of the application is 500
    (:func:`kdc.http_api.internal_error`)."""
    started: list[tuple[str, list[tuple[str, str]]]] = []
    written: list[bytes] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started[:] = [(status, list(headers))]
        return written.append

    try:
        iterable = app(environ, start_response)
        try:
            body = b"".join([*written, *iterable])
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
        (status, headers), *_ = started
    except Exception:
        return internal_error(environ.get("PATH_INFO", ""))
    return Reply(status, headers, body)
