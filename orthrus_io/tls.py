"""Transport security. Clients verify servers' certificates and refuse plain HTTP to
anything but loopback unless told otherwise (tickets in clear on a network could be
captured and replayed within their skew window; a KDC's replies could be forged for a DoS);
servers (the KDC's own) get their TLS context here.
"""

from __future__ import annotations

import ipaddress
import ssl
from urllib.parse import urlsplit

from orthrus.errors import ConfigError

__all__ = ["check_url", "client_ssl_context", "is_loopback", "server_ssl_context"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, allow_plain_http: bool, what: str) -> None:
    """Refuse anything but https, except http to loopback or when explicitly allowed."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    if parts.scheme != "http" or not parts.hostname:
        raise ConfigError(f"{what} {url!r} is not an http(s) URL")
    if not allow_plain_http and not is_loopback(parts.hostname):
        raise ConfigError(
            f"{what} {url} uses plain HTTP to a host that is not loopback; use https:// "
            "(or set ORTHRUS_ALLOW_PLAIN_HTTP=1 if a TLS proxy sits in between)"
        )


def client_ssl_context(ca_file: str) -> ssl.SSLContext:
    """Certificate verification against the system store, or only ``ca_file`` if given."""
    try:
        return ssl.create_default_context(cafile=ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the CA file {ca_file}: {exc}") from None


def server_ssl_context(certfile: str, keyfile: str | None) -> ssl.SSLContext:
    """A server's TLS (1.2 at least, Python's default ciphers) with ``certfile`` (PEM, the
    chain) and its private key ``keyfile``; a ``ConfigError`` if they cannot be loaded."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the certificate {certfile} and its key: {exc}") from None
    return context
