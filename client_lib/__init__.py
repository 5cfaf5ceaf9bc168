"""Orthrus's client library: log in, get service tickets, call services (docs/client.md).

```python
import requests, client_lib
requests.get("https://www.example.test/whoami", auth=client_lib.RequestsTicketAuth())
```

Everything a caller needs is here; the submodules are the implementation.
"""

from client_lib.aio import AsyncClient
from client_lib.api import Client
from client_lib.errors import BadPassword, KDCUnreachable, NoCredentials, ServiceRefused
from client_lib.http_auth import (
    HttpxTicketAuth,
    PlainRequest,
    RequestsTicketAuth,
    SealedReply,
    TicketAuthenticator,
    fetch_sealed,
    raise_for_refusal,
)
from client_lib.options import FreshOptions, LoginOptions
from orthrus.errors import OrthrusError, ProtocolError
from orthrus.principal import Principal

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
