"""Lab switches of the verifier: defences a student may turn off, in a lab realm only.

A lab realm (made by ``orthrus-lab up``) lets students see an attack succeed when a defence
is off, then fail when it is on again:

- ``lab_replay_cache_off``: no replay cache (RFC 4120 §3.2.3, "replay cache"; §10): the same
  AP-REQ is accepted as often as it is sent within the skew window;
- ``lab_unsigned_authz``: the groups in a ticket's authorization data are believed without
  checking the KDC's signature (RFC 4120 §5.2.6): whoever holds the service's key can mint a
  ticket claiming any group (a "silver ticket");
- ``record_messages``: AP-REQ tokens are kept in the verifier's events, for lab traces.

A production service must never run like that, so :func:`confirm_lab_realm` refuses every
switch unless the realm's KDC answers ``GET /v1/realm`` with this very realm and
``"lab": true`` — which only a KDC whose ``kdc.toml`` says ``lab = true`` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import httpx
import jwt

from orthrus.errors import ConfigError
from orthrus.messages import EncTicketPart

__all__ = ["NoReplayCache", "confirm_lab_realm", "unverified_groups"]


class NoReplayCache:
    """A replay cache that remembers nothing (the lab switch ``lab_replay_cache_off``)."""

    def check_and_store(self, entry: bytes, expires_at: float, now: float) -> bool:
        return True

    def remembers_since(self) -> float:
        return -math.inf  # nothing to lose: it never remembers


def confirm_lab_realm(
    kdc_url: str, realm: str, switches: Sequence[str], timeout: float = 5.0
) -> None:
    """Raise ``ConfigError`` unless the KDC at ``kdc_url`` serves ``realm`` as a lab realm."""
    named = ", ".join(switches)
    if not kdc_url:
        raise ConfigError(
            f"{named}: a lab switch, allowed only in a lab realm; give the KDC's URL "
            "(kdc_url, or --kdc-url) so that the service can ask it whether the realm is a lab"
        )
    url = f"{kdc_url.rstrip('/')}/v1/realm"
    try:
        response = httpx.get(url, timeout=timeout)
        document = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as exc:
        raise ConfigError(
            f"{named}: cannot ask the KDC at {kdc_url} whether realm {realm} is a lab "
            f"({type(exc).__name__}); start the lab's KDC first (orthrus-lab up)"
        ) from None
    if not isinstance(document, dict) or document.get("realm") != realm:
        raise ConfigError(
            f"{named}: the KDC at {kdc_url} does not serve realm {realm}; give the URL of "
            "this realm's KDC"
        )
    if document.get("lab") is not True:
        raise ConfigError(
            f"{named}: realm {realm} is not a lab realm, and lab switches turn defences off; "
            "they work only in a realm made by orthrus-lab up"
        )


def unverified_groups(part: EncTicketPart) -> tuple[str, ...]:
    """The groups a ticket's authorization data *claims*, its signature not checked.

    Only for the lab switch ``lab_unsigned_authz``: this is the mistake that lets a forged
    ("silver") ticket claim group ``admins``.
    """
    if part.authorization_data is None:
        return ()
    try:
        claims = jwt.decode(part.authorization_data, options={"verify_signature": False})
    except jwt.PyJWTError:
        return ()
    groups = claims.get("groups")
    if not isinstance(groups, list):
        return ()
    return tuple(g for g in groups if isinstance(g, str))
