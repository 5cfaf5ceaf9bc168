"""Application messages under the AP exchange's subkey: KRB-PRIV (RFC 4120 §3.5, §5.7.1).

After an AP exchange both sides hold a key only they know: the subkey the client put in its
authenticator (RFC 4120 §5.5.1), or else the ticket's session key. A :class:`PrivChannel` seals
application data under it (key usage 13, ``KRB_PRIV_ENC_PART``) with, inside the sealed part:

- a timestamp (``timestamp`` + ``usec``): a message older or newer than the allowed skew is
  refused with ``KRB_AP_ERR_SKEW`` (RFC 4120 §3.5.2);
- a sequence number: each direction counts from its initial number (the authenticator's
  ``seq`` for the initiator; the AP-REP's ``seq`` for the acceptor, or the initiator's when
  the AP-REP gives none), modulo 2**63. A number already used is ``KRB_AP_ERR_REPEAT``; one
  ahead of the next expected (a message lost or reordered) is ``KRB_AP_ERR_BADORDER``
  (RFC 4120 §3.5.2, "sequence numbers");
- a direction, ``initiator`` (client to service) or ``acceptor``: it plays the role of the
  sender's directional address (RFC 4120 §8.1) so that a message cannot be reflected back to
  its sender (``KRB_AP_ERR_BADDIRECTION``, as RFC 4121 §4.2.2 does with its flag).

Anything altered, truncated, or sealed under another key or usage is ``KRB_AP_ERR_MODIFIED``
(:mod:`orthrus.seal`). Like the rest of the core this does no I/O: time and entropy are
passed in. A channel is one conversation, used by one thread at a time.

On the wire a message is the JSON ``{"type": "KRB-PRIV", "enc_part": "<JWE compact>"}``
(:func:`encode_priv`, :func:`decode_priv`); docs/http.md describes its use over HTTP.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from orthrus.codec import decode, encode
from orthrus.errors import APError, MalformedMessage
from orthrus.keys import Entropy, Key, KeyUsage
from orthrus.messages import Micros, Nonce, Sealed, Time
from orthrus.seal import open_sealed, seal
from orthrus.timecheck import DEFAULT_MAX_SKEW, check_skew

__all__ = [
    "MAX_USER_DATA",
    "PRIV_CONTENT_TYPE",
    "SEQ_MODULUS",
    "Direction",
    "EncKrbPrivPart",
    "KrbPriv",
    "PrivChannel",
    "decode_priv",
    "encode_priv",
    "new_initial_seq",
]

#: Sequence numbers count modulo 2**63 (they travel as non-negative 63-bit integers).
SEQ_MODULUS = 2**63
#: The media type of an HTTP body that is one KRB-PRIV message (docs/http.md).
PRIV_CONTENT_TYPE = "application/orthrus-priv"
#: The most user data one message carries; larger data is split by the application.
MAX_USER_DATA = 16 * 1024

Direction = Literal["initiator", "acceptor"]

_STRUCT = {"frozen": True, "forbid_unknown_fields": True, "omit_defaults": True}


class EncKrbPrivPart(msgspec.Struct, **_STRUCT):
    """EncKrbPrivPart (RFC 4120 §5.7.1), with a direction in place of the addresses."""

    user_data: Annotated[bytes, msgspec.Meta(max_length=MAX_USER_DATA)]
    timestamp: Time
    usec: Micros
    seq: Nonce
    direction: Direction

    def __repr__(self) -> str:
        return f"EncKrbPrivPart(seq={self.seq}, direction={self.direction!r})"


class KrbPriv(msgspec.Struct, tag="KRB-PRIV", **_STRUCT):
    """KRB-PRIV (RFC 4120 §5.7.1): the sealed :class:`EncKrbPrivPart`."""

    enc_part: Sealed


def encode_priv(message: KrbPriv) -> bytes:
    """The JSON bytes of a KRB-PRIV message."""
    return encode(message)


def decode_priv(data: bytes | str) -> KrbPriv:
    """Decode a KRB-PRIV message (``MalformedMessage`` if it is not one)."""
    return decode(data, KrbPriv)


def new_initial_seq(entropy: Entropy) -> int:
    """A random initial sequence number (RFC 4120 §5.5.1 suggests a random start)."""
    return int.from_bytes(entropy(8), "big") % SEQ_MODULUS


_OTHER: dict[Direction, Direction] = {"initiator": "acceptor", "acceptor": "initiator"}


class PrivChannel:
    """One side of a conversation of KRB-PRIV messages under one key.

    Make it with :meth:`initiator` (the client: a fresh subkey and initial sequence number
    to put in the authenticator) or :meth:`acceptor` (the service: from the verified
    authenticator's subkey and seq). :meth:`seal` numbers outgoing messages; :meth:`open`
    checks incoming ones and advances only when every check passed, so a refused message
    changes nothing.
    """

    __slots__ = ("_key", "_recv_seq", "_send_seq", "initial_seq", "max_skew", "role")

    def __init__(
        self, key: Key, role: Direction, seqs: tuple[int, int], max_skew: int = DEFAULT_MAX_SKEW
    ) -> None:
        initiator_seq, acceptor_seq = (s % SEQ_MODULUS for s in seqs)
        self._key = key
        self.role: Direction = role
        self.max_skew = max_skew
        self.initial_seq = initiator_seq
        mine, theirs = (
            (initiator_seq, acceptor_seq) if role == "initiator" else (acceptor_seq, initiator_seq)
        )
        self._send_seq = mine
        self._recv_seq = theirs

    @classmethod
    def initiator(cls, entropy: Entropy, max_skew: int = DEFAULT_MAX_SKEW) -> PrivChannel:
        """A client's new channel: put :attr:`key` and :attr:`initial_seq` in the
        authenticator (``AuthenticatorFields(subkey=channel.key, seq=channel.initial_seq)``).

        If the service's AP-REP names its own initial sequence number, call
        :meth:`set_acceptor_seq` with it.
        """
        seq = new_initial_seq(entropy)
        return cls(Key.generate(entropy), "initiator", (seq, seq), max_skew)

    @classmethod
    def acceptor(
        cls,
        subkey: Key,
        initiator_seq: int,
        acceptor_seq: int | None = None,
        max_skew: int = DEFAULT_MAX_SKEW,
    ) -> PrivChannel:
        """A service's channel from the authenticator's subkey and seq (RFC 4120 §3.2.6).

        ``acceptor_seq`` is the number the service sent in its AP-REP, if any.
        """
        seqs = (initiator_seq, initiator_seq if acceptor_seq is None else acceptor_seq)
        return cls(subkey, "acceptor", seqs, max_skew)

    @property
    def key(self) -> Key:
        """The channel key (the authenticator's subkey); keep it out of logs."""
        return self._key

    def set_acceptor_seq(self, seq: int) -> None:
        """Adopt the acceptor's initial sequence number from its AP-REP (initiator only)."""
        if self.role != "initiator":
            raise ValueError("only the initiator learns the acceptor's sequence number")
        self._recv_seq = seq % SEQ_MODULUS

    def seal(self, data: bytes, now: float, entropy: Entropy) -> KrbPriv:
        """Seal ``data`` as the next message from this side."""
        if len(data) > MAX_USER_DATA:
            raise ValueError(f"a KRB-PRIV message carries at most {MAX_USER_DATA} bytes")
        seconds = int(now)
        part = EncKrbPrivPart(
            user_data=data,
            timestamp=seconds,
            usec=min(int((now - seconds) * 1_000_000), 999_999),
            seq=self._send_seq,
            direction=self.role,
        )
        sealed = seal(self._key, KeyUsage.KRB_PRIV_ENC_PART, encode(part), entropy)
        self._send_seq = (self._send_seq + 1) % SEQ_MODULUS
        return KrbPriv(enc_part=sealed)

    def open(self, message: KrbPriv, now: float) -> bytes:
        """Check and open the peer's next message (RFC 4120 §3.5.2); return its data.

        Order: integrity (``MODIFIED``), direction (``BADDIRECTION``), time (``SKEW``),
        sequence number (``REPEAT`` for one already used, ``BADORDER`` for one ahead).
        """
        plaintext = open_sealed(self._key, KeyUsage.KRB_PRIV_ENC_PART, message.enc_part)
        try:
            part = decode(plaintext, EncKrbPrivPart)
        except MalformedMessage as exc:
            raise APError("KRB_AP_ERR_MODIFIED", "the message decrypted to garbage") from exc
        if part.direction != _OTHER[self.role]:
            raise APError(
                "KRB_AP_ERR_BADDIRECTION",
                f"this message was sent by the {part.direction}, not by the peer: it was "
                "reflected back to its sender",
            )
        check_skew(part.timestamp + part.usec / 1e6, now, self.max_skew, self._peer_view())
        self._check_seq(part.seq)
        self._recv_seq = (self._recv_seq + 1) % SEQ_MODULUS
        return part.user_data

    def _peer_view(self) -> str:
        return "service" if self.role == "acceptor" else "client"

    def _check_seq(self, seq: int) -> None:
        ahead = (seq - self._recv_seq) % SEQ_MODULUS
        if ahead == 0:
            return
        if ahead < SEQ_MODULUS // 2:
            raise APError(
                "KRB_AP_ERR_BADORDER",
                f"message {ahead} ahead of the next expected one: a message was lost or "
                "reordered; start a new exchange",
                {"expected_seq": self._recv_seq, "seq": seq},
            )
        raise APError(
            "KRB_AP_ERR_REPEAT",
            "this message was already received: a replay; send a fresh one",
            {"expected_seq": self._recv_seq, "seq": seq},
        )

    def __repr__(self) -> str:
        return f"PrivChannel(role={self.role!r})"
