"""The hashcat lines of labs.roast: hashcat's own example hashes (its modules' ST_HASH, whose
password is "hashcat") open with the lab's cracker, lines round-trip, and lines of another
layout or enctype are refused with a reason."""

from __future__ import annotations

import pytest

from labs.roast import RoastHash, parse_hash
from orthrus.enctypes import enctype
from orthrus.errors import MalformedMessage
from orthrus.keys import KeyUsage

#: hashcat's src/modules/module_32200.c (Kerberos 5, etype 18, AS-REP), ST_HASH.
ASREP_18 = (
    "$krb5asrep$18$user$EXAMPLE.COM$aa4c494f520b27873a4de8f7$ebc9976a77f62e8ccca02d43d68bafcc"
    "66a81fcbb44a336b00ce401982f32975a5f9bcdc752643252185866685b0a30aaf50e449e392a5994e6979f2"
    "3aba25f7704c90b2efa03b703c3c2f9e3617cc588ed226d0417e7742d45407878fd946d046b4a9732b9a203c"
    "b857811714b009c195b7c96b9bccb7e48832b11a4e92ecf24c49e54de8d0d5d5351445b5126db90bb7eebc78"
    "61db1e61de1175824b0a45023a6fa06c2a9d3035fdcf863bea922648e3dc28b48e39b1dec0869e7fe4de399c"
    "b52dfcf2596599da54a4bb0169c72d9496de2e137a4594e0e8a69082fc558ac9ace65d32eae5e260a65ca3f2"
    "f5871aaeee7a3b090b50f39321d120c144421e0abe7d"
)
#: hashcat's src/modules/module_19700.c (Kerberos 5, etype 18, TGS-REP), ST_HASH.
TGS_18 = (
    "$krb5tgs$18$srv_http$synacktiv.local$16ce51f6eba20c8ee534ff8a$57d07b23643a516834795f0c0"
    "10da8f549b7e65063e5a367ca9240f9b800adad1734df7e7d5dd8307e785de4f40aacf901df41aa6ce695f86"
    "19ec579c1fa57ee93661cf402aeef4e3a42e7e3477645d52c09dc72feade03512dffe0df517344f673c63532"
    "b790c242cc1d50f4b4b34976cb6e08ab325b3aefb2684262a5ee9faacb14d059754f50553be5bfa5c4c51e83"
    "3ff2b6ac02c6e5d4c4eb193e27d7dde301bd1ddf480e5e282b8c27ef37b136c8f140b56de105b73adeb1de16"
    "232fa1ab5c9f6"
)


@pytest.mark.parametrize("line", [ASREP_18, TGS_18], ids=["asrep-32200", "tgs-19700"])
def test_hashcat_example_hashes_crack_with_their_password(line: str) -> None:
    parsed = parse_hash(line)
    assert parsed.guess(["password", "hashcat", "later"]) == ("hashcat", 2)
    assert not parsed.opens("Hashcat")
    assert parsed.line() == line


def test_a_line_made_here_is_the_layout_hashcat_reads() -> None:
    kind = enctype(18)
    key = kind.string_to_key("baseball1", b"LAB.TESTHTTPlegacy")  # RFC 3962's 4,096 iterations
    cipher = kind.encrypt(key, KeyUsage.TICKET, b"an EncTicketPart" * 4, bytes(16))
    made = RoastHash("tgs", 18, "HTTPlegacy", "LAB.TEST", cipher, spn="HTTP/legacy")
    line = made.line()
    assert line.startswith("$krb5tgs$18$HTTPlegacy$LAB.TEST$*HTTP/legacy*$")
    assert line.split("$")[6] == cipher[-12:].hex()  # the HMAC-SHA1-96, then the rest
    assert parse_hash(line) == made and made.target == "HTTP/legacy@LAB.TEST"
    assert made.opens("baseball1") and not made.opens("baseball2")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("$krb5tgs$23$*u$R$s*$" + "0" * 32 + "$" + "0" * 64, "not a hashcat Kerberos line"),
        ("$krb5asrep$23$u$R$" + "0" * 24 + "$" + "0" * 64, "enctype 23"),
        ("$krb5asrep$20$u$R$" + "0" * 24 + "$" + "0" * 64, "enctype 20"),
        ("$krb5asrep$18$u$R$" + "0" * 24 + "$" + "0" * 65, "odd number of hex digits"),
        ("$krb5asrep$18$u$R$" + "0" * 24 + "$" + "0" * 62, "not a hashcat Kerberos line"),
        ("hello", "not a hashcat Kerberos line"),
    ],
)
def test_lines_of_another_layout_or_enctype_are_refused_with_a_reason(
    line: str, reason: str
) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        parse_hash(line)
