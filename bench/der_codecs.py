"""Three maintained ASN.1 libraries and :mod:`orthrus.der` on the messages of a TGS and of a
Negotiate login: ``python -m bench.der_codecs``.

In the same run, prints µs/op (CPU time, best of five rounds) of decoding a TGS-REQ with the
AP-REQ in its padata and an AP-REQ inside SPNEGO (RFC 4178 NegTokenInit, RFC 4121 token), and
of encoding a TGS-REP and an AP-REP inside SPNEGO (NegTokenResp), with:

- :mod:`asn1tools`, compiled from the RFC 4120 and RFC 4178 ASN.1 text of the tests' oracle
  (``tests/der_oracle.py``; its BER reader, the one that does not hang, and DER writer),
  giving dicts;
- :mod:`pyasn1` (types declared by hand below, as pyasn1 wants), RFC 4120 only: it was 10x
  slower than asn1tools already;
- :mod:`asn1crypto` (its declarative classes, :mod:`bench.der_asn1crypto`), read to
  ``.native``;
- :mod:`orthrus.der` and :mod:`orthrus.kerberos.gss_tokens`, straight into the typed models
  with every check. The library rows give dicts without the checks, so they are lower bounds
  of what a codec on them costs.

The TGS-REQ is MIT's reference encoding
(``src/tests/asn.1/reference_encode.out``, ``encode_krb5_tgs_req``) with its padata made a
PA-TGS-REQ holding MIT's reference AP-REQ and a PA-PAC-OPTIONS, as ``kvno`` sends, once with
the body of a typical request (``optionals NULL except server``) and once with every
optional field; the TGS-REP is MIT's ``encode_krb5_tgs_rep``. The choice and the figures
are in docs/architecture.md ("DER codec") and docs/performance.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyasn1.codec.der import decoder as pyasn1_decoder
from pyasn1.codec.der import encoder as pyasn1_encoder
from pyasn1.type import char, namedtype, tag, univ, useful

from bench import der_asn1crypto as ac
from bench.micro import timeit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from der_oracle import GSS_READER, GSS_SPEC, READER, SPEC

from orthrus import der
from orthrus.kerberos import gss_tokens as g

VECTORS = Path(__file__).resolve().parent.parent / "tests" / "core" / "data"


def mit_vector(name: str) -> bytes:
    """One hex line of MIT's reference_encode.out, as bytes."""
    for line in (VECTORS / "mit_reference_encode.out").read_text().splitlines():
        label, _, hexdata = line.partition(": ")
        if label == name:
            return bytes.fromhex(hexdata)
    raise KeyError(name)


# -- pyasn1: the same types, declared by hand ------------------------------------------------


def _explicit(number: int, asn1: Any) -> Any:
    return asn1.subtype(explicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatSimple, number))


def _field(name: str, number: int, asn1: Any, optional: bool = False) -> Any:
    kind = namedtype.OptionalNamedType if optional else namedtype.NamedType
    return kind(name, _explicit(number, asn1))


def _application(number: int) -> Any:
    return tag.Tag(tag.tagClassApplication, tag.tagFormatConstructed, number)


class PrincipalName(univ.Sequence):
    componentType = namedtype.NamedTypes(
        _field("name-type", 0, univ.Integer()),
        _field("name-string", 1, univ.SequenceOf(componentType=char.GeneralString())),
    )


class EncryptedData(univ.Sequence):
    componentType = namedtype.NamedTypes(
        _field("etype", 0, univ.Integer()),
        _field("kvno", 1, univ.Integer(), optional=True),
        _field("cipher", 2, univ.OctetString()),
    )


class HostAddress(univ.Sequence):
    componentType = namedtype.NamedTypes(
        _field("addr-type", 0, univ.Integer()), _field("address", 1, univ.OctetString())
    )


class PAData(univ.Sequence):
    componentType = namedtype.NamedTypes(
        _field("padata-type", 1, univ.Integer()), _field("padata-value", 2, univ.OctetString())
    )


class Ticket(univ.Sequence):
    tagSet = univ.Sequence.tagSet.tagExplicitly(_application(1))
    componentType = namedtype.NamedTypes(
        _field("tkt-vno", 0, univ.Integer()),
        _field("realm", 1, char.GeneralString()),
        _field("sname", 2, PrincipalName()),
        _field("enc-part", 3, EncryptedData()),
    )


class KDCReqBody(univ.Sequence):
    componentType = namedtype.NamedTypes(
        _field("kdc-options", 0, univ.BitString()),
        _field("cname", 1, PrincipalName(), optional=True),
        _field("realm", 2, char.GeneralString()),
        _field("sname", 3, PrincipalName(), optional=True),
        _field("from", 4, useful.GeneralizedTime(), optional=True),
        _field("till", 5, useful.GeneralizedTime()),
        _field("rtime", 6, useful.GeneralizedTime(), optional=True),
        _field("nonce", 7, univ.Integer()),
        _field("etype", 8, univ.SequenceOf(componentType=univ.Integer())),
        _field("addresses", 9, univ.SequenceOf(componentType=HostAddress()), optional=True),
        _field("enc-authorization-data", 10, EncryptedData(), optional=True),
        _field("additional-tickets", 11, univ.SequenceOf(componentType=Ticket()), optional=True),
    )


class TGSReq(univ.Sequence):
    tagSet = univ.Sequence.tagSet.tagExplicitly(_application(12))
    componentType = namedtype.NamedTypes(
        _field("pvno", 1, univ.Integer()),
        _field("msg-type", 2, univ.Integer()),
        _field("padata", 3, univ.SequenceOf(componentType=PAData()), optional=True),
        _field("req-body", 4, KDCReqBody()),
    )


class TGSRep(univ.Sequence):
    tagSet = univ.Sequence.tagSet.tagExplicitly(_application(13))
    componentType = namedtype.NamedTypes(
        _field("pvno", 0, univ.Integer()),
        _field("msg-type", 1, univ.Integer()),
        _field("padata", 2, univ.SequenceOf(componentType=PAData()), optional=True),
        _field("crealm", 3, char.GeneralString()),
        _field("cname", 4, PrincipalName()),
        _field("ticket", 5, Ticket()),
        _field("enc-part", 6, EncryptedData()),
    )


class APReq(univ.Sequence):
    tagSet = univ.Sequence.tagSet.tagExplicitly(_application(14))
    componentType = namedtype.NamedTypes(
        _field("pvno", 0, univ.Integer()),
        _field("msg-type", 1, univ.Integer()),
        _field("ap-options", 2, univ.BitString()),
        _field("ticket", 3, Ticket()),
        _field("authenticator", 4, EncryptedData()),
    )


def tgs_req(vector: str) -> bytes:
    """MIT's reference TGS-REQ ``vector`` with its padata made what ``kvno`` sends: a
    PA-TGS-REQ (1) holding MIT's reference AP-REQ, and a PA-PAC-OPTIONS (167)."""
    request = SPEC.decode("TGS-REQ", mit_vector(vector))
    request["padata"] = [
        {"padata-type": 1, "padata-value": mit_vector("encode_krb5_ap_req")},
        {"padata-type": 167, "padata-value": bytes.fromhex("3009a00703050010000000")},
    ]
    encoded: bytes = SPEC.encode("TGS-REQ", request)
    return encoded


def spnego_ap_req() -> bytes:
    """MIT's reference AP-REQ as curl and browsers send it: a Kerberos token (RFC 4121 §4.1)
    in a NegTokenInit (RFC 4178 §4.2.1)."""
    inner = g.encode_kerberos_token(g.KerberosToken(g.TOK_AP_REQ, mit_vector("encode_krb5_ap_req")))
    return g.encode_neg_token_init(g.NegTokenInit((g.KRB5_OID, g.MS_KRB5_OID), inner))


def decoders() -> None:
    """Decode a TGS-REQ with its AP-REQ, and an AP-REQ in SPNEGO, with each candidate."""
    req = tgs_req("encode_krb5_tgs_req(optionals NULL except server)")
    print(f"-- decode a TGS-REQ and the AP-REQ in its padata: {len(req)} octets")

    def a_req() -> Any:
        message = READER.decode("TGS-REQ", req)
        return READER.decode("AP-REQ", message["padata"][0]["padata-value"])

    def p_req() -> Any:
        message, _ = pyasn1_decoder.decode(req, asn1Spec=TGSReq())
        inner = bytes(message["padata"][0]["padata-value"])
        return pyasn1_decoder.decode(inner, asn1Spec=APReq())

    def c_req() -> Any:
        message = ac.TGSReq.load(req).native
        return ac.APReq.load(message["padata"][0]["padata-value"]).native

    def o_req() -> Any:
        return der.decode_ap_req(der.decode_tgs_req(req).padata[0].value)

    assert o_req() == der.decode_ap_req(mit_vector("encode_krb5_ap_req"))
    timeit("asn1tools   (BER reader, dicts)", a_req, N)
    timeit("pyasn1", p_req, max(N // 10, 1))
    timeit("asn1crypto  (.native)", c_req, N)
    timeit("orthrus.der (models, checked)", o_req, N)

    token = spnego_ap_req()
    print(f"-- decode an AP-REQ in SPNEGO (NegTokenInit, Kerberos token): {len(token)} octets")

    def a_spnego() -> Any:
        _, inner = GSS_READER.decode("InitialNegToken", token)["innerContextToken"]
        krb = GSS_READER.decode("KerberosToken", inner["mechToken"])
        return READER.decode("AP-REQ", krb["message"])

    def c_spnego() -> Any:
        inner = ac.InitialNegToken.load(token).native["innerContextToken"]
        return ac.KerberosApReqToken.load(inner["mechToken"]).native["message"]

    def o_spnego() -> Any:
        first = g.decode_initial_token(token)
        assert isinstance(first, g.NegTokenInit) and first.mech_token is not None
        return der.decode_ap_req(g.decode_kerberos_token(first.mech_token).message)

    timeit("asn1tools   (BER reader, dicts)", a_spnego, N)
    timeit("asn1crypto  (.native)", c_spnego, N)
    timeit("orthrus.der + gss_tokens (models, checked)", o_spnego, N)


def encoders() -> None:
    """Encode a TGS-REP, and an AP-REP in SPNEGO, with each candidate."""
    rep = mit_vector("encode_krb5_tgs_rep")
    a_rep = SPEC.decode("TGS-REP", rep)
    p_rep, _ = pyasn1_decoder.decode(rep, asn1Spec=TGSRep())
    c_rep = ac.TGSRep.load(rep).native
    o_rep = der.decode_tgs_rep(rep)
    assert SPEC.encode("TGS-REP", a_rep) == rep == pyasn1_encoder.encode(p_rep)
    assert ac.TGSRep(c_rep).dump() == rep == der.encode_kdc_rep(o_rep)
    print(f"-- encode a TGS-REP: {len(rep)} octets")
    timeit("asn1tools   (from dicts)", lambda: SPEC.encode("TGS-REP", a_rep), N)
    timeit("pyasn1", lambda: pyasn1_encoder.encode(p_rep), max(N // 10, 1))
    timeit("asn1crypto  (from native)", lambda: ac.TGSRep(c_rep).dump(), N)
    timeit("orthrus.der (from the model)", lambda: der.encode_kdc_rep(o_rep), N)

    ap_rep = mit_vector("encode_krb5_ap_rep")
    a_ap = SPEC.decode("AP-REP", ap_rep)
    c_ap = ac.APRep.load(ap_rep).native
    o_ap = der.decode_ap_rep(ap_rep)

    def a_answer() -> bytes:
        krb = {
            "thisMech": g.KRB5_OID,
            "tokId": g.TOK_AP_REP,
            "message": SPEC.encode("AP-REP", a_ap),
        }
        resp = {
            "negState": "accept-completed",
            "supportedMech": g.KRB5_OID,
            "responseToken": GSS_SPEC.encode("KerberosToken", krb),
        }
        return bytes(GSS_SPEC.encode("NegotiationToken", ("negTokenResp", resp)))

    def c_answer() -> bytes:
        krb = ac.KerberosApRepToken(
            {"thisMech": g.KRB5_OID, "tokId": ac.core.Any.load(g.TOK_AP_REP), "message": c_ap}
        )
        resp = ac.NegTokenResp(
            {
                "negState": "accept-completed",
                "supportedMech": g.KRB5_OID,
                "responseToken": krb.dump(),
            }
        )
        encoded: bytes = ac.NegotiationToken(name="negTokenResp", value=resp).dump()
        return encoded

    def o_answer() -> bytes:
        krb = g.encode_kerberos_token(g.KerberosToken(g.TOK_AP_REP, der.encode_ap_rep(o_ap)))
        return g.encode_neg_token_resp(g.NegTokenResp("accept-completed", g.KRB5_OID, krb))

    assert a_answer() == c_answer() == o_answer()
    print(f"-- encode an AP-REP in SPNEGO (Kerberos token, NegTokenResp): {len(o_answer())} octets")
    timeit("asn1tools   (from dicts)", a_answer, N)
    timeit("asn1crypto  (from native)", c_answer, N)
    timeit("orthrus.der + gss_tokens (from the models)", o_answer, N)


N = 2000


def main() -> int:
    global N
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=N, help="operations per round")
    N = parser.parse_args().n
    decoders()
    encoders()
    return 0


if __name__ == "__main__":
    sys.exit(main())
