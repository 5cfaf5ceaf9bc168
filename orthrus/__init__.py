"""Orthrus protocol core: the Kerberos V5 exchanges (RFC 4120) over JSON and JOSE, sans I/O.

Nothing in this package opens a socket or a file, reads a clock or draws random bytes:
callers pass ``now`` and an entropy source in, so the KDC, the client and the service
verifier share one implementation that tests can drive exactly.
"""

from orthrus.errors import (
    APError,
    ConfigError,
    KDCError,
    MalformedMessage,
    OrthrusError,
    ProtocolError,
    TransportError,
)
from orthrus.keys import Key, KeyUsage
from orthrus.principal import Principal

__all__ = [
    "APError",
    "ConfigError",
    "KDCError",
    "Key",
    "KeyUsage",
    "MalformedMessage",
    "OrthrusError",
    "Principal",
    "ProtocolError",
    "TransportError",
]
