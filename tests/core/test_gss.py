"""Both sides of a Kerberos GSS-API context over SPNEGO (RFC 2743 §3.1, RFC 4121 §4.1,
RFC 4178 §4.2), sans-IO, with tickets from the in-memory realm's DER KDC."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace

import pytest
from core_realm import T0
from kerberos_realm import KerberosRealm

from orthrus import der
from orthrus.ap import APRules
from orthrus.errors import APError, MalformedMessage
from orthrus.kerberos.client import KerberosCredential, read_kdc_rep, tgs_request
from orthrus.kerberos.gss import (
    DEFAULT_FLAGS,
    InitiatorContext,
    accept_reply,
    accept_security_context,
    complete_security_context,
    initiate_security_context,
    read_initiator_token,
    reject_token,
)
from orthrus.kerberos.gss_tokens import (
    GSS_C_DELEG_FLAG,
    GSS_C_MUTUAL_FLAG,
    KRB5_OID,
    MS_KRB5_OID,
    SPNEGO_OID,
    TOK_AP_REP,
    TOK_AP_REQ,
    TOK_KRB_ERROR,
    GSSChecksum,
    KerberosToken,
    NegTokenInit,
    NegTokenResp,
    decode_initial_token,
    decode_kerberos_token,
    decode_neg_token_resp,
    encode_kerberos_token,
    encode_neg_token_init,
    encode_neg_token_resp,
)
from orthrus.kerberos.names import principal_name
from orthrus.kerberos.tickets import encrypt
from orthrus.keys import KeyUsage
from orthrus.principal import Principal
from orthrus.realm import KerberosKey
from orthrus.replay import MemoryReplayCache

PASSWORD = "correct horse"


class Setup:
    """A user's service ticket for HTTP/web, and the service's keys."""

    def __init__(self) -> None:
        self.realm = KerberosRealm()
        self.alice = self.realm.add_krb_user("alice", PASSWORD)
        self.web = self.realm.add_krb_service("HTTP/web")
        tgt = self.realm.krb_login(self.alice, PASSWORD)
        request = tgs_request(tgt, self.web, T0, os.urandom)
        self.credential: KerberosCredential = read_kdc_rep(self.realm.reply(request), request)
        self.rules = APRules(replay_cache=MemoryReplayCache())

    def keys_for(self, principal: Principal) -> Sequence[KerberosKey] | None:
        return self.realm.entries[self.web].kerberos_keys if principal == self.web else None

    def initiate(
        self,
        flags: int = DEFAULT_FLAGS,
        spnego: bool = True,
        mech_types: tuple[str, ...] = (KRB5_OID,),
    ) -> InitiatorContext:
        return initiate_security_context(
            self.credential, T0 + 1, os.urandom, flags=flags, spnego=spnego, mech_types=mech_types
        )

    def accept(self, token: bytes, now: float = T0 + 1) -> bytes:
        accepted = accept_security_context(
            read_initiator_token(token), self.keys_for, now, self.rules
        )
        assert accepted.client == self.alice
        return accept_reply(accepted, os.urandom)


@pytest.fixture
def setup() -> Setup:
    return Setup()


def test_spnego_round_trip_proves_both_sides(setup: Setup) -> None:
    context = setup.initiate()
    first = decode_initial_token(context.token)
    assert isinstance(first, NegTokenInit) and first.mech_types == (KRB5_OID,)
    answer = setup.accept(context.token)
    resp = decode_neg_token_resp(answer)
    assert (resp.neg_state, resp.supported_mech) == ("accept-completed", KRB5_OID)
    part = complete_security_context(context, answer)
    assert part is not None
    assert (part.ctime, part.cusec) == (context.ctime, context.cusec)
    # The initiator sent a subkey and a sequence number; the acceptor answers with its own.
    assert part.subkey is not None and part.subkey.keytype == context.session_key.enctype
    assert part.seq_number is not None


def test_bare_kerberos_token_is_answered_with_a_bare_ap_rep(setup: Setup) -> None:
    context = setup.initiate(spnego=False)
    assert decode_kerberos_token(context.token).tok_id == TOK_AP_REQ
    answer = setup.accept(context.token)
    assert decode_kerberos_token(answer).tok_id == TOK_AP_REP
    assert complete_security_context(context, answer) is not None


def test_microsoft_oid_first_is_named_back(setup: Setup) -> None:
    context = setup.initiate(mech_types=(MS_KRB5_OID, KRB5_OID))
    resp = decode_neg_token_resp(setup.accept(context.token))
    assert resp.supported_mech == MS_KRB5_OID


def test_without_mutual_flag_no_ap_rep_is_sent_or_needed(setup: Setup) -> None:
    context = setup.initiate(flags=DEFAULT_FLAGS & ~GSS_C_MUTUAL_FLAG)
    answer = setup.accept(context.token)
    resp = decode_neg_token_resp(answer)
    assert resp.neg_state == "accept-completed" and resp.response_token is None
    assert complete_security_context(context, answer) is None
    ap_req = read_initiator_token(context.token).ap_req
    assert ap_req.ap_options == 0  # no mutual-required either


def test_replayed_token_is_repeat(setup: Setup) -> None:
    token = setup.initiate().token
    setup.accept(token)
    with pytest.raises(APError) as caught:
        setup.accept(token)
    assert caught.value.name == "KRB_AP_ERR_REPEAT"


def test_ticket_for_another_service_is_not_us(setup: Setup) -> None:
    setup.web = setup.realm.add_krb_service("HTTP/other")
    with pytest.raises(APError) as caught:
        setup.accept(setup.initiate().token)
    assert caught.value.name == "KRB_AP_ERR_NOT_US"


def test_ticket_under_a_key_the_service_lacks_is_badkeyver(setup: Setup) -> None:
    setup.realm.change(setup.web, kerberos_keys=())
    with pytest.raises(APError) as caught:
        setup.accept(setup.initiate().token)
    assert caught.value.name == "KRB_AP_ERR_BADKEYVER"


@pytest.mark.parametrize("where", ["ticket", "authenticator"])
def test_tampered_token_is_modified(setup: Setup, where: str) -> None:
    context = setup.initiate(spnego=False)
    ap_req = der.decode_ap_req(decode_kerberos_token(context.token).message)
    if where == "ticket":
        sealed = ap_req.ticket.enc_part
        flipped = replace(sealed, cipher=sealed.cipher[:-1] + bytes([sealed.cipher[-1] ^ 1]))
        ap_req = replace(ap_req, ticket=replace(ap_req.ticket, enc_part=flipped))
    else:
        sealed = ap_req.authenticator
        flipped = replace(sealed, cipher=bytes([sealed.cipher[0] ^ 1]) + sealed.cipher[1:])
        ap_req = replace(ap_req, authenticator=flipped)
    token = encode_kerberos_token(KerberosToken(TOK_AP_REQ, der.encode_ap_req(ap_req)))
    with pytest.raises(APError) as caught:
        setup.accept(token)
    assert caught.value.name == "KRB_AP_ERR_MODIFIED"


def _token_with(setup: Setup, cksum: der.Checksum | None, ctime: int = int(T0) + 1) -> bytes:
    """A bare Kerberos token whose authenticator carries ``cksum``."""
    session = setup.credential.session_key
    authenticator = der.Authenticator(
        crealm=setup.alice.realm,
        cname=principal_name(setup.alice),
        cusec=0,
        ctime=ctime,
        cksum=cksum,
    )
    sealed = encrypt(
        session, KeyUsage.AP_REQ_AUTHENTICATOR, der.encode_authenticator(authenticator), os.urandom
    )
    ap_req = der.APReq(0, setup.credential.ticket, der.EncryptedData(session.enctype, sealed))
    return encode_kerberos_token(KerberosToken(TOK_AP_REQ, der.encode_ap_req(ap_req)))


@pytest.mark.parametrize(
    "cksum",
    [None, der.Checksum(16, b"x" * 12), der.Checksum(0x8003, b"\x10\x00\x00\x00" + bytes(16))],
    ids=["none", "hmac-sha1", "short-8003"],
)
def test_authenticator_without_a_gss_checksum_is_inapp_cksum(
    setup: Setup, cksum: der.Checksum | None
) -> None:
    with pytest.raises(APError) as caught:
        setup.accept(_token_with(setup, cksum))
    assert caught.value.name == "KRB_AP_ERR_INAPP_CKSUM"


def test_authenticator_out_of_skew_is_skew(setup: Setup) -> None:
    token = _token_with(setup, der.Checksum(0x8003, GSSChecksum(0).encode()), ctime=int(T0))
    setup.accept(token, now=T0 + 200)  # inside the 300 s allowed
    with pytest.raises(APError) as caught:
        setup.accept(_token_with(setup, der.Checksum(0x8003, GSSChecksum(0).encode())), T0 + 900)
    assert caught.value.name == "KRB_AP_ERR_SKEW"


def test_initiator_refuses_an_ap_rep_under_another_key(setup: Setup) -> None:
    context = setup.initiate()
    answer = setup.accept(context.token)
    other = setup.realm.krb_key(setup.web)
    with pytest.raises(APError) as caught:
        complete_security_context(replace(context, session_key=other), answer)
    assert caught.value.name == "KRB_AP_ERR_MUT_FAIL"


def test_initiator_refuses_an_ap_rep_for_another_authenticator(setup: Setup) -> None:
    context = setup.initiate()
    answer = setup.accept(context.token)
    with pytest.raises(APError) as caught:
        complete_security_context(replace(context, cusec=context.cusec ^ 1), answer)
    assert caught.value.name == "KRB_AP_ERR_MUT_FAIL"


@pytest.mark.parametrize(
    "answer",
    [
        NegTokenResp("accept-completed", KRB5_OID),
        NegTokenResp("reject"),
        NegTokenResp("accept-incomplete", KRB5_OID),
        NegTokenResp("accept-completed", "1.3.6.1.4.1.311.2.2.10"),
    ],
    ids=["no-ap-rep", "reject", "incomplete", "ntlm"],
)
def test_initiator_asking_mutual_refuses_an_answer_without_proof(
    setup: Setup, answer: NegTokenResp
) -> None:
    context = setup.initiate()
    with pytest.raises(APError) as caught:
        complete_security_context(context, encode_neg_token_resp(answer))
    assert caught.value.name == "KRB_AP_ERR_MUT_FAIL"


def test_initiator_raises_the_error_of_a_krb_error_token(setup: Setup) -> None:
    error = der.KRBError(
        stime=int(T0),
        susec=0,
        error_code=34,
        realm=setup.web.realm,
        sname=principal_name(setup.web),
        e_text="seen before",
    )
    token = encode_kerberos_token(KerberosToken(TOK_KRB_ERROR, der.encode_krb_error(error)))
    answer = encode_neg_token_resp(NegTokenResp("reject", KRB5_OID, token))
    with pytest.raises(APError) as caught:
        complete_security_context(setup.initiate(), answer)
    assert caught.value.name == "KRB_AP_ERR_REPEAT"


def test_reject_token_reads_back() -> None:
    assert decode_neg_token_resp(reject_token()).neg_state == "reject"


@pytest.mark.parametrize(
    "token",
    [
        encode_neg_token_init(NegTokenInit(("1.3.6.1.4.1.311.2.2.10", KRB5_OID), b"x")),
        b"NTLMSSP\x00\x01\x00\x00\x00",  # what Windows sends without a Kerberos ticket
    ],
    ids=["spnego-ntlm-first", "bare-ntlm"],
)
def test_first_token_of_ntlm_is_msg_type_saying_what_to_do(token: bytes) -> None:
    with pytest.raises(APError, match="kinit") as caught:
        read_initiator_token(token)
    assert caught.value.name == "KRB_AP_ERR_MSG_TYPE"


def test_first_token_without_a_mech_token_is_malformed() -> None:
    with pytest.raises(MalformedMessage, match="no Kerberos token"):
        read_initiator_token(encode_neg_token_init(NegTokenInit((KRB5_OID,))))


def test_first_token_that_is_an_ap_rep_is_malformed() -> None:
    token = encode_kerberos_token(KerberosToken(TOK_AP_REP, b"\x6f\x00"))
    with pytest.raises(MalformedMessage, match="not an AP-REQ"):
        read_initiator_token(token)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x60\x00",
        bytes.fromhex("600b06092a864886f712010202"),  # mechanism, no TOK_ID
        bytes.fromhex("600f06092a864886f71201020201006e00") + b"\x00",  # trailing octet
        bytes.fromhex("600f06092a864886f71201020209006e00"),  # unknown TOK_ID
        bytes.fromhex("6010060a2b06010401823702020a01006e00"),  # another mechanism's OID
        b"\x60\x84\xff\xff\xff\xff",
        b"\xa1\x03\x30\x01\x00",  # a NegTokenResp where the initiator's token goes
        bytes(70_000),
    ],
)
def test_garbage_initial_tokens_are_malformed(data: bytes) -> None:
    with pytest.raises(MalformedMessage):
        read_initiator_token(data)


def test_spnego_framing_is_rfc_2743_with_the_spnego_oid() -> None:
    inner = encode_kerberos_token(KerberosToken(TOK_AP_REQ, b"\x6e\x00"))
    assert inner.hex() == "600f06092a864886f71201020201006e00"
    token = encode_neg_token_init(NegTokenInit((KRB5_OID,), inner))
    assert token.startswith(bytes.fromhex("60") + bytes([len(token) - 2]) + b"\x06\x06")
    assert SPNEGO_OID == "1.3.6.1.5.5.2" and token[4:10] == bytes.fromhex("2b0601050502")
    assert decode_initial_token(token) == NegTokenInit((KRB5_OID,), inner)
    resp = NegTokenResp("accept-completed", KRB5_OID, b"tok")
    assert (
        encode_neg_token_resp(resp).hex()
        == "a11b3019a0030a0100a10b06092a864886f712010202a205040374" + "6f6b"
    )
    assert decode_neg_token_resp(encode_neg_token_resp(resp)) == resp


def test_gss_checksum_layout_and_delegation() -> None:
    plain = GSSChecksum(GSS_C_MUTUAL_FLAG)
    assert plain.encode() == b"\x10\x00\x00\x00" + bytes(16) + b"\x02\x00\x00\x00"
    assert GSSChecksum.decode(plain.encode() + b"ext") == plain
    deleg = GSSChecksum(GSS_C_MUTUAL_FLAG | GSS_C_DELEG_FLAG, delegation=b"KRB-CRED")
    assert GSSChecksum.decode(deleg.encode()) == deleg
    for bad in (plain.encode()[:-1], b"\x11" + plain.encode()[1:], deleg.encode()[:-1]):
        with pytest.raises(MalformedMessage):
            GSSChecksum.decode(bad)
