"""Property tests of the codec and the principal parser (hypothesis).

- For every message type: ``decode(encode(x)) == x`` for any valid ``x`` (strategies built
  from the models' own types and bounds, so they cover what the codec accepts).
- Random bytes, random JSON and mutated valid messages never raise anything but the
  protocol's error (:class:`~orthrus.errors.MalformedMessage`, RFC 4120 §7.5.9
  ``KRB_ERR_GENERIC``/``KRB_ERR_FIELD_TOOLONG``).
- Principal names (RFC 4120 §6.2): ``parse(str(p)) == p``, and any text either parses to a
  name that prints back the same, or is ``MalformedMessage``.

Example counts are kept small for ``make test``; ``scripts/fuzz.sh`` runs the same
properties with ``HYPOTHESIS_PROFILE=long``.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orthrus import codec
from orthrus.credentials import Credential
from orthrus.errors import MalformedMessage
from orthrus.keytab import Keytab
from orthrus.kpasswd import KpasswdRep, KpasswdReq, KpasswdResult
from orthrus.messages import (
    APRep,
    APReq,
    ASRep,
    ASReq,
    Authenticator,
    EncAPRepPart,
    EncKDCRepPart,
    EncTicketPart,
    KDCReqBody,
    PAEncTimestamp,
    TGSRep,
    TGSReq,
)
from orthrus.principal import MAX_NAME_LENGTH, Principal
from orthrus.priv import EncKrbPrivPart, KrbPriv

settings.register_profile(
    "short", max_examples=40, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile(
    "long", max_examples=2_000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "short"))

MESSAGES: list[type[Any]] = [
    ASReq,
    ASRep,
    TGSReq,
    TGSRep,
    APReq,
    APRep,
    KrbPriv,
    KpasswdReq,
    KpasswdRep,
    KDCReqBody,
    PAEncTimestamp,
    EncTicketPart,
    EncKDCRepPart,
    Authenticator,
    EncAPRepPart,
    EncKrbPrivPart,
    KpasswdResult,
    Credential,
    Keytab,
]

# -- strategies from the models ------------------------------------------------------------

_COMPONENT = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-",
    min_size=1,
    max_size=12,
).filter(lambda c: c not in {".", ".."})
_REALM = st.from_regex(r"\A[A-Z0-9](?:[A-Z0-9.-]{0,10}[A-Z0-9])?\Z")
PRINCIPALS = st.builds(Principal, st.lists(_COMPONENT, min_size=1, max_size=4).map(tuple), _REALM)


def _bounded(meta: msgspec.Meta, base: type) -> st.SearchStrategy[Any]:
    if base is int:
        low = meta.ge if meta.ge is not None else (meta.gt + 1 if meta.gt is not None else 0)
        high = meta.le if meta.le is not None else (meta.lt - 1 if meta.lt is not None else 2**40)
        return st.integers(low, high)
    if base is bytes:
        return st.binary(min_size=meta.min_length or 0, max_size=meta.max_length or 64)
    if base is str:
        return st.text(min_size=meta.min_length or 0, max_size=min(meta.max_length or 40, 40))
    if base is list:
        raise TypeError
    return strategy_for(base)


def strategy_for(type_: Any) -> st.SearchStrategy[Any]:
    """A strategy for any type the message models use."""
    if type_ is Principal:
        return PRINCIPALS
    origin = get_origin(type_)
    if origin is Annotated:
        base, *metas = get_args(type_)
        meta = next((m for m in metas if isinstance(m, msgspec.Meta)), None)
        if get_origin(base) is list and meta is not None:
            (item,) = get_args(base)
            return st.lists(strategy_for(item), max_size=min(meta.max_length or 3, 3))
        return _bounded(meta, base) if meta is not None else strategy_for(base)
    if origin is Literal:
        return st.sampled_from(get_args(type_))
    if origin is Union or type(type_).__name__ == "UnionType":
        return st.one_of([strategy_for(t) for t in get_args(type_)])
    if origin is list:
        return st.lists(strategy_for(get_args(type_)[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=3)
    if type_ is type(None):
        return st.none()
    if isinstance(type_, type) and issubclass(type_, msgspec.Struct):
        hints = msgspec.structs.fields(type_)
        return st.builds(type_, **{f.encode_name: strategy_for(f.type) for f in hints})
    simple: dict[Any, st.SearchStrategy[Any]] = {
        int: st.integers(0, 2**40),
        str: st.text(max_size=40),
        bytes: st.binary(max_size=64),
        bool: st.booleans(),
        Any: st.none(),
    }
    return simple[type_]


# -- decode(encode(x)) == x ----------------------------------------------------------------


@pytest.mark.parametrize("type_", MESSAGES, ids=lambda t: t.__name__)
def test_decode_of_encode_is_identity(type_: type[Any]) -> None:
    @given(strategy_for(type_))
    def roundtrip(message: Any) -> None:
        encoded = codec.encode(message)
        assert codec.decode(encoded, type_) == message
        assert codec.encode(codec.decode(encoded, type_)) == encoded  # canonical

    roundtrip()


# -- random input: only the protocol's error ------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


def decodes_or_malformed(data: bytes | str, type_: type[Any]) -> None:
    try:
        codec.decode(data, type_)
    except MalformedMessage as exc:
        assert exc.name in {"KRB_ERR_GENERIC", "KRB_ERR_FIELD_TOOLONG"}


@pytest.mark.parametrize("type_", MESSAGES, ids=lambda t: t.__name__)
def test_random_bytes_raise_only_malformed_message(type_: type[Any]) -> None:
    @given(st.binary(max_size=256))
    def random_bytes(data: bytes) -> None:
        decodes_or_malformed(data, type_)

    random_bytes()


@pytest.mark.parametrize("type_", MESSAGES, ids=lambda t: t.__name__)
def test_random_json_raises_only_malformed_message(type_: type[Any]) -> None:
    @given(JSON)
    def random_json(value: Any) -> None:
        decodes_or_malformed(msgspec.json.encode(value), type_)

    random_json()


@pytest.mark.parametrize("type_", MESSAGES, ids=lambda t: t.__name__)
def test_mutated_messages_raise_only_malformed_message(type_: type[Any]) -> None:
    """Valid messages with bytes changed, inserted or cut: near-valid input reaches deep."""

    @given(strategy_for(type_), st.data())
    def mutated(message: Any, data: st.DataObject) -> None:
        raw = bytearray(codec.encode(message))
        for _ in range(data.draw(st.integers(1, 4))):
            at = data.draw(st.integers(0, len(raw)))
            action = data.draw(st.sampled_from(["flip", "insert", "cut"]))
            if action == "insert" or not raw:
                raw[at:at] = data.draw(st.binary(min_size=1, max_size=3))
            elif action == "flip":
                raw[min(at, len(raw) - 1)] ^= 1 << data.draw(st.integers(0, 7))
            else:
                del raw[at : at + data.draw(st.integers(1, 8))]
        decodes_or_malformed(bytes(raw), type_)

    mutated()


# -- principal names -------------------------------------------------------------------------


@given(PRINCIPALS)
def test_principal_parse_of_str_is_identity(principal: Principal) -> None:
    assert Principal.parse(str(principal)) == principal
    assert codec.decode(codec.encode(principal), Principal) == principal


@given(st.text(max_size=MAX_NAME_LENGTH + 20))
def test_principal_parser_accepts_canonical_names_or_raises_malformed(text: str) -> None:
    try:
        principal = Principal.parse(text)
    except MalformedMessage as exc:
        assert exc.name == "KRB_ERR_GENERIC"
    else:
        assert str(principal) == text  # one spelling per name: no case or unicode folding
        assert text.isascii()


@given(st.text(alphabet=st.characters(min_codepoint=128), min_size=1, max_size=8))
def test_principal_with_any_non_ascii_character_is_refused(extra: str) -> None:
    with pytest.raises(MalformedMessage):
        Principal.parse(f"ali{extra}ce@EXAMPLE.TEST")
