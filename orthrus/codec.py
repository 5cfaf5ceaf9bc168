"""The one codec: message models to JSON and back (RFC 8259), strictly validated.

Decoding checks every type and bound declared in :mod:`orthrus.messages`, refuses unknown
fields, and turns every failure into :class:`~orthrus.errors.MalformedMessage` naming the
field (``$.body.nonce``). Encoding is deterministic, so a checksum over the encoding of a
decoded message equals the checksum the sender computed.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any, TypeVar

import msgspec

from orthrus.errors import MalformedMessage
from orthrus.principal import Principal

__all__ = ["MAX_MESSAGE_SIZE", "body_checksum", "decode", "encode"]

MAX_MESSAGE_SIZE = 64 * 1024

T = TypeVar("T")


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, Principal):
        return str(obj)
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


@lru_cache(maxsize=4096)
def _principal(text: str) -> Principal:
    # Principals are immutable: the few names a KDC or service sees again and again are
    # parsed (and checked) once. A name that does not parse raises and is not cached.
    return Principal.parse(text)


def _dec_hook(type_: type, obj: Any) -> Any:
    if type_ is Principal:
        if not isinstance(obj, str):
            raise ValueError("a principal is a string name/instance@REALM")
        try:
            return _principal(obj)
        except MalformedMessage as exc:
            raise ValueError(exc.message) from None
    raise NotImplementedError(f"cannot decode {type_.__name__}")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def encode(message: Any) -> bytes:
    """The JSON bytes of a message model (or of plain JSON data)."""
    return _encoder.encode(message)


def decode(data: bytes | str, type_: type[T], max_size: int = MAX_MESSAGE_SIZE) -> T:
    """Decode and validate JSON into ``type_``; anything wrong is ``MalformedMessage``.

    ``max_size`` bounds what a peer may send; a file of ours (a credentials cache holding
    a hundred tickets) may be given a larger bound."""
    if len(data) > max_size:
        raise MalformedMessage(f"message larger than {max_size} bytes", too_long=True)
    decoder = _decoders.get(type_)
    if decoder is None:
        decoder = _decoders[type_] = msgspec.json.Decoder(type_, dec_hook=_dec_hook)
    try:
        return decoder.decode(data)  # type: ignore[no-any-return]
    except msgspec.ValidationError as exc:
        raise MalformedMessage(f"invalid message: {exc}") from None
    except msgspec.DecodeError as exc:
        raise MalformedMessage(f"not valid JSON: {exc}") from None
    except UnicodeDecodeError:
        # msgspec raises this (not DecodeError) for invalid UTF-8 inside a string (RFC 8259
        # §8.1): without this clause a peer's bad byte became an uncaught exception (a 500).
        raise MalformedMessage("not valid JSON: a string is not valid UTF-8") from None


def body_checksum(message: Any) -> bytes:
    """SHA-256 of a message's encoding: what an authenticator uses to bind a request body."""
    return hashlib.sha256(encode(message)).digest()
