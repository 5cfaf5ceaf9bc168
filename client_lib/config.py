"""Client settings: a TOML file (``ORTHRUS_CONFIG``, else ``~/.config/orthrus/client.toml``)
with environment variables on top (``ORTHRUS_KDC_URL``, ``ORTHRUS_CCACHE``, ``ORTHRUS_KEYTAB``).

With a ``krb5://`` KDC URL and no ``ORTHRUS_CCACHE``, MIT's ``KRB5CCNAME=FILE:path`` names
the cache (in MIT's format), so that ``orthrus`` and MIT's programs share one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import httpx
import msgspec

from orthrus.errors import ConfigError
from orthrus.pwkdf import KDFPolicy
from orthrus_io.files import private_directory
from orthrus_io.settings import build_settings, load_toml
from orthrus_io.tls import check_url, client_ssl_context

__all__ = [
    "ENV_OVERRIDES",
    "KERBEROS_SCHEMES",
    "ClientSettings",
    "default_ccache",
    "is_kerberos_url",
    "load_client_settings",
    "mit_ccache_path",
]

#: The URL schemes of a Kerberos-wire KDC (RFC 4120 §7.2): UDP then TCP, or TCP only.
KERBEROS_SCHEMES = ("krb5", "krb5+tcp")


def is_kerberos_url(url: str) -> bool:
    """Whether ``url`` names a Kerberos-wire KDC (``krb5://`` or ``krb5+tcp://``)."""
    return urlsplit(url).scheme in KERBEROS_SCHEMES


ENV_OVERRIDES: Mapping[str, str] = {
    "kdc_url": "ORTHRUS_KDC_URL",
    "ccache": "ORTHRUS_CCACHE",
    "keytab": "ORTHRUS_KEYTAB",
    "realm": "ORTHRUS_REALM",
    "ca_file": "ORTHRUS_CA_FILE",
    "ccache_format": "ORTHRUS_CCACHE_FORMAT",
    "allow_plain_http": "ORTHRUS_ALLOW_PLAIN_HTTP",
}


class ClientSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where the KDC is, where credentials live, and how long to wait."""

    kdc_url: str = "http://127.0.0.1:8088"
    ccache: str = ""
    #: The format a new cache is written in: ``orthrus`` (JSON), ``mit`` (MIT's FILE
    #: version 4), or empty: ``mit`` for a cache named by ``KRB5CCNAME``, else ``orthrus``.
    ccache_format: Literal["", "orthrus", "mit"] = ""
    keytab: str = ""
    realm: str = ""
    timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 10.0
    #: CA certificates to trust for https (default: the system store).
    ca_file: str = ""
    #: Allow http:// to hosts other than loopback (behind a TLS-terminating proxy).
    allow_plain_http: bool = False
    #: The Argon2id costs accepted from a KDC (``[client.kdf]``): a floor, raised only, and
    #: a ceiling. No environment variable: a KDC cannot be let weaken it from outside.
    kdf: KDFPolicy = msgspec.field(default_factory=KDFPolicy)
    #: The KDCs of other realms (``[client.realms]``: ``"B.EXAMPLE" = "https://kdc.b..."``),
    #: for tickets to their services through cross-realm trust (RFC 4120 §1.2).
    realms: dict[str, str] = {}

    def kdc_url_of(self, realm: str, home: str) -> str:
        """The URL of ``realm``'s KDC: ``kdc_url`` for the client's own realm ``home``,
        else its entry in ``realms``, with the same rules as ``kdc_url`` (TLS off loopback)."""
        if realm == home:
            return self.kdc_url
        url = self.realms.get(realm)
        if url is None:
            raise ConfigError(
                f"no KDC known for realm {realm}: add it to client.toml, [client.realms] "
                f'"{realm}" = "https://its-kdc:8088"'
            )
        check_url(url, self.allow_plain_http, f"the KDC URL of {realm}")
        return url

    def http_client(self, url: str, what: str, **options: Any) -> httpx.Client:
        """An httpx client for ``url``: certificates verified, plain HTTP only to loopback."""
        check_url(url, self.allow_plain_http, what)
        return httpx.Client(
            timeout=self.timeout, verify=client_ssl_context(self.ca_file), **options
        )

    def async_http_client(self, url: str, what: str) -> httpx.AsyncClient:
        """The same, for asyncio."""
        check_url(url, self.allow_plain_http, what)
        return httpx.AsyncClient(timeout=self.timeout, verify=client_ssl_context(self.ca_file))

    @property
    def ccache_path(self) -> Path:
        """``ccache``, else the default in a directory of ours (created 0700, checked)."""
        if self.ccache:
            return Path(self.ccache)
        default = default_ccache()
        private_directory(default.parent, "credentials cache directory")
        return default


def mit_ccache_path(name: str) -> str:
    """The file of MIT's ``KRB5CCNAME`` (``FILE:path`` or a bare path); ``ConfigError`` for
    the cache types Orthrus does not read (``KEYRING:``, ``KCM:``, ``DIR:``, ``MEMORY:``)."""
    kind, colon, rest = name.partition(":")
    if not colon or kind.startswith("/"):
        return name
    if kind == "FILE" and rest:
        return rest
    raise ConfigError(
        f"KRB5CCNAME={name}: Orthrus reads FILE credential caches only; set "
        "KRB5CCNAME=FILE:/path (or ORTHRUS_CCACHE) to share a cache with MIT's programs"
    )


def default_ccache() -> Path:
    """One cache per user in a directory only that user can write, not a guessable name in
    a shared one such as ``/tmp`` (where another user could create it first):
    ``$XDG_RUNTIME_DIR/orthrus/ccache``, else ``~/.cache/orthrus/ccache``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) if runtime and Path(runtime).is_dir() else Path.home() / ".cache"
    return base / "orthrus" / "ccache"


def load_client_settings(env: Mapping[str, str] = os.environ) -> ClientSettings:
    """Settings from the config file (if any) and the environment."""
    explicit = env.get("ORTHRUS_CONFIG")
    path = Path(explicit) if explicit else Path.home() / ".config" / "orthrus" / "client.toml"
    table: dict[str, Any] = {}
    if explicit or path.exists():
        table = load_toml(path).get("client", {})
    settings = build_settings(ClientSettings, table, env, ENV_OVERRIDES, f"[client] in {path}")
    mit_name = env.get("KRB5CCNAME")
    if mit_name and not settings.ccache and is_kerberos_url(settings.kdc_url):
        settings = msgspec.structs.replace(
            settings,
            ccache=mit_ccache_path(mit_name),
            ccache_format=settings.ccache_format or "mit",
        )
    return settings
