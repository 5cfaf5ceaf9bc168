"""Two maintained ASN.1 libraries on the RFC 4120 messages: ``python -m bench.der_codecs``.

Decodes and encodes a TGS-REQ and a TGS-REP with :mod:`asn1tools` (compiled from the RFC 4120
ASN.1 module of :mod:`orthrus.der.schema`, codec ``der``) and with :mod:`pyasn1` (types
declared by hand below, as pyasn1 wants), in the same run, and prints µs/op (CPU time, best
of five rounds). Then the cost of :mod:`orthrus.der` itself (the library plus the typed
models and checks). The TGS-REQ is MIT's reference encoding
(``src/tests/asn.1/reference_encode.out``, ``encode_krb5_tgs_req``) with its padata made a
PA-TGS-REQ holding MIT's reference AP-REQ and a PA-PAC-OPTIONS, as ``kvno`` sends, once with
the body of a typical request (``optionals NULL except server``) and once with every
optional field; the TGS-REP is MIT's ``encode_krb5_tgs_rep``. The choice and the figures
are in docs/kerberos.md ("Wire format").
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

from bench.micro import timeit

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
    from orthrus.der.schema import SPEC

    request = SPEC.decode("TGS-REQ", mit_vector(vector))
    request["padata"] = [
        {"padata-type": 1, "padata-value": mit_vector("encode_krb5_ap_req")},
        {"padata-type": 167, "padata-value": bytes.fromhex("3009a00703050010000000")},
    ]
    encoded: bytes = SPEC.encode("TGS-REQ", request)
    return encoded


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=2000, help="operations per round")
    args = parser.parse_args()
    from orthrus.der import decode_ap_req, decode_tgs_rep, decode_tgs_req, encode_kdc_rep
    from orthrus.der.schema import READER, SPEC

    rep = mit_vector("encode_krb5_tgs_rep")
    a_rep = SPEC.decode("TGS-REP", rep)
    p_rep, _ = pyasn1_decoder.decode(rep, asn1Spec=TGSRep())
    assert SPEC.encode("TGS-REP", a_rep) == rep == pyasn1_encoder.encode(p_rep)
    typed_rep = decode_tgs_rep(rep)
    for label, vector in (
        ("typical", "encode_krb5_tgs_req(optionals NULL except server)"),
        ("every optional", "encode_krb5_tgs_req"),
    ):
        req = tgs_req(vector)
        print(f"-- TGS-REQ, {label}: {len(req)} octets, of which the AP-REQ 160")

        def a_req(req: bytes = req, spec: Any = SPEC, check: bool = False) -> Any:
            message = spec.decode("TGS-REQ", req, check_constraints=check)
            inner = message["padata"][0]["padata-value"]
            return spec.decode("AP-REQ", inner, check_constraints=check)

        def p_req(req: bytes = req) -> Any:
            message, _ = pyasn1_decoder.decode(req, asn1Spec=TGSReq())
            inner = bytes(message["padata"][0]["padata-value"])
            return pyasn1_decoder.decode(inner, asn1Spec=APReq())

        def typed_req(req: bytes = req) -> Any:
            message = decode_tgs_req(req)
            return decode_ap_req(message.padata[0].value)

        timeit("asn1tools decode TGS-REQ + its AP-REQ (der)", a_req, args.n)
        timeit("asn1tools ... (ber, the reader used)", lambda: a_req(spec=READER), args.n)
        timeit("asn1tools ... (der) checking constraints", lambda: a_req(check=True), args.n)
        timeit("pyasn1    decode TGS-REQ + its AP-REQ", p_req, max(args.n // 10, 1))
        timeit("orthrus.der decode_tgs_req + decode_ap_req (models)", typed_req, args.n)
    print(f"-- TGS-REP: {len(rep)} octets")
    timeit("asn1tools encode TGS-REP", lambda: SPEC.encode("TGS-REP", a_rep), args.n)
    timeit("pyasn1    encode TGS-REP", lambda: pyasn1_encoder.encode(p_rep), max(args.n // 10, 1))
    timeit("orthrus.der encode_kdc_rep (model)", lambda: encode_kdc_rep(typed_rep), args.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
