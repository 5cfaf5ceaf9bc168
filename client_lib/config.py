"""Client settings: a TOML file (``ORTHRUS_CONFIG``, else ``~/.config/orthrus/client.toml``)
with environment variables on top (``ORTHRUS_KDC_URL``, ``ORTHRUS_CCACHE``, ``ORTHRUS_KEYTAB``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import httpx
import msgspec

from orthrus_io.settings import build_settings, load_toml
from orthrus_io.tls import check_url, client_ssl_context

__all__ = ["ENV_OVERRIDES", "ClientSettings", "default_ccache", "load_client_settings"]

ENV_OVERRIDES: Mapping[str, str] = {
    "kdc_url": "ORTHRUS_KDC_URL",
    "ccache": "ORTHRUS_CCACHE",
    "keytab": "ORTHRUS_KEYTAB",
    "realm": "ORTHRUS_REALM",
    "ca_file": "ORTHRUS_CA_FILE",
    "allow_plain_http": "ORTHRUS_ALLOW_PLAIN_HTTP",
}


class ClientSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where the KDC is, where credentials live, and how long to wait."""

    kdc_url: str = "http://127.0.0.1:8088"
    ccache: str = ""
    keytab: str = ""
    realm: str = ""
    timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 10.0
    #: CA certificates to trust for https (default: the system store).
    ca_file: str = ""
    #: Allow http:// to hosts other than loopback (behind a TLS-terminating proxy).
    allow_plain_http: bool = False

    def http_client(self, url: str, what: str, **options: Any) -> httpx.Client:
        """An httpx client for ``url``: certificates verified, plain HTTP only to loopback."""
        check_url(url, self.allow_plain_http, what)
        return httpx.Client(
            timeout=self.timeout, verify=client_ssl_context(self.ca_file), **options
        )

    @property
    def ccache_path(self) -> Path:
        return Path(self.ccache) if self.ccache else default_ccache()


def default_ccache() -> Path:
    """One cache per user in the runtime directory, like MIT's ``/tmp/krb5cc_UID``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "orthrus" / "ccache"
    return Path("/tmp") / f"orthrus_cc_{os.geteuid()}"  # noqa: S108 - per-user, checked on read


def load_client_settings(env: Mapping[str, str] = os.environ) -> ClientSettings:
    """Settings from the config file (if any) and the environment."""
    explicit = env.get("ORTHRUS_CONFIG")
    path = Path(explicit) if explicit else Path.home() / ".config" / "orthrus" / "client.toml"
    table: dict[str, Any] = {}
    if explicit or path.exists():
        table = load_toml(path).get("client", {})
    return build_settings(ClientSettings, table, env, ENV_OVERRIDES, f"[client] in {path}")
