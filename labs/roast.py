"""AS-REP roasting and Kerberoasting lines, in the formats hashcat and john read.

A Kerberos-wire AS-REP carries a part sealed under the client's long-term key (RFC 4120
§5.4.2, key usage 3); a TGS-REP carries a ticket sealed under the service's (§5.3, key usage
2). When that key comes from a password, the sealed part is something to guess against
offline. The lines are hashcat's for the AES types of RFC 3962 (modes 32100/32200 for AS-REP,
19600/19700 for TGS-REP; john reads the same)::

    $krb5asrep$18$USER$REALM$CHECKSUM$EDATA2
    $krb5tgs$18$USER$REALM$*SPN*$CHECKSUM$EDATA2

where CHECKSUM is the last 12 octets of the ciphertext (the HMAC-SHA1-96) and EDATA2 the
rest, in hex. Those tools derive the key with PBKDF2 at 4,096 iterations (RFC 3962 §4's
default) and the salt REALM + USER: USER is the name's components with no separator
(RFC 4120 §4's default salt: ``HTTPlegacy`` for ``HTTP/legacy``), SPN the name as typed.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass

from orthrus import der
from orthrus.enctypes import IntegrityError, enctype
from orthrus.errors import MalformedMessage
from orthrus.keys import KeyUsage

__all__ = ["ROASTABLE_ETYPES", "RoastHash", "der_of", "parse_hash", "roast_reply"]

#: The enctypes these formats exist for (RFC 3962's AES types, HMAC-SHA1-96 checksums).
ROASTABLE_ETYPES = frozenset({17, 18})
_CHECKSUM_SIZE = 12
_LINE = re.compile(
    r"\$krb5(?P<kind>asrep|tgs)\$(?P<etype>\d+)\$(?P<user>[^$*]+)\$(?P<realm>[^$*]+)\$"
    r"(?:\*(?P<spn>[^*]+)\*\$)?(?P<checksum>[0-9a-fA-F]{24})\$(?P<edata2>[0-9a-fA-F]{64,})"
)


@dataclass(frozen=True, slots=True)
class RoastHash:
    """One sealed part to guess against: whose key, and the ciphertext."""

    kind: str  # "asrep" (the AS reply's part) or "tgs" (a service ticket)
    etype: int
    user: str
    realm: str
    cipher: bytes
    spn: str | None = None

    @property
    def salt(self) -> bytes:
        """RFC 4120 §4's default salt, as hashcat forms it: the realm in capitals, the user."""
        return (self.realm.upper() + self.user).encode("utf-8")

    @property
    def usage(self) -> int:
        """RFC 4120 §7.5.1: 3 for the AS-REP's part, 2 for a ticket."""
        return KeyUsage.AS_REP_ENC_PART if self.kind == "asrep" else KeyUsage.TICKET

    @property
    def target(self) -> str:
        """Whose password the line guesses: the SPN of a ticket, the user of an AS-REP."""
        return f"{self.spn or self.user}@{self.realm}"

    def line(self) -> str:
        """The line hashcat and john read."""
        checksum = self.cipher[-_CHECKSUM_SIZE:].hex()
        edata2 = self.cipher[:-_CHECKSUM_SIZE].hex()
        spn = f"*{self.spn}*$" if self.spn else ""
        return f"$krb5{self.kind}${self.etype}${self.user}${self.realm}${spn}{checksum}${edata2}"

    def opens(self, password: str) -> bool:
        """``password``'s key (PBKDF2 at RFC 3962's default 4,096 iterations) opens the part."""
        kind = enctype(self.etype)
        key = kind.string_to_key(password, self.salt)
        try:
            kind.decrypt(key, self.usage, self.cipher)
        except IntegrityError:
            return False
        return True

    def guess(self, words: Iterable[str]) -> tuple[str | None, int]:
        """The first of ``words`` that opens the part (or None), and how many were tried."""
        count = 0
        for word in words:
            count += 1
            if self.opens(word):
                return word, count
        return None, count


def parse_hash(line: str) -> RoastHash:
    """A ``$krb5asrep$``/``$krb5tgs$`` line (hashcat's layout) for enctype 17 or 18;
    ``MalformedMessage`` saying what is wrong with any other line."""
    match = _LINE.fullmatch(line.strip())
    if match is None:
        raise MalformedMessage(
            "not a hashcat Kerberos line: expected $krb5asrep$18$USER$REALM$CHECKSUM$EDATA2 "
            "or $krb5tgs$18$USER$REALM$*SPN*$CHECKSUM$EDATA2 (24 hex digits of checksum)"
        )
    number = int(match["etype"])
    if number not in ROASTABLE_ETYPES:
        raise MalformedMessage(
            f"enctype {number} is not one of RFC 3962's AES types (17, 18): the lab's crack "
            "reads those only (RC4, 23, is refused by every Orthrus KDC)"
        )
    if len(match["edata2"]) % 2:
        raise MalformedMessage("EDATA2 has an odd number of hex digits")
    edata2, checksum = bytes.fromhex(match["edata2"]), bytes.fromhex(match["checksum"])
    return RoastHash(
        match["kind"], number, match["user"], match["realm"], edata2 + checksum, match["spn"]
    )


def _salt_user(name: der.PrincipalName) -> str:
    return "".join(name.components)


def roast_reply(exchange: str, reply_der: bytes) -> RoastHash | None:
    """The line for a Kerberos-wire AS-REP (its enc-part) or TGS-REP (its ticket), or None
    when its key's enctype has no such format; ``MalformedMessage`` if it is no reply."""
    if exchange == "AS":
        rep = der.decode_as_rep(reply_der)
        sealed, name, realm, spn = rep.enc_part, rep.cname, rep.crealm, None
        kind = "asrep"
    elif exchange == "TGS":
        rep = der.decode_tgs_rep(reply_der)
        ticket = rep.ticket
        sealed, name, realm = ticket.enc_part, ticket.sname, ticket.realm
        spn, kind = "/".join(name.components), "tgs"
    else:
        raise MalformedMessage(f"a {exchange} exchange has no reply to roast")
    if sealed.etype not in ROASTABLE_ETYPES:
        return None
    return RoastHash(kind, sealed.etype, _salt_user(name), realm, sealed.cipher, spn)


def der_of(message: object) -> bytes | None:
    """The DER bytes a trace record keeps of a Kerberos-wire message (``{"der": BASE64}``)."""
    if not isinstance(message, dict) or not isinstance(message.get("der"), str):
        return None
    try:
        return base64.b64decode(message["der"], validate=True)
    except ValueError:
        return None
