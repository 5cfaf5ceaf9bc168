"""The rules peers get wrong, and the bounds, of :mod:`orthrus.der` (RFC 4120 §5)."""

from __future__ import annotations

import pytest
from der_oracle import SPEC
from test_der_vectors import (
    ENC_DATA,
    ENC_KDC_REP_PART,
    KDC_REQ_BODY,
    MIT,
    PRINCIPAL,
    SAMPLE_FLAGS,
    TICKET,
)

from orthrus import der
from orthrus.der import (
    AD_IF_RELEVANT,
    MAX_AD_DEPTH,
    MAX_MESSAGE_SIZE,
    PA_ENC_TIMESTAMP,
    PA_ETYPE_INFO2,
    PA_TGS_REQ,
    APReq,
    AuthorizationDataEntry,
    EncryptionKey,
    ETypeInfo2Entry,
    KDCReq,
    KRBError,
    PAData,
    PAEncTsEnc,
    PrincipalName,
    Ticket,
    find_padata,
    schema,
    tlv,
)
from orthrus.der.codec import read_element
from orthrus.errors import MalformedMessage


def malformed(data: bytes, decode: object = der.decode_tgs_req) -> MalformedMessage:
    with pytest.raises(MalformedMessage) as caught:
        decode(data)  # type: ignore[operator]
    return caught.value


# -- EncKDCRepPart: [APPLICATION 25] or [APPLICATION 26] -------------------------------------


def test_enc_kdc_rep_part_is_read_as_application_25_or_26() -> None:
    as_26 = MIT["enc_kdc_rep_part"]
    assert as_26[0] == 0x7A  # MIT sends [APPLICATION 26] (EncTGSRepPart), even in AS replies
    as_25 = bytes([0x79]) + as_26[1:]
    assert der.decode_enc_kdc_rep_part(as_25) == der.decode_enc_kdc_rep_part(as_26)
    assert der.decode_enc_kdc_rep_part(as_25) == ENC_KDC_REP_PART


def test_enc_kdc_rep_part_is_written_as_application_26() -> None:
    assert der.encode_enc_kdc_rep_part(ENC_KDC_REP_PART)[0] == 0x7A


def test_enc_kdc_rep_part_under_another_tag_is_malformed() -> None:
    for tag in (0x7B, 0x78, 0x30, 0x63):
        error = malformed(bytes([tag]) + MIT["enc_kdc_rep_part"][1:], der.decode_enc_kdc_rep_part)
        assert error.name == "KRB_ERR_GENERIC"


# -- KerberosFlags: at least 32 bits ---------------------------------------------------------


def _ap_req_with_options(octets: bytes, bits: int) -> bytes:
    value = SPEC.decode("AP-REQ", MIT["ap_req"])
    value["ap-options"] = (octets, bits)
    encoded: bytes = SPEC.encode("AP-REQ", value)
    return encoded


def test_kerberos_flags_longer_than_32_bits_keep_the_first_32() -> None:
    data = _ap_req_with_options(bytes.fromhex("FEDCBA98FFFFFFFF"), 64)
    assert der.decode_ap_req(data).ap_options == SAMPLE_FLAGS
    data = _ap_req_with_options(bytes.fromhex("FEDCBA9880"), 33)
    assert der.decode_ap_req(data).ap_options == SAMPLE_FLAGS


def test_kerberos_flags_shorter_than_32_bits_are_padded_with_zeros() -> None:
    assert der.decode_ap_req(_ap_req_with_options(b"\x80", 1)).ap_options == 0x80000000
    assert der.decode_ap_req(_ap_req_with_options(b"\x60", 3)).ap_options == 0x60000000
    assert der.decode_ap_req(_ap_req_with_options(b"", 0)).ap_options == 0
    # Bits past the declared length are not flags, even if a sloppy peer sets them.
    assert der.decode_ap_req(_ap_req_with_options(b"\xff", 3)).ap_options == 0xE0000000


def test_kerberos_flags_are_written_as_32_bits() -> None:
    for flags in (0, 1, 0x80000000, SAMPLE_FLAGS):
        encoded = der.encode_ap_req(APReq(flags, TICKET, ENC_DATA))
        # [2] { BIT STRING, 5 octets: 0 unused bits + 4 octets }, even when all are zero
        assert b"\xa2\x07\x03\x05\x00" + flags.to_bytes(4, "big") in encoded
        assert der.decode_ap_req(encoded).ap_options == flags


# -- principal names -------------------------------------------------------------------------


def test_principal_names_compare_ignoring_name_type() -> None:
    as_principal = PrincipalName(1, ("HTTP", "web.example"))
    as_srv_host = PrincipalName(3, ("HTTP", "web.example"))
    assert as_principal == as_srv_host
    assert hash(as_principal) == hash(as_srv_host)
    assert as_principal != PrincipalName(1, ("HTTP", "other.example"))
    ticket = Ticket("EX.TEST", as_srv_host, ENC_DATA)
    decoded = der.decode_ticket(der.encode_ticket(ticket))
    assert decoded == Ticket("EX.TEST", as_principal, ENC_DATA)
    assert decoded.sname.name_type == 3  # kept, and written back as it came


def test_utf8_names_round_trip_and_other_octets_are_malformed() -> None:
    ticket = Ticket("EX.TEST", PrincipalName(1, ("jürgen", "ĥost")), ENC_DATA)
    assert der.decode_ticket(der.encode_ticket(ticket)) == ticket
    value = SPEC.decode("Ticket", MIT["ticket"])
    value["realm"] = "\xff\xfe"  # the octets FF FE: not UTF-8
    error = malformed(SPEC.encode("Ticket", value), der.decode_ticket)
    assert error.name == "KRB_ERR_GENERIC"


# -- padata ----------------------------------------------------------------------------------


def test_unknown_padata_types_are_kept_opaque_and_skipped() -> None:
    padata = (
        PAData(9999, b"\x00 not DER at all"),
        PAData(167, b"\x30\x00"),  # PA-PAC-OPTIONS, not read by Orthrus
        PAData(PA_TGS_REQ, MIT["ap_req"]),
    )
    request = der.decode_tgs_req(der.encode_kdc_req(KDCReq(12, KDC_REQ_BODY, padata)))
    assert request.padata == padata
    tgs = find_padata(request.padata, PA_TGS_REQ)
    assert tgs is not None
    assert der.decode_pa_tgs_req(tgs.value).ticket == TICKET
    assert find_padata(request.padata, PA_ENC_TIMESTAMP) is None
    assert find_padata(None, PA_TGS_REQ) is None


def test_krb_error_carries_method_data_for_preauth_required() -> None:
    etype_info2 = (ETypeInfo2Entry(18, "EX.TESTalice", bytes.fromhex("00001000")),)
    method_data = (
        PAData(PA_ETYPE_INFO2, der.encode_etype_info2(etype_info2)),
        PAData(PA_ENC_TIMESTAMP, b""),
        PAData(4242, b"unknown to us"),
    )
    error = KRBError(
        stime=1_800_000_000,
        susec=5,
        error_code=25,  # KDC_ERR_PREAUTH_REQUIRED
        realm="EX.TEST",
        sname=PrincipalName(2, ("krbtgt", "EX.TEST")),
        e_data=der.encode_method_data(method_data),
    )
    decoded = der.decode_krb_error(der.encode_krb_error(error))
    assert decoded == error
    assert decoded.e_data is not None
    padata = der.decode_method_data(decoded.e_data)
    assert padata == method_data
    info = find_padata(padata, PA_ETYPE_INFO2)
    assert info is not None and der.decode_etype_info2(info.value) == etype_info2


# -- the checks after the library -------------------------------------------------------------


def test_msg_type_must_match_the_application_tag() -> None:
    as_req = MIT["as_req"]
    disguised = bytes([0x6C]) + as_req[1:]  # [APPLICATION 12] around msg-type 10
    assert malformed(disguised).name == "KRB_ERR_GENERIC"
    assert malformed(disguised, der.decode_kdc_req).name == "KRB_ERR_GENERIC"
    assert malformed(as_req, der.decode_tgs_req).name == "KRB_ERR_GENERIC"
    assert der.decode_kdc_req(as_req).msg_type == 10
    assert der.decode_kdc_req(MIT["tgs_req"]).msg_type == 12


def test_wrong_pvno_is_malformed() -> None:
    value = SPEC.decode("AP-REQ", MIT["ap_req"])
    value["pvno"] = 4
    assert malformed(SPEC.encode("AP-REQ", value), der.decode_ap_req).name == "KRB_ERR_GENERIC"


def test_integers_outside_their_range_are_malformed() -> None:
    for value in (2**32, -1, 2**200):
        request = SPEC.decode("TGS-REQ", MIT["tgs_req"])
        request["req-body"]["nonce"] = value
        assert malformed(SPEC.encode("TGS-REQ", request)).name == "KRB_ERR_GENERIC"
    stamp = SPEC.decode("PA-ENC-TS-ENC", MIT["pa_enc_ts"])
    stamp["pausec"] = 1_000_000
    assert malformed(SPEC.encode("PA-ENC-TS-ENC", stamp), der.decode_pa_enc_ts_enc)
    for kvno in (2**32, -(2**31) - 1, 2**80):
        data = SPEC.encode("EncryptedData", {"etype": 1, "kvno": kvno, "cipher": b"x"})
        assert malformed(data, der.decode_pa_enc_timestamp).name == "KRB_ERR_GENERIC"


def test_fractional_seconds_are_malformed() -> None:
    time = b"\x18\x11" + b"19940610060317.5Z"
    stamp = b"\x30\x15\xa0\x13" + time
    assert malformed(stamp, der.decode_pa_enc_ts_enc).name == "KRB_ERR_GENERIC"
    assert der.decode_pa_enc_ts_enc(
        stamp.replace(b".5Z", b"Z").replace(b"\x15\xa0\x13\x18\x11", b"\x13\xa0\x11\x18\x0f")
    ) == PAEncTsEnc(771228197)


def test_encoding_a_value_out_of_range_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="outside"):
        der.encode_pa_enc_ts_enc(PAEncTsEnc(0, 1_000_000))
    with pytest.raises(ValueError, match="outside"):
        der.encode_ticket(Ticket("EX.TEST", PrincipalName(2**40, ("a",)), ENC_DATA))


def test_key_values_stay_out_of_repr() -> None:
    key = EncryptionKey(18, bytes(range(32)))
    assert bytes(range(32)).hex() not in repr(key) and "keyvalue" not in repr(key)


# -- bounds ----------------------------------------------------------------------------------


def test_message_over_the_size_limit_is_field_toolong_before_decoding() -> None:
    error = malformed(b"\x6c" + b"\x00" * MAX_MESSAGE_SIZE)
    assert error.name == "KRB_ERR_FIELD_TOOLONG" and error.code == 61
    assert malformed(b"\x6c" + b"\x00" * (MAX_MESSAGE_SIZE - 1)).name == "KRB_ERR_GENERIC"


def test_message_at_the_size_limit_decodes() -> None:
    body = ENC_DATA.cipher + b"\x00" * (MAX_MESSAGE_SIZE - 300)
    ticket = Ticket("EX.TEST", PRINCIPAL, type(ENC_DATA)(18, body, kvno=1))
    data = der.encode_ticket(ticket)
    assert len(data) <= MAX_MESSAGE_SIZE
    assert der.decode_ticket(data) == ticket


def _nested_if_relevant(depth: int) -> tuple[AuthorizationDataEntry, ...]:
    entries = (AuthorizationDataEntry(128, b"PAC"),)
    for _ in range(depth):
        entries = (AuthorizationDataEntry(AD_IF_RELEVANT, der.encode_ad_if_relevant(entries)),)
    return entries


def test_ad_if_relevant_is_unwrapped_up_to_the_depth_limit() -> None:
    flat = der.expand_authorization_data(_nested_if_relevant(MAX_AD_DEPTH))
    assert flat == (AuthorizationDataEntry(128, b"PAC"),)
    mixed = (AuthorizationDataEntry(1, der.encode_ad_if_relevant(flat)), *flat)
    assert der.expand_authorization_data(mixed) == flat * 2


def test_ad_if_relevant_nested_too_deep_is_malformed() -> None:
    with pytest.raises(MalformedMessage) as caught:
        der.expand_authorization_data(_nested_if_relevant(MAX_AD_DEPTH + 1))
    assert caught.value.name == "KRB_ERR_GENERIC"


def test_deeply_nested_garbage_is_malformed_not_a_recursion_error() -> None:
    for unit in (b"\x6c\x80", b"\x30\x80", b"\xa4\x80", b"\x24\x80"):
        data = unit * (MAX_MESSAGE_SIZE // 2)
        for decode in (der.decode_tgs_req, der.decode_kdc_req, der.decode_enc_kdc_rep_part):
            assert malformed(data, decode).name == "KRB_ERR_GENERIC"


def test_error_text_never_quotes_the_input() -> None:
    secret = b"hunter2-password"
    data = MIT["pa_enc_ts"][:-3] + secret
    error = malformed(data, der.decode_pa_enc_ts_enc)
    assert "hunter2" not in str(error) and secret.hex() not in str(error)


def test_times_outside_the_epoch_to_year_9999_are_refused() -> None:
    before_epoch = MIT["pa_enc_ts (no usec)"].replace(b"1994", b"1969")
    assert malformed(before_epoch, der.decode_pa_enc_ts_enc).name == "KRB_ERR_GENERIC"
    local_time = b"\x30\x12\xa0\x10\x18\x0e" + b"19940610060317"  # no Z: a local time
    assert malformed(local_time, der.decode_pa_enc_ts_enc).name == "KRB_ERR_GENERIC"
    with_offset = b"\x30\x17\xa0\x15\x18\x13" + b"19940610060317+0100"
    assert malformed(with_offset, der.decode_pa_enc_ts_enc).name == "KRB_ERR_GENERIC"
    with pytest.raises(ValueError, match="outside"):
        der.encode_pa_enc_ts_enc(PAEncTsEnc(-1))
    assert der.decode_pa_enc_ts_enc(der.encode_pa_enc_ts_enc(PAEncTsEnc(0))) == PAEncTsEnc(0)


def test_an_empty_tagged_field_at_the_end_of_a_message_is_malformed() -> None:
    """``[0]`` with no contents as the message's last octets: nothing to read past the end."""
    for data in (b"\x30\x02\xa0\x00", b"\x30\x03\xa0\x01\x18"):
        assert malformed(data, der.decode_pa_enc_ts_enc).name == "KRB_ERR_GENERIC"


# -- an AP-REQ split with its ticket as octets (the Negotiate acceptor's ticket cache) ------


def test_split_ap_req_keeps_the_ticket_as_its_exact_octets() -> None:
    """MIT's reference AP-REQ: the options and authenticator as :func:`der.decode_ap_req`
    reads them, the ticket as the octets of its whole element, which occur in the message
    and decode to the same Ticket."""
    whole = der.decode_ap_req(MIT["ap_req"])
    parts = der.split_ap_req(MIT["ap_req"])
    assert (parts.ap_options, parts.authenticator) == (whole.ap_options, whole.authenticator)
    assert parts.ticket == MIT["ticket"] and parts.ticket in MIT["ap_req"]
    assert der.decode_ticket(parts.ticket) == whole.ticket == TICKET
    assert der.encode_ap_req(whole) == MIT["ap_req"]


def test_split_ap_req_refuses_what_decode_ap_req_refuses_outside_the_ticket() -> None:
    """The same schema as the AP-REQ's: a wrong msg-type, a message cut before its
    authenticator, another element in the ticket's place, trailing octets, an empty AP-REQ
    are malformed."""
    good = der.encode_ap_req(APReq(SAMPLE_FLAGS, TICKET, ENC_DATA))
    wrong_type = good.replace(b"\xa1\x03\x02\x01\x0e", b"\xa1\x03\x02\x01\x0f", 1)
    cut = good[: good.rindex(b"\xa4")]
    at = good.index(MIT["ticket"])
    not_a_ticket = good[:at] + b"\x62" + good[at + 1 :]
    for data in (wrong_type, cut, not_a_ticket, good + b"\x00", b"\x6e\x00"):
        assert malformed(data, der.split_ap_req).name == "KRB_ERR_GENERIC"
        assert malformed(data, der.decode_ap_req).name == "KRB_ERR_GENERIC"


def test_kept_octets_are_the_whole_element_read_under_an_application_tag_too() -> None:
    """A SEQUENCE that keeps its octets (a req-body, for the TGS checksum) keeps the element
    as read, header and all, also when it is declared under [APPLICATION n]."""
    body = der.encode_kdc_req_body(KDC_REQ_BODY)
    assert der.decode_kdc_req_body(body).octets == body
    under = schema.KDC_REQ_BODY.under(30)
    wrapped = tlv.tlv(under.tag, body)
    assert read_element({under.tag: under}, "KDC-REQ-BODY", wrapped)[1].octets == wrapped
