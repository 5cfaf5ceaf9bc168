"""Opening the sealed parts of a trace with the keys someone holds (RFC 4120 §3, §5).

A student holds their password, so their long-term key (Argon2id with the salt and
parameters the KDC sent, RFC 9106), and from there every session key handed to them: the
AS-REP part under their long-term key gives the TGT session key (RFC 4120 §3.1.5); the TGS
authenticator under it gives the subkey; the TGS-REP part under the subkey gives the service
ticket's session key (§3.3.4); under that one they can read their own authenticators
(§3.2.2): "Alice encrypts her name and the current time with the session key". They never
hold a service's long-term key, so a ticket stays closed to them — unless a lab exercise
hands them a leaked keytab. The grader holds every key (it reads the KDC's database).

:class:`Decoder` walks the trace in order, learning keys as parts open, and says of each
key where it was learnt (the event whose part held it). Given the realm's public JWKS, it
also gives each ticket it opens a verdict on the KDC's signature over its authorization data
(RFC 4120 §5.2.6): what a service checks, and what a forged ticket lacks.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import jwt
import msgspec

from labs.tracefile import TraceEvent, get_path
from orthrus.authz import AuthzVerifier
from orthrus.codec import decode
from orthrus.errors import ProtocolError
from orthrus.keys import Key, KeyUsage
from orthrus.keytab import Keytab
from orthrus.messages import EncTicketPart
from orthrus.principal import Principal
from orthrus.pwkdf import KDFParams, string_to_key
from orthrus.seal import open_sealed, peek_header
from orthrus.session_token import ticket_id
from orthrus_io.files import read_private

__all__ = [
    "Decoder",
    "KeySource",
    "KeytabKeys",
    "OpenedPart",
    "PasswordKeys",
    "StoreKeys",
    "kdf_hints",
]

#: Key usages whose plaintext is an EncKDCRepPart, carrying the new ticket's session key.
_REPLY_PARTS = {
    KeyUsage.AS_REP_ENC_PART,
    KeyUsage.TGS_REP_ENC_PART_SESSKEY,
    KeyUsage.TGS_REP_ENC_PART_SUBKEY,
}
_AUTHENTICATORS = {KeyUsage.TGS_REQ_AUTHENTICATOR, KeyUsage.AP_REQ_AUTHENTICATOR}


class KeySource(Protocol):
    """Long-term keys someone holds: ``(key, how they hold it)`` or None."""

    def key(self, principal: str, kvno: int, kdf: KDFParams | None) -> tuple[Key, str] | None:
        """The long-term key of ``principal`` of version ``kvno``."""
        ...


@dataclass
class PasswordKeys:
    """Keys derived from passwords one knows (one's own), with the KDC's salt and parameters."""

    passwords: Mapping[str, str]
    _cache: dict[tuple[str, int, bytes], Key] = field(default_factory=dict)

    def key(self, principal: str, kvno: int, kdf: KDFParams | None) -> tuple[Key, str] | None:
        password = self.passwords.get(principal)
        if password is None or kdf is None:
            return None
        cache_key = (principal, kvno, kdf.salt + bytes([kdf.iterations, kdf.lanes]))
        key = self._cache.get(cache_key)
        if key is None:
            key = self._cache[cache_key] = string_to_key(
                password, Principal.parse(principal), kdf, kvno
            )
        return key, f"{principal}'s password (Argon2id, salt from the KDC)"


@dataclass
class KeytabKeys:
    """Keys of a keytab file (a service's own, or one that leaked)."""

    paths: list[Path]

    def key(self, principal: str, kvno: int, kdf: KDFParams | None) -> tuple[Key, str] | None:
        for path in self.paths:
            try:
                table = Keytab.from_bytes(read_private(path, "keytab")).keys_by_principal()
            except ProtocolError:
                continue
            for name, keys in table.items():
                if str(name) == principal and kvno in keys:
                    return keys[kvno], f"keytab {path.name}"
        return None


@dataclass
class StoreKeys:
    """Every key still in the KDC's database: what the grader (and the KDC) holds."""

    store: Any  # kdc.store.Store, imported lazily by the caller

    def key(self, principal: str, kvno: int, kdf: KDFParams | None) -> tuple[Key, str] | None:
        try:
            entry = self.store.lookup(Principal.parse(principal))
        except ProtocolError:
            return None
        if entry is None or kvno not in entry.keys:
            return None
        return entry.keys[kvno], "the KDC's database"


@dataclass
class _Chain:
    sources: list[KeySource]

    def key(self, principal: str, kvno: int, kdf: KDFParams | None) -> tuple[Key, str] | None:
        for source in self.sources:
            found = source.key(principal, kvno, kdf)
            if found is not None:
                return found
        return None


def chain(sources: Iterable[KeySource]) -> KeySource:
    return _Chain(list(sources))


@dataclass
class OpenedPart:
    """One sealed part of an event, and what its holder could read of it."""

    where: str
    part: str
    usage: int | None
    usage_name: str | None
    kvno: int | None
    key: str
    opened: bool = False
    by: str | None = None
    fields: dict[str, Any] | None = None
    reason: str | None = None
    altered: bool = False
    #: The event whose part held the key that opened this one (None: a long-term key).
    origin: int | None = None
    #: A ticket's KDC signature: True (verified), False (not the KDC's), None (not checked).
    signed: bool | None = None
    verdict: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "where": self.where,
            "part": self.part,
            "usage": self.usage,
            "usage_name": self.usage_name,
            "kvno": self.kvno,
            "key": self.key,
            "opened": self.opened,
            "by": self.by,
            "fields": self.fields,
            "reason": self.reason,
            "altered": self.altered,
            "origin": self.origin,
            "signed": self.signed,
            "verdict": self.verdict,
        }


def kdf_hints(event: TraceEvent) -> list[tuple[str, int, KDFParams]]:
    """Salts and KDF parameters the KDC told in this event: ``(principal, kvno, params)``."""
    hints: list[tuple[str, Any, Any]] = []
    data = event.error_data
    if event.exchange == "AS" and event.client and "kdf" in data:
        hints.append((event.client, data.get("kvno"), data["kdf"]))
    reply = event.reply
    if reply.get("type") == "AS-REP" and isinstance(reply.get("kdf"), dict):
        try:
            kid = peek_header(reply["enc_part"]).get("kid")
        except (ProtocolError, KeyError):
            kid = None
        if isinstance(kid, str) and kid.isdigit():
            hints.append((str(reply.get("client")), int(kid), reply["kdf"]))
    out = []
    for principal, kvno, raw in hints:
        try:
            params = msgspec.convert(raw, KDFParams)
        except msgspec.ValidationError:
            continue
        if isinstance(kvno, int):
            out.append((principal, kvno, params))
    return out


def _key_from(value: Any) -> Key | None:
    """A session key or subkey as carried in a part: ``{"enctype", "value": base64}``."""
    if not isinstance(value, dict) or not isinstance(value.get("value"), str):
        return None
    try:
        return Key(base64.b64decode(value["value"], validate=True))
    except (binascii.Error, ValueError):
        return None


def _authorization_claims(token: Any) -> dict[str, Any] | None:
    """The claims of a ticket's authorization data, shown (not trusted) for the lesson."""
    if not isinstance(token, str):
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return None
    return {"header": header, "claims": claims}


#: A key learnt from a part: the key, how it is named, the event that held it.
Learnt = tuple[Key, str, int | None]


def _verdict(
    plaintext: bytes, server: str, authz: AuthzVerifier, max_skew: int, now: float
) -> tuple[bool, str]:
    """Whether an opened ticket's authorization data is the KDC's, and in words why."""
    try:
        ticket = decode(plaintext, EncTicketPart)
        groups = authz.verify(ticket, Principal.parse(server), max_skew, now)
    except ProtocolError as exc:
        return False, f"not the KDC's: {exc.message}"
    shown = ", ".join(groups) or "no group"
    return True, f"signed by the KDC, for this ticket's client, times and session key ({shown})"


class Decoder:
    """Opens what ``holder`` can open, event after event, learning keys on the way.

    With ``authz`` (a verifier of the realm's JWKS, public) each opened ticket gets a verdict
    on its KDC-signed authorization data, at the event's time within ``max_skew``.
    """

    def __init__(
        self,
        keys: KeySource,
        holder: str,
        authz: AuthzVerifier | None = None,
        max_skew: int = 300,
    ) -> None:
        self.keys = keys
        self.holder = holder
        self.authz = authz
        self.max_skew = max_skew
        self.kdf: dict[tuple[str, int], KDFParams] = {}
        #: Session keys by ticket id, and where they were learnt.
        self.sessions: dict[str, Learnt] = {}
        self.decoded: dict[int, list[OpenedPart]] = {}

    def feed(self, events: Iterable[TraceEvent]) -> None:
        """Decode new events, in trace order (each only once)."""
        for event in events:
            if event.id not in self.decoded:
                self.decoded[event.id] = self._decode(event)

    def parts(self, event: TraceEvent) -> list[OpenedPart]:
        self.feed([event])
        return self.decoded[event.id]

    def part(self, event: TraceEvent, where: str) -> OpenedPart | None:
        return next((p for p in self.parts(event) if p.where == where), None)

    def _decode(self, event: TraceEvent) -> list[OpenedPart]:
        for principal, kvno, params in kdf_hints(event):
            self.kdf[(principal, kvno)] = params
        subkeys: dict[str, Learnt] = {}
        out = []
        for raw in event.parts:
            part = OpenedPart(
                where=str(raw.get("where")),
                part=str(raw.get("part")),
                usage=raw.get("usage") if isinstance(raw.get("usage"), int) else None,
                usage_name=raw.get("usage_name"),
                kvno=raw.get("kvno") if isinstance(raw.get("kvno"), int) else None,
                key=str(raw.get("key")),
            )
            out.append(part)
            sealed = event.get(part.where)
            ref = raw.get("key_ref")
            if not isinstance(ref, dict):
                ref = {}
            if (
                not isinstance(sealed, str)
                or part.usage is None
                or part.usage not in KeyUsage._value2member_map_
            ):
                part.reason = "not a sealed part this trace can read"
                continue
            found = self._key_for(ref, subkeys, event)
            if found is None:
                part.reason = f"{self.holder} does not hold the {part.key}"
                continue
            key, how, origin = found
            try:
                header = peek_header(sealed)
                context = header.get("ctx") if isinstance(header.get("ctx"), str) else None
                plaintext = open_sealed(key, KeyUsage(part.usage), sealed, context)
                fields = json.loads(plaintext)
            except (ProtocolError, ValueError):
                part.reason = (
                    f"does not open under the {part.key} ({how}): it was altered, or sealed "
                    "under another key — AES-GCM's tag does not match (KRB_AP_ERR_MODIFIED)"
                )
                part.altered = True
                continue
            if not isinstance(fields, dict):
                part.reason = "opened, but holds no JSON object"
                continue
            part.opened, part.by, part.fields, part.origin = True, how, fields, origin
            if part.usage == KeyUsage.TICKET and self.authz is not None:
                server = str(ref.get("principal"))
                verdict = _verdict(plaintext, server, self.authz, self.max_skew, event.time)
                part.signed, part.verdict = verdict
            self._learn(event, part, fields, subkeys)
        return out

    def _key_for(
        self, ref: dict[str, Any], subkeys: dict[str, Learnt], event: TraceEvent
    ) -> Learnt | None:
        kind = ref.get("kind")
        if kind == "long-term":
            principal, kvno = str(ref.get("principal")), ref.get("kvno")
            if not isinstance(kvno, int):
                return None
            found = self.keys.key(principal, kvno, self.kdf.get((principal, kvno)))
            return (*found, None) if found else None
        if kind == "session":
            return self.sessions.get(str(ref.get("ticket")))
        if kind == "subkey":
            return subkeys.get(str(ref.get("of")))
        return None

    def _learn(
        self,
        event: TraceEvent,
        part: OpenedPart,
        fields: dict[str, Any],
        subkeys: dict[str, Learnt],
    ) -> None:
        usage = part.usage
        if usage in _REPLY_PARTS:
            ticket = get_path(event.record, "reply.ticket.enc_part")
            key = _key_from(fields.get("key"))
            if isinstance(ticket, str) and key is not None:
                what = "AS" if usage == KeyUsage.AS_REP_ENC_PART else "TGS"
                self.sessions[ticket_id(ticket)] = (
                    key,
                    f"the session key from the {what} reply of event #{event.id}",
                    event.id,
                )
        elif usage == KeyUsage.TICKET:
            sealed = event.get(part.where)
            key = _key_from(fields.get("key"))
            if isinstance(sealed, str) and key is not None:
                self.sessions.setdefault(
                    ticket_id(sealed),
                    (key, f"the session key inside the ticket (event #{event.id})", event.id),
                )
            claims = _authorization_claims(fields.get("authorization_data"))
            if claims is not None:
                fields["authorization_data (decoded, not verified)"] = claims
        elif usage in _AUTHENTICATORS:
            key = _key_from(fields.get("subkey"))
            if key is not None:
                subkeys[part.where] = (
                    key,
                    f"the subkey of the authenticator of event #{event.id}",
                    event.id,
                )
