"""The DER tag-length-value layer (X.690 §8.1, §10.1) and the primitive values Kerberos and
SPNEGO use, read and written by hand. Beside it, only the walker of :mod:`orthrus.der.kinds`
touches octets: an ``[n] EXPLICIT`` field's two headers in their one-octet form, read and
written inline, and INTEGERs with their ranges, read in one call.

Reading is strict DER where RFC 4120 §5.1 needs it to be, so that a structure decoded and
encoded again gives the octets it came in (the TGS body checksum covers the req-body's
octets, RFC 4120 §5.4.1): one-octet tags, definite lengths in the fewest octets, minimal
INTEGERs, primitive strings. Every departure a peer can make is one
:class:`~orthrus.errors.MalformedMessage`; nothing here loops more than the input's length.
"""

from __future__ import annotations

import datetime
import functools

from orthrus.errors import MalformedMessage

__all__ = [
    "BIT_STRING",
    "ENUMERATED",
    "GENERALIZED_TIME",
    "GENERAL_STRING",
    "INTEGER",
    "OCTET_STRING",
    "OID",
    "SEQUENCE",
    "application",
    "context",
    "elements",
    "filling",
    "flags_octets",
    "header",
    "integer_octets",
    "oid_octets",
    "read_flags",
    "read_oid",
    "read_string",
    "read_time",
    "time_octets",
    "tlv",
    "write_integer",
    "write_oid",
]

# Universal tags (X.690 §8.1.2; a constructed SEQUENCE is 0x30).
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
OID = 0x06
ENUMERATED = 0x0A
GENERALIZED_TIME = 0x18
GENERAL_STRING = 0x1B
SEQUENCE = 0x30

#: The longest length field read: four octets say up to 4 GiB, far over any size bound.
_MAX_LENGTH_OCTETS = 4


def context(number: int) -> int:
    """The tag octet of ``[number]`` EXPLICIT (context-specific, constructed)."""
    return 0xA0 | number


def application(number: int) -> int:
    """The tag octet of ``[APPLICATION number]`` (constructed)."""
    return 0x60 | number


def header(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """The TLV at ``data[pos:end]``: its tag octet and the start and end of its contents.

    Refused: a high tag number (no Kerberos or SPNEGO type has one), an indefinite or
    non-minimal length (X.690 §10.1), and contents that run past ``end``."""
    if pos + 2 > end:
        raise MalformedMessage("a DER element is cut short")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise MalformedMessage("a DER tag number above 30 is in no Kerberos message")
    length = data[pos + 1]
    pos += 2
    if length == 0x82 and pos + 2 <= end and data[pos]:  # 256 to 65535: tickets, tokens
        length = data[pos] << 8 | data[pos + 1]
        pos += 2
    elif length & 0x80:
        count = length & 0x7F
        if not 0 < count <= _MAX_LENGTH_OCTETS or pos + count > end:
            raise MalformedMessage("a DER length is indefinite or too long (X.690 §10.1)")
        length = int.from_bytes(data[pos : pos + count], "big")
        if length < 0x80 or data[pos] == 0:
            raise MalformedMessage("a DER length is not in its fewest octets (X.690 §10.1)")
        pos += count
    stop = pos + length
    if stop > end:
        raise MalformedMessage("a DER element runs past its container")
    return tag, pos, stop


def elements(data: bytes, pos: int, stop: int) -> list[tuple[int, int, int]]:
    """The elements that fill ``data[pos:stop]`` (a SEQUENCE's contents), each as
    :func:`header` gives it, read in one pass: the refusals of :func:`header`, the usual
    one-octet length read here without a call (two in three of a Negotiate token's headers)."""
    found: list[tuple[int, int, int]] = []
    while pos < stop:
        if pos + 1 < stop and data[pos + 1] < 0x80 and data[pos] & 0x1F != 0x1F:
            begin = pos + 2
            pos = begin + data[pos + 1]
            if pos > stop:
                raise MalformedMessage("a DER element runs past its container")
            found.append((data[begin - 2], begin, pos))
        else:
            element = header(data, pos, stop)
            found.append(element)
            pos = element[2]
    return found


def filling(data: bytes, start: int, stop: int, tag: int) -> int:
    """Where the contents start of the one element with ``tag`` that fills ``data[start:stop]``
    exactly (what ``[n] EXPLICIT`` and ``[APPLICATION n]`` hold), or -1 if that is not what is
    there (or :func:`header`'s refusal). DER has one header per length (X.690 §10.1), so the
    header is compared with the one an element filling the span must have, not parsed: every
    header :func:`header` refuses differs from it."""
    size = stop - start
    if size < 0x82:
        begin = start + 2
        fits = size >= 2 and data[start + 1] == size - 2
    elif 0x83 <= size < 0x103:
        begin = start + 3
        fits = data[start + 1] == 0x81 and data[start + 2] == size - 3
    elif 0x104 <= size < 0x10004:
        begin = start + 4
        fits = data[start + 1] == 0x82 and data[start + 2] << 8 | data[start + 3] == size - 4
    else:  # no DER element fills 0x82 or 0x103 octets; 64 KiB and more go to header()
        found, begin, end = header(data, start, stop)
        fits = found == tag and end == stop
    return begin if fits and data[start] == tag else -1


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element: ``tag``, the minimal definite length of ``content``, ``content``."""
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    if size < 0x100:
        return bytes((tag, 0x81, size)) + content
    if size < 0x10000:
        return bytes((tag, 0x82, size >> 8, size & 0xFF)) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(octets))) + octets + content


def integer_octets(value: int) -> bytes:
    """The contents of the INTEGER or ENUMERATED ``value``: two's complement, fewest octets."""
    size = (value if value >= 0 else ~value).bit_length() // 8 + 1
    return value.to_bytes(size, "big", signed=True)


def write_integer(value: int) -> bytes:
    """The INTEGER ``value`` in DER."""
    return tlv(INTEGER, integer_octets(value))


def read_string(data: bytes, start: int, stop: int) -> str:
    """A KerberosString's contents (RFC 4120 §5.2.1): GeneralString, UTF-8 in practice (MIT
    and Heimdal pass names through as UTF-8)."""
    try:
        return data[start:stop].decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedMessage("a KerberosString is not UTF-8") from None


#: The proleptic Gregorian ordinal of 1970-01-01, the epoch's day.
_EPOCH_DAY = datetime.date(1970, 1, 1).toordinal()
#: KerberosTime as seconds: 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
MAX_TIME = 253_402_300_799


def read_time(data: bytes, start: int, stop: int) -> int:
    """A KerberosTime's contents (RFC 4120 §5.2.3): ``YYYYMMDDHHMMSSZ``, UTC, no fractional
    seconds, as seconds since the epoch (1970 to 9999)."""
    text = data[start:stop]
    if len(text) != 15 or text[14] != 0x5A or not text[:14].isdigit():
        raise MalformedMessage("a KerberosTime is YYYYMMDDHHMMSSZ (RFC 4120 §5.2.3)")
    hour, minute, second = int(text[8:10]), int(text[10:12]), int(text[12:14])
    try:  # the date checked by datetime.date, the time of day here: no leap second, as before
        day = datetime.date(int(text[0:4]), int(text[4:6]), int(text[6:8])).toordinal()
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError
    except ValueError:
        raise MalformedMessage("a KerberosTime names no moment (RFC 4120 §5.2.3)") from None
    seconds = (day - _EPOCH_DAY) * 86_400 + hour * 3_600 + minute * 60 + second
    if seconds < 0:
        raise MalformedMessage("a KerberosTime is before 1970")
    return seconds


def time_octets(seconds: int) -> bytes:
    """The contents of the KerberosTime of ``seconds`` since the epoch (RFC 4120 §5.2.3)."""
    if not 0 <= seconds <= MAX_TIME:
        raise ValueError(f"{seconds} is outside 0..{MAX_TIME}")
    # The day by its ordinal and the time of day by division, as read_time reads them: a
    # third of datetime's strftime (every AP-REP writes one), and no clock module in the core.
    days, second_of_day = divmod(seconds, 86400)
    day = datetime.date.fromordinal(_EPOCH_DAY + days)
    hour, second_of_hour = divmod(second_of_day, 3600)
    minute, second = divmod(second_of_hour, 60)
    fields = (day.year, day.month, day.day, hour, minute, second)
    return b"%04d%02d%02d%02d%02d%02dZ" % fields


def read_flags(data: bytes, start: int, stop: int) -> int:
    """KerberosFlags (RFC 4120 §5.2.8) as the 32-bit integer whose top bit is flag 0.

    RFC 4120 says 32 bits or more; peers send fewer too (a minimal named-bit list), and MIT
    accepts them padded with zeros: bits past 31 are dropped, missing ones are zero."""
    if start == stop or data[start] > 7 or (stop - start == 1 and data[start]):
        raise MalformedMessage("a BIT STRING's unused-bit count is wrong (X.690 §8.6.2)")
    bits = (stop - start - 1) * 8 - data[start]
    flags = int.from_bytes(data[start + 1 : start + 5].ljust(4, b"\0"), "big")
    if bits < 32:
        flags &= ~((1 << (32 - bits)) - 1)
    return flags


def flags_octets(value: int) -> bytes:
    """The contents of KerberosFlags: always 32 bits, as MIT sends them (RFC 4120 §5.2.8)."""
    return b"\0" + value.to_bytes(4, "big")


def read_oid(data: bytes, start: int, stop: int) -> str:
    """An OBJECT IDENTIFIER's contents (X.690 §8.19) in dotted form; every subidentifier in
    its fewest octets."""
    return _dotted(data[start:stop])


@functools.lru_cache(maxsize=64)  # a handful of mechanisms, read on every Negotiate request
def _dotted(contents: bytes) -> str:
    if not contents or contents[-1] & 0x80:
        raise MalformedMessage("an OBJECT IDENTIFIER is cut short (X.690 §8.19)")
    arcs: list[int] = []
    value = 0
    fresh = True
    for octet in contents:
        if fresh and octet == 0x80:
            raise MalformedMessage("an OBJECT IDENTIFIER arc is padded (X.690 §8.19.2)")
        value = (value << 7) | (octet & 0x7F)
        fresh = not octet & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(map(str, (first, arcs[0] - 40 * first, *arcs[1:])))


@functools.lru_cache(maxsize=64)  # the mechanisms named back in every answer
def oid_octets(dotted: str) -> bytes:
    """The contents of the OBJECT IDENTIFIER ``dotted`` (X.690 §8.19)."""
    first, second, *rest = (int(arc) for arc in dotted.split("."))
    out = bytearray()
    for arc in (40 * first + second, *rest):
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return bytes(out)


@functools.lru_cache(maxsize=64)  # the framing of every token
def write_oid(dotted: str) -> bytes:
    """The OBJECT IDENTIFIER ``dotted`` in DER (X.690 §8.19)."""
    return tlv(OID, oid_octets(dotted))
