"""Orthrus's client library: log in, get service tickets, call services (docs/client.md).

```python
import requests, client_lib
requests.get("https://www.example.test/whoami", auth=client_lib.RequestsTicketAuth())
```

Everything a caller needs is here; the submodules are the implementation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from client_lib.aio import AsyncClient
from client_lib.api import Client
from client_lib.errors import BadPassword, KDCUnreachable, NoCredentials, ServiceRefused
from client_lib.options import FreshOptions, LoginOptions
from orthrus.errors import OrthrusError, ProtocolError
from orthrus.principal import Principal

if TYPE_CHECKING:
    from client_lib.http_auth import (
        HttpxTicketAuth,
        PlainRequest,
        RequestsTicketAuth,
        SealedReply,
        TicketAuthenticator,
        fetch_sealed,
        raise_for_refusal,
    )

__all__ = [
    "AsyncClient",
    "BadPassword",
    "Client",
    "FreshOptions",
    "HttpxTicketAuth",
    "KDCUnreachable",
    "LoginOptions",
    "NoCredentials",
    "OrthrusError",
    "PlainRequest",
    "Principal",
    "ProtocolError",
    "RequestsTicketAuth",
    "SealedReply",
    "ServiceRefused",
    "TicketAuthenticator",
    "fetch_sealed",
    "raise_for_refusal",
]

#: The names of ``__all__`` not imported above: client_lib.http_auth's.
_HTTP_AUTH = frozenset(__all__) - set(globals())


def __getattr__(name: str) -> Any:
    """The HTTP authentication classes, imported on first use (PEP 562): requests and PyJWT
    load only in programs that call services, not in ``orthrus klist``."""
    if name in _HTTP_AUTH:
        from client_lib import http_auth

        return getattr(http_auth, name)
    raise AttributeError(f"module 'client_lib' has no attribute {name!r}")
