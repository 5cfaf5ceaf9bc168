"""Lab switches of the verifier: defences a student may turn off, in a lab realm only.

A lab realm (made by ``orthrus-lab up``) lets students see an attack succeed when a defence
is off, then fail when it is on again:

- ``lab_replay_cache_off``: no replay cache (RFC 4120 §3.2.3, "replay cache"; §10): the same
  AP-REQ is accepted as often as it is sent within the skew window;
- ``lab_unsigned_authz``: the groups in a ticket's authorization data are believed without
  checking the KDC's signature (RFC 4120 §5.2.6): whoever holds the service's key can mint a
  ticket claiming any group (a "silver ticket");
- ``lab_no_authenticator``: the ticket alone is accepted, its authenticator not opened
  (RFC 4120 §3.2.3 without the authenticator's checks; Bryant's *Dialogue*, scene 3): whoever
  captured a ticket presents it as a bearer token until it expires;
- ``lab_no_session_key``: an authenticator in the clear is read as if it were sealed under
  the ticket's session key (as a JWT with ``alg: none`` is believed): its name, time and
  checksum are checked, but nothing ties it to the ticket, so anyone who captured a ticket
  writes a fresh authenticator for it;
- ``lab_no_timestamp``: the authenticator's time is not checked against the service's clock
  (RFC 4120 §3.2.3, ``KRB_AP_ERR_SKEW``): a captured authenticator the replay cache no longer
  holds is accepted however old it is;
- ``record_messages``: AP-REQ tokens are kept in the verifier's events, for lab traces.

A production service must never run like that, so :func:`confirm_lab_realm` refuses every
switch unless the realm's KDC answers ``GET /v1/realm`` with this very realm and
``"lab": true`` — which only a KDC whose ``kdc.toml`` says ``lab = true`` does.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import httpx
import jwt

from orthrus.ap import OpenedAPReq, VerifiedAPReq, open_authenticator
from orthrus.b64 import b64u_decode
from orthrus.codec import decode
from orthrus.errors import APError, ConfigError, MalformedMessage
from orthrus.keys import Key, KeyUsage
from orthrus.messages import APReq, Authenticator, EncTicketPart

__all__ = [
    "NO_TIME_BOUND",
    "NoReplayCache",
    "confirm_lab_realm",
    "open_maybe_clear_authenticator",
    "ticket_alone",
    "unverified_groups",
]

#: The skew a verifier allows with ``lab_no_timestamp``: ten years, no bound at all in a lab.
NO_TIME_BOUND = 10 * 365 * 86_400


class NoReplayCache:
    """A replay cache that remembers nothing (the lab switch ``lab_replay_cache_off``)."""

    def check_and_store(self, entry: bytes, expires_at: float, now: float) -> bool:
        return True

    def remembers_since(self) -> float:
        return -math.inf  # nothing to lose: it never remembers


def confirm_lab_realm(
    kdc_url: str, realm: str, switches: Sequence[str], timeout: float = 60.0
) -> None:
    """Raise ``ConfigError`` unless the KDC at ``kdc_url`` serves ``realm`` as a lab realm.

    ``timeout`` only ends a wait for a KDC that is not there: on a loaded machine a running
    one can take more than a few seconds to answer (a service that gave up after 5 s failed
    its start beside a busy lab KDC); an absent one is refused at once (connection refused).
    """
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


def ticket_alone(ap_req: APReq, part: EncTicketPart, session_key: Key, now: float) -> VerifiedAPReq:
    """The AP-REQ accepted on its ticket alone, its authenticator never opened.

    Only for the lab switch ``lab_no_authenticator``: the mistake of a service that takes a
    ticket as a bearer token (Bryant's *Dialogue*, before scene 3). The authenticator it
    stands for names the ticket's client at ``now``, which is all the service learns.
    """
    seconds = int(now)
    stand_in = Authenticator(client=part.client, ctime=seconds, cusec=0)
    return VerifiedAPReq(ap_req.ticket.server, part, stand_in, session_key, False)


def open_maybe_clear_authenticator(
    ap_req: APReq, part: EncTicketPart, usage: KeyUsage, session_key: Key
) -> OpenedAPReq[Key]:
    """The authenticator of ``ap_req``, sealed under the session key *or in the clear*.

    Only for the lab switch ``lab_no_session_key``: an authenticator that is not a JWE (RFC
    7516 §7.1: five segments) is read as base64url JSON, unsealed, as a JWT with ``alg:
    none`` is believed. The checks after it (name, time, replay) still run, on what anyone
    may write.
    """
    text = ap_req.authenticator
    if text.count(".") == 4:
        return open_authenticator(ap_req, part, usage, session_key)
    try:
        authenticator = decode(b64u_decode(text), Authenticator)
    except (MalformedMessage, ValueError):
        raise APError(
            "KRB_AP_ERR_MODIFIED", "the authenticator is neither sealed nor a clear one"
        ) from None
    entry = hashlib.sha256(b"clear|%d|%s|" % (usage, str(ap_req.ticket.server).encode()))
    entry.update(text.encode())
    return OpenedAPReq(
        ap_req.ticket.server,
        part,
        authenticator,
        session_key,
        entry.digest(),
        "mutual-required" in ap_req.options,
    )
