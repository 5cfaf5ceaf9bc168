"""The enctypes held to the published test vectors, typed in from the RFCs.

RFC 3961 Appendix A.1 (n-fold), RFC 3962 Appendix B (PBKDF2 string-to-key, AES-CTS) and
RFC 8009 Appendix A (string-to-key, Kc/Ke/Ki, encryption with the given confounder,
checksums, PRF). RFC 3962 gives no vectors for the full encryption, checksum and PRF of
enctypes 17 and 18; those come from MIT krb5's ``src/lib/crypto/crypto_tests`` (t_decrypt.c,
t_cksums.c, t_prf.c), which every Kerberos implementation is checked against.
"""

from __future__ import annotations

import pytest

from orthrus.enctypes import KeyBlock, checksum_type, enctype
from orthrus.enctypes.rfc3961 import nfold
from orthrus.enctypes.rfc3962 import AesCts
from orthrus.enctypes.rfc8009 import AesCtsHmacSha2


def h(text: str) -> bytes:
    """Hex as the RFCs print it: spaces and line breaks allowed."""
    return bytes.fromhex("".join(text.split()))


# RFC 3961 Appendix A.1: (bits, input, output).
NFOLD = [
    (64, b"012345", "be072631276b1955"),
    (56, b"password", "78a07b6caf85fa"),
    (64, b"Rough Consensus, and Running Code", "bb6ed30870b7f0e0"),
    (168, b"password", "59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e"),
    (
        192,
        b"MASSACHVSETTS INSTITVTE OF TECHNOLOGY",
        "db3b0d8f0b061e603282b308a50841229ad798fab9540c1b",
    ),
    (168, b"Q", "518a54a2 15a8452a 518a54a2 15a8452a 518a54a2 15"),
    (168, b"ba", "fb25d531 ae897449 9f52fd92 ea9857c4 ba24cf29 7e"),
    (64, b"kerberos", "6b657262 65726f73"),
    (128, b"kerberos", "6b657262 65726f73 7b9b5b2b 93132b93"),
    (168, b"kerberos", "8372c236 344e5f15 50cd0747 e15d62ca 7a5a3bce a4"),
    (256, b"kerberos", "6b657262 65726f73 7b9b5b2b 93132b93 5c9bdcda d95c9899 c4cae4de e6d6cae4"),
]


@pytest.mark.parametrize(("bits", "data", "expected"), NFOLD)
def test_rfc3961_nfold(bits: int, data: bytes, expected: str) -> None:
    assert nfold(data, bits // 8) == h(expected)


# RFC 3962 Appendix B: (iterations, pass phrase, salt, 128-bit AES key, 256-bit AES key).
RFC3962_S2K = [
    (
        1,
        "password",
        b"ATHENA.MIT.EDUraeburn",
        "42 26 3c 6e 89 f4 fc 28 b8 df 68 ee 09 79 9f 15",
        "fe 69 7b 52 bc 0d 3c e1 44 32 ba 03 6a 92 e6 5b"
        "bb 52 28 09 90 a2 fa 27 88 39 98 d7 2a f3 01 61",
    ),
    (
        2,
        "password",
        b"ATHENA.MIT.EDUraeburn",
        "c6 51 bf 29 e2 30 0a c2 7f a4 69 d6 93 bd da 13",
        "a2 e1 6d 16 b3 60 69 c1 35 d5 e9 d2 e2 5f 89 61"
        "02 68 56 18 b9 59 14 b4 67 c6 76 22 22 58 24 ff",
    ),
    (
        1200,
        "password",
        b"ATHENA.MIT.EDUraeburn",
        "4c 01 cd 46 d6 32 d0 1e 6d be 23 0a 01 ed 64 2a",
        "55 a6 ac 74 0a d1 7b 48 46 94 10 51 e1 e8 b0 a7"
        "54 8d 93 b0 ab 30 a8 bc 3f f1 62 80 38 2b 8c 2a",
    ),
    (
        5,
        "password",
        h("1234567878563412"),
        "e9 b2 3d 52 27 37 47 dd 5c 35 cb 55 be 61 9d 8e",
        "97 a4 e7 86 be 20 d8 1a 38 2d 5e bc 96 d5 90 9c"
        "ab cd ad c8 7c a4 8f 57 45 04 15 9f 16 c3 6e 31",
    ),
    (
        1200,
        "X" * 64,
        b"pass phrase equals block size",
        "59 d1 bb 78 9a 82 8b 1a a5 4e f9 c2 88 3f 69 ed",
        "89 ad ee 36 08 db 8b c7 1f 1b fb fe 45 94 86 b0"
        "56 18 b7 0c ba e2 20 92 53 4e 56 c5 53 ba 4b 34",
    ),
    (
        1200,
        "X" * 65,
        b"pass phrase exceeds block size",
        "cb 80 05 dc 5f 90 17 9a 7f 02 10 4c 00 18 75 1d",
        "d7 8c 5c 9c b8 72 a8 c9 da d4 69 7f 0b b5 b2 d2"
        "14 96 c8 2b eb 2c ae da 21 12 fc ee a0 57 40 1b",
    ),
    (
        50,
        "\N{MUSICAL SYMBOL G CLEF}",  # UTF-8 f0 9d 84 9e
        b"EXAMPLE.COMpianist",
        "f1 49 c1 f2 e1 54 a7 34 52 d4 3e 7f e6 2a 56 e5",
        "4b 6d 98 39 f8 44 06 df 1f 09 cc 16 6d b4 b8 3c"
        "57 18 48 b7 84 a3 d6 bd c3 46 58 9a 3e 39 3f 9e",
    ),
]


@pytest.mark.parametrize(("iterations", "password", "salt", "key128", "key256"), RFC3962_S2K)
def test_rfc3962_string_to_key(
    iterations: int, password: str, salt: bytes, key128: str, key256: str
) -> None:
    params = iterations.to_bytes(4, "big")
    assert enctype(17).string_to_key(password, salt, params).material == h(key128)
    assert enctype(18).string_to_key(password, salt, params).material == h(key256)


def test_rfc3962_string_to_key_default_is_4096_iterations() -> None:
    e = enctype("aes128-cts-hmac-sha1-96")
    assert e.default_s2kparams == h("00 00 10 00")
    salt = b"ATHENA.MIT.EDUraeburn"
    assert e.string_to_key("password", salt) == e.string_to_key("password", salt, h("00001000"))


CTS_KEY = h("63 68 69 63 6b 65 6e 20 74 65 72 69 79 61 6b 69")
CTS_INPUT = h(
    "49 20 77 6f 75 6c 64 20 6c 69 6b 65 20 74 68 65"
    "20 47 65 6e 65 72 61 6c 20 47 61 75 27 73 20 43"
    "68 69 63 6b 65 6e 2c 20 70 6c 65 61 73 65 2c 20"
    "61 6e 64 20 77 6f 6e 74 6f 6e 20 73 6f 75 70 2e"
)
# RFC 3962 Appendix B, CBC with ciphertext stealing from a zero IV: (input length, output).
CTS = [
    (17, "c6 35 35 68 f2 bf 8c b4 d8 a5 80 36 2d a7 ff 7f 97"),
    (
        31,
        "fc 00 78 3e 0e fd b2 c1 d4 45 d4 c8 ef f7 ed 22"
        "97 68 72 68 d6 ec cc c0 c0 7b 25 e2 5e cf e5",
    ),
    (
        32,
        "39 31 25 23 a7 86 62 d5 be 7f cb cc 98 eb f5 a8"
        "97 68 72 68 d6 ec cc c0 c0 7b 25 e2 5e cf e5 84",
    ),
    (
        47,
        "97 68 72 68 d6 ec cc c0 c0 7b 25 e2 5e cf e5 84"
        "b3 ff fd 94 0c 16 a1 8c 1b 55 49 d2 f8 38 02 9e"
        "39 31 25 23 a7 86 62 d5 be 7f cb cc 98 eb f5",
    ),
    (
        48,
        "97 68 72 68 d6 ec cc c0 c0 7b 25 e2 5e cf e5 84"
        "9d ad 8b bb 96 c4 cd c0 3b c1 03 e1 a1 94 bb d8"
        "39 31 25 23 a7 86 62 d5 be 7f cb cc 98 eb f5 a8",
    ),
    (
        64,
        "97 68 72 68 d6 ec cc c0 c0 7b 25 e2 5e cf e5 84"
        "39 31 25 23 a7 86 62 d5 be 7f cb cc 98 eb f5 a8"
        "48 07 ef e8 36 ee 89 a5 26 73 0d bc 2f 7b c8 40"
        "9d ad 8b bb 96 c4 cd c0 3b c1 03 e1 a1 94 bb d8",
    ),
]


@pytest.mark.parametrize(("length", "output"), CTS)
def test_rfc3962_cbc_with_ciphertext_stealing(length: int, output: str) -> None:
    assert AesCts(CTS_KEY).encrypt(CTS_INPUT[:length]) == h(output)
    assert AesCts(CTS_KEY).decrypt(h(output)) == CTS_INPUT[:length]


# MIT krb5 t_decrypt.c: (enctype, plaintext, usage, key, ciphertext).
MIT_DECRYPT = [
    (17, b"", 0, "5A5C0F0BA54F3828B2195E66CA24A289",
     "49FF8E11C173D9583A3254FBE7B1F1DF36C538E8416784A1672E6676"),
    (17, b"1", 1, "98450E3F3BAA13F5C99BEB936981B06F",
     "F86742F537B35DC2174A4DBAA920FAF9042090B065E1EBB1CAD9A65394"),
    (17, b"9 bytesss", 2, "9062430C8CDA3388922E6D6A509F5B7A",
     "68FB9679601F45C78857B2BF820FD6E53ECA8D42FD4B1D7024A09205ABB7CD2EC26C355D2F"),
    (17, b"13 bytes byte", 3, "033EE6502C54FD23E27791E987983827",
     "EC366D0327A933BF49330E650E49BC6B974637FE80BF532FE51795B4809718E6194724DB948D1FD637"),
    (17, b"30 bytes bytes bytes bytes byt", 4, "DCEEB70B3DE76562E689226C76429148",
     "C96081032D5D8EEB7E32B4089F789D0FAA481DEA74C0F97CBF3146DDFCF8E800"
     "156ECB532FC203E30FF600B63B350939FECE510F02D7FF1E7BAC"),
    (18, b"", 0, "17F275F2954F2ED1F90C377BA7F4D6A369AA0136E0BF0C927AD6133C693759A9",
     "E5094C55EE7B38262E2B044280B069379A95BF95BD8376FB3281B435"),
    (18, b"1", 1, "B9477E1FF0329C0050E20CE6C72D2DFF27E8FE541AB0954429A9CB5B4F7B1E2A",
     "406150B97AEB76D43B36B62CC1ECDFBE6F40E95755E0BEB5C27825F3A4"),
    (18, b"9 bytesss", 2, "B1AE4CD8462AFF1677053CC9279AAC30B796FB81CE21474DD3DDBCFEA4EC76D7",
     "09957AA25FCAF88F7B39E4406E633012D5FEA21853F6478DA7065CAEF41FD454A40824EEC5"),
    (18, b"13 bytes byte", 3, "E5A72BE9B7926C1225BAFEF9C1872E7BA4CDB2B17893D84ABD90ACDD8764D966",
     "D8F1AAFEEC84587CC3E700A774E56651A6D693E174EC4473B5E6D96F80297A653FB818AD893E719F96"),
    (18, b"30 bytes bytes bytes bytes byt", 4,
     "F1C795E9248A09338D82C3F8D5B567040B0110736845041347235B1404231398",
     "D1137A4D634CFECE924DBC3BF6790648BD5CFF7DE0E7B99460211D0DAEF3D79A"
     "295C688858F3B34B9CBD6EEBAE81DAF6B734D4D498B6714F1C1D"),
]  # fmt: skip


@pytest.mark.parametrize(("number", "plaintext", "usage", "key", "ciphertext"), MIT_DECRYPT)
def test_aes_sha1_decrypts_the_mit_vectors(
    number: int, plaintext: bytes, usage: int, key: str, ciphertext: str
) -> None:
    e = enctype(number)
    block = e.random_to_key(h(key))
    assert e.decrypt(block, usage, h(ciphertext)) == plaintext
    # Encrypting again with the confounder the vector used gives the same ciphertext.
    confounder = e.derive(block, usage).cipher.decrypt(h(ciphertext)[: -e.mac_size])[:16]
    assert e.encrypt(block, usage, plaintext, confounder) == h(ciphertext)


# MIT krb5 t_cksums.c: (checksum type, data, usage, key, checksum).
MIT_CHECKSUMS = [
    (15, b"eight nine ten eleven twelve thirteen", 3, "9062430C8CDA3388922E6D6A509F5B7A",
     "01A4B088D45628F6946614E3"),
    (16, b"fourteen", 4, "B1AE4CD8462AFF1677053CC9279AAC30B796FB81CE21474DD3DDBCFEA4EC76D7",
     "E08739E3279E2903EC8E3836"),
]  # fmt: skip


@pytest.mark.parametrize(("number", "data", "usage", "key", "checksum"), MIT_CHECKSUMS)
def test_aes_sha1_checksums_match_the_mit_vectors(
    number: int, data: bytes, usage: int, key: str, checksum: str
) -> None:
    e = checksum_type(number).enctype
    block = e.random_to_key(h(key))
    assert e.checksum(block, usage, data) == h(checksum)
    e.verify_checksum(block, usage, data, h(checksum))


# MIT krb5 t_prf.c for 17/18 (RFC 8009's PRF vectors are below): (enctype, key, input, out).
MIT_PRF = [
    (17, "AE272E7CDEC86AC5138CDB196D8E297D", "0161", "77B39A37A868920F2A51F9DD150C5717"),
    (17, "67AB1CFEF35E4C27FFDEAC60385A3E9C", "0162", "E06C0DD31FF02091994F2EF5178BFE3D"),
    (18, "C01F157211F7B77EAAF457C3E156690127EE127D810BA6392E97BAA243EB0616", "0161",
     "B2628C788E2E9C4A9BB4644678C29F2F"),
    (18, "C01F157211F7B77EAAF457C3E156690127EE127D810BA6392E97BAA243EB0616", "0261",
     "B406373350CEE8A6126F4A9B65A0CD21"),
    (18, "9D520D2D980AA7CB6B693682B62DA258B333867951642CE647AE62B1E5E0B5E9", "0162",
     "FF0E289EA756C0559A0E911856961A49"),
    (18, "9D520D2D980AA7CB6B693682B62DA258B333867951642CE647AE62B1E5E0B5E9", "0262",
     "0D674DD0F9A6806525A4D92E828BD15A"),
]  # fmt: skip


@pytest.mark.parametrize(("number", "key", "data", "output"), MIT_PRF)
def test_aes_sha1_prf_matches_the_mit_vectors(
    number: int, key: str, data: str, output: str
) -> None:
    e = enctype(number)
    assert e.prf(e.random_to_key(h(key)), h(data)) == h(output)


# RFC 8009 Appendix A.
RFC8009_SALT = h("10 DF 9D D7 83 E5 BC 8A CE A1 73 0E 74 35 5F 61") + b"ATHENA.MIT.EDUraeburn"
BASE_128 = h("37 05 D9 60 80 C1 77 28 A0 E8 00 EA B6 E0 D2 3C")
BASE_256 = h(
    "6D 40 4D 37 FA F7 9F 9D F0 D3 35 68 D3 20 66 9800 EB 48 36 47 2E A8 A0 26 D1 6B 71 82 46 0C 52"
)


@pytest.mark.parametrize(
    ("number", "key"),
    [
        (19, "08 9B CA 48 B1 05 EA 6E A7 7C A5 D2 F3 9D C5 E7"),
        (
            20,
            "45 BD 80 6D BF 6A 83 3A 9C FF C1 C9 45 89 A2 22"
            "36 7A 79 BC 21 C4 13 71 89 06 E9 F5 78 A7 84 67",
        ),
    ],
)
def test_rfc8009_string_to_key(number: int, key: str) -> None:
    e = enctype(number)
    assert e.default_s2kparams == h("00 00 80 00")
    assert e.string_to_key("password", RFC8009_SALT).material == h(key)
    assert e.string_to_key("password", RFC8009_SALT, h("00008000")).material == h(key)


@pytest.mark.parametrize(
    ("number", "base", "kc", "ke", "ki"),
    [
        (
            19,
            BASE_128,
            "B3 1A 01 8A 48 F5 47 76 F4 03 E9 A3 96 32 5D C3",
            "9B 19 7D D1 E8 C5 60 9D 6E 67 C3 E3 7C 62 C7 2E",
            "9F DA 0E 56 AB 2D 85 E1 56 9A 68 86 96 C2 6A 6C",
        ),
        (
            20,
            BASE_256,
            "EF 57 18 BE 86 CC 84 96 3D 8B BB 50 31 E9 F5 C4 BA 41 F2 8F AF 69 E7 3D",
            "56 AB 22 BE E6 3D 82 D7 BC 52 27 F6 77 3F 8E A7"
            "A5 EB 1C 82 51 60 C3 83 12 98 0C 44 2E 5C 7E 49",
            "69 B1 65 14 E3 CD 8E 56 B8 20 10 D5 C7 30 12 B6 22 C4 D0 0F FC 23 ED 1F",
        ),
    ],
)
def test_rfc8009_key_derivation_for_usage_2(
    number: int, base: bytes, kc: str, ke: str, ki: str
) -> None:
    e, key = enctype(number), KeyBlock(number, base)
    keys = e.derive(key, 2)
    assert (e.checksum_key(key, 2), keys.ke, keys.ki) == (h(kc), h(ke), h(ki))


PLAIN_0_TO_20 = bytes(range(21))
# RFC 8009 Appendix A, sample encryptions under usage 2: (enctype, confounder, plaintext,
# ciphertext).
RFC8009_ENCRYPTIONS = [
    (
        19,
        "7E 58 95 EA F2 67 24 35 BA D8 17 F5 45 A3 71 48",
        b"",
        "EF 85 FB 89 0B B8 47 2F 4D AB 20 39 4D CA 78 1D"
        "AD 87 7E DA 39 D5 0C 87 0C 0D 5A 0A 8E 48 C7 18",
    ),
    (
        19,
        "7B CA 28 5E 2F D4 13 0F B5 5B 1A 5C 83 BC 5B 24",
        PLAIN_0_TO_20[:6],
        "84 D7 F3 07 54 ED 98 7B AB 0B F3 50 6B EB 09 CF"
        "B5 54 02 CE F7 E6 87 7C E9 9E 24 7E 52 D1 6E D4"
        "42 1D FD F8 97 6C",
    ),
    (
        19,
        "56 AB 21 71 3F F6 2C 0A 14 57 20 0F 6F A9 94 8F",
        PLAIN_0_TO_20[:16],
        "35 17 D6 40 F5 0D DC 8A D3 62 87 22 B3 56 9D 2A"
        "E0 74 93 FA 82 63 25 40 80 EA 65 C1 00 8E 8F C2"
        "95 FB 48 52 E7 D8 3E 1E 7C 48 C3 7E EB E6 B0 D3",
    ),
    (
        19,
        "A7 A4 E2 9A 47 28 CE 10 66 4F B6 4E 49 AD 3F AC",
        PLAIN_0_TO_20,
        "72 0F 73 B1 8D 98 59 CD 6C CB 43 46 11 5C D3 36"
        "C7 0F 58 ED C0 C4 43 7C 55 73 54 4C 31 C8 13 BC"
        "E1 E6 D0 72 C1 86 B3 9A 41 3C 2F 92 CA 9B 83 34"
        "A2 87 FF CB FC",
    ),
    (
        20,
        "F7 64 E9 FA 15 C2 76 47 8B 2C 7D 0C 4E 5F 58 E4",
        b"",
        "41 F5 3F A5 BF E7 02 6D 91 FA F9 BE 95 91 95 A0"
        "58 70 72 73 A9 6A 40 F0 A0 19 60 62 1A C6 12 74"
        "8B 9B BF BE 7E B4 CE 3C",
    ),
    (
        20,
        "B8 0D 32 51 C1 F6 47 14 94 25 6F FE 71 2D 0B 9A",
        PLAIN_0_TO_20[:6],
        "4E D7 B3 7C 2B CA C8 F7 4F 23 C1 CF 07 E6 2B C7"
        "B7 5F B3 F6 37 B9 F5 59 C7 F6 64 F6 9E AB 7B 60"
        "92 23 75 26 EA 0D 1F 61 CB 20 D6 9D 10 F2",
    ),
    (
        20,
        "53 BF 8A 0D 10 52 65 D4 E2 76 42 86 24 CE 5E 63",
        PLAIN_0_TO_20[:16],
        "BC 47 FF EC 79 98 EB 91 E8 11 5C F8 D1 9D AC 4B"
        "BB E2 E1 63 E8 7D D3 7F 49 BE CA 92 02 77 64 F6"
        "8C F5 1F 14 D7 98 C2 27 3F 35 DF 57 4D 1F 93 2E"
        "40 C4 FF 25 5B 36 A2 66",
    ),
    (
        20,
        "76 3E 65 36 7E 86 4F 02 F5 51 53 C7 E3 B5 8A F1",
        PLAIN_0_TO_20,
        "40 01 3E 2D F5 8E 87 51 95 7D 28 78 BC D2 D6 FE"
        "10 1C CF D5 56 CB 1E AE 79 DB 3C 3E E8 64 29 F2"
        "B2 A6 02 AC 86 FE F6 EC B6 47 D6 29 5F AE 07 7A"
        "1F EB 51 75 08 D2 C1 6B 41 92 E0 1F 62",
    ),
]


@pytest.mark.parametrize(("number", "confounder", "plaintext", "ciphertext"), RFC8009_ENCRYPTIONS)
def test_rfc8009_encryption_with_the_given_confounder(
    number: int, confounder: str, plaintext: bytes, ciphertext: str
) -> None:
    key = KeyBlock(number, BASE_128 if number == 19 else BASE_256)
    e = enctype(number)
    assert e.encrypt(key, 2, plaintext, h(confounder)) == h(ciphertext)
    assert e.decrypt(key, 2, h(ciphertext)) == plaintext


@pytest.mark.parametrize(
    ("number", "checksum"),
    [
        (19, "D7 83 67 18 66 43 D6 7B 41 1C BA 91 39 FC 1D EE"),
        (20, "45 EE 79 15 67 EE FC A3 7F 4A C1 E0 22 2D E8 0D 43 C3 BF A0 66 99 67 2A"),
    ],
)
def test_rfc8009_checksums(number: int, checksum: str) -> None:
    key = KeyBlock(number, BASE_128 if number == 19 else BASE_256)
    e = enctype(number)
    assert e.checksum(key, 2, PLAIN_0_TO_20) == h(checksum)
    e.verify_checksum(key, 2, PLAIN_0_TO_20, h(checksum))


@pytest.mark.parametrize(
    ("number", "output"),
    [
        (
            19,
            "9D 18 86 16 F6 38 52 FE 86 91 5B B8 40 B4 A8 86"
            "FF 3E 6B B0 F8 19 B4 9B 89 33 93 D3 93 85 42 95",
        ),
        (
            20,
            "98 01 F6 9A 36 8C 2B F6 75 E5 95 21 E1 77 D9 A0"
            "7F 67 EF E1 CF DE 8D 3C 8D 6F 6A 02 56 E3 B1 7D"
            "B3 C1 B6 2A D1 B8 55 33 60 D1 73 67 EB 15 14 D2",
        ),
    ],
)
def test_rfc8009_prf(number: int, output: str) -> None:
    e = enctype(number)
    assert isinstance(e, AesCtsHmacSha2)
    assert e.prf(KeyBlock(number, BASE_128 if number == 19 else BASE_256), b"test") == h(output)
