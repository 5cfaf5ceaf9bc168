"""KRB-PRIV channels (orthrus.priv, RFC 4120 §3.5, §5.7): each check refuses what it must."""

from __future__ import annotations

import os

import msgspec
import pytest

from orthrus.codec import encode
from orthrus.errors import ProtocolError
from orthrus.keys import Key, KeyUsage
from orthrus.priv import (
    MAX_USER_DATA,
    SEQ_MODULUS,
    EncKrbPrivPart,
    KrbPriv,
    PrivChannel,
    decode_priv,
    encode_priv,
)
from orthrus.seal import seal

NOW = 1_800_000_000.25


def pair(seq: int | None = None) -> tuple[PrivChannel, PrivChannel]:
    client = PrivChannel.initiator(os.urandom)
    if seq is not None:
        client = PrivChannel(client.key, "initiator", (seq, seq))
    return client, PrivChannel.acceptor(client.key, client.initial_seq)


def refused(channel: PrivChannel, message: KrbPriv, name: str, now: float = NOW) -> None:
    with pytest.raises(ProtocolError) as info:
        channel.open(message, now)
    assert info.value.name == name, info.value


def test_round_trip_both_directions() -> None:
    client, service = pair()
    for i in range(3):
        wire = encode_priv(client.seal(b"ping %d" % i, NOW, os.urandom))
        assert service.open(decode_priv(wire), NOW) == b"ping %d" % i
        assert client.open(service.seal(b"pong %d" % i, NOW, os.urandom), NOW) == b"pong %d" % i


def test_replay_is_refused_and_changes_nothing() -> None:
    client, service = pair()
    first = client.seal(b"a", NOW, os.urandom)
    service.open(first, NOW)
    refused(service, first, "KRB_AP_ERR_REPEAT")
    assert service.open(client.seal(b"b", NOW, os.urandom), NOW) == b"b"


def test_reordered_is_refused() -> None:
    client, service = pair()
    first, second = client.seal(b"1", NOW, os.urandom), client.seal(b"2", NOW, os.urandom)
    refused(service, second, "KRB_AP_ERR_BADORDER")
    assert service.open(first, NOW) == b"1"
    assert service.open(second, NOW) == b"2"


@pytest.mark.parametrize("offset", [301, -301])
def test_too_old_or_too_new(offset: int) -> None:
    client, service = pair()
    refused(service, client.seal(b"x", NOW + offset, os.urandom), "KRB_AP_ERR_SKEW")


def test_within_skew() -> None:
    client, service = pair()
    assert service.open(client.seal(b"x", NOW - 299, os.urandom), NOW) == b"x"


def test_reflected_message_is_refused() -> None:
    client, service = pair()
    mine = client.seal(b"x", NOW, os.urandom)
    refused(client, mine, "KRB_AP_ERR_BADDIRECTION")
    reply = service.seal(b"y", NOW, os.urandom)
    refused(service, reply, "KRB_AP_ERR_BADDIRECTION")


def test_tampered_message_is_refused() -> None:
    client, service = pair()
    message = client.seal(b"transfer 10", NOW, os.urandom)
    header, key, nonce, body, tag = message.enc_part.split(".")
    body = body[:5] + ("A" if body[5] != "A" else "B") + body[6:]
    refused(service, KrbPriv(".".join((header, key, nonce, body, tag))), "KRB_AP_ERR_MODIFIED")
    refused(service, KrbPriv(message.enc_part[:-4]), "KRB_AP_ERR_MODIFIED")


def test_wrong_key_or_usage_is_refused() -> None:
    client, service = pair()
    part = EncKrbPrivPart(b"x", int(NOW), 0, client.initial_seq, "initiator")
    other_key = seal(Key.generate(os.urandom), KeyUsage.KRB_PRIV_ENC_PART, encode(part), os.urandom)
    refused(service, KrbPriv(other_key), "KRB_AP_ERR_MODIFIED")
    other_usage = seal(client.key, KeyUsage.AP_REQ_AUTHENTICATOR, encode(part), os.urandom)
    refused(service, KrbPriv(other_usage), "KRB_AP_ERR_MODIFIED")
    garbage = seal(client.key, KeyUsage.KRB_PRIV_ENC_PART, b"not json", os.urandom)
    refused(service, KrbPriv(garbage), "KRB_AP_ERR_MODIFIED")


def test_sequence_numbers_wrap() -> None:
    client, service = pair(SEQ_MODULUS - 1)
    assert service.open(client.seal(b"last", NOW, os.urandom), NOW) == b"last"
    assert service.open(client.seal(b"first", NOW, os.urandom), NOW) == b"first"


def test_acceptor_sequence_from_ap_rep() -> None:
    client, _ = pair(1000)
    service = PrivChannel.acceptor(client.key, 1000, acceptor_seq=1042)
    first = service.seal(b"x", NOW, os.urandom)
    refused(client, first, "KRB_AP_ERR_BADORDER")
    client.set_acceptor_seq(1042)
    assert client.open(first, NOW) == b"x"
    assert client.open(service.seal(b"y", NOW, os.urandom), NOW) == b"y"


def test_limits_and_repr() -> None:
    client, _ = pair()
    with pytest.raises(ValueError):
        client.seal(b"x" * (MAX_USER_DATA + 1), NOW, os.urandom)
    assert client.key.material.hex() not in repr(client)
    assert "user_data" not in repr(EncKrbPrivPart(b"secret", 1, 0, 1, "initiator"))
    for junk in (b"", b"{}", b'{"type":"KRB-PRIV"}', b'{"type":"KRB-PRIV","enc_part":""}', b"\xff"):
        with pytest.raises(ProtocolError) as info:
            decode_priv(junk)
        assert info.value.name == "KRB_ERR_GENERIC"
    assert msgspec.json.decode(encode_priv(KrbPriv("a.b.c.d.e")))["type"] == "KRB-PRIV"
