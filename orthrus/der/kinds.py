"""The generic DER walker of :mod:`orthrus.der`: *kinds*, one per ASN.1 type, that read DER
straight into models and write models back, with no intermediate values.

A kind is how one ASN.1 type sits on the wire: its tag octet, ``read`` (the contents of an
element with that tag, to a model value) and ``write`` (a model value to the whole element).
:class:`Sequence` is a SEQUENCE (optionally under an ``[APPLICATION n]`` tag) whose
components are ``[n] EXPLICIT`` fields (RFC 4120 Appendix A and RFC 4178 §4.2 are both
``EXPLICIT TAGS`` modules), each filling one attribute of a model, holding a constant
(pvno 5 and the like: written on encode, checked on decode) or read and ignored.
:class:`SequenceOf` is a SEQUENCE OF. The declarations are :mod:`orthrus.der.schema`
(RFC 4120) and :mod:`orthrus.kerberos.gss_tokens` (SPNEGO).

Each read walks its input once, forwards, and nests only as deep as the declarations do: no
input makes it loop or recurse further. Each declaration is compiled once into a plan per
direction, so that a field costs one Python call each way, not three to five (issue 15): a
SEQUENCE's reader compares each field's tag octet as it goes and reads the usual one-octet
headers inline (the rest by :func:`orthrus.der.tlv.header` and
:func:`orthrus.der.tlv.filling`), and fills the model's arguments by position; its writer
joins runs of constants encoded once and writes the two headers of a short ``[n] EXPLICIT``
field at once around the kind's ``contents``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from orthrus.der import tlv
from orthrus.errors import MalformedMessage

__all__ = [
    "Enumerated",
    "Field",
    "Integer",
    "Kind",
    "Primitive",
    "Sequence",
    "SequenceOf",
]


class Kind(Protocol):
    """How one ASN.1 type is read from and written to DER."""

    @property
    def tag(self) -> int: ...

    def read(self, data: bytes, start: int, stop: int) -> Any:
        """The model value of the contents ``data[start:stop]`` of an element with :attr:`tag`."""
        ...

    def contents(self, value: Any) -> bytes:
        """The contents octets of the element of ``value``."""
        ...

    def write(self, value: Any) -> bytes:
        """The whole DER element of ``value``."""
        ...


@dataclass(frozen=True, slots=True)
class Integer:
    """An INTEGER (X.690 §8.3: two's complement in the fewest octets) with the range the RFC
    gives it (Int32, UInt32, Microseconds)."""

    low: int
    high: int
    tag: int = tlv.INTEGER

    def read(self, data: bytes, start: int, stop: int) -> int:
        if stop - start == 1:  # one octet, always minimal: pvno, msg-type, etypes
            value = data[start] - 0x100 if data[start] & 0x80 else data[start]
        else:
            if start == stop:
                raise MalformedMessage("an INTEGER has no contents")
            first, second = data[start], data[start + 1] & 0x80
            if (first == 0 and not second) or (first == 0xFF and second):
                raise MalformedMessage("an INTEGER is not in its fewest octets (X.690 §8.3.2)")
            value = int.from_bytes(data[start:stop], "big", signed=True)
        if not self.low <= value <= self.high:
            raise MalformedMessage(f"an integer is outside {self.low}..{self.high}")
        return value

    def contents(self, value: int) -> bytes:
        if not self.low <= value <= self.high:
            raise ValueError(f"{value} is outside {self.low}..{self.high}")
        return tlv.integer_octets(value)

    def write(self, value: int) -> bytes:
        return tlv.tlv(tlv.INTEGER, self.contents(value))


@dataclass(frozen=True, slots=True)
class Primitive:
    """A primitive type read and written by a pair of functions on its contents (kept as
    attributes, called with no method in between)."""

    tag: int
    read: Callable[[bytes, int, int], Any]
    contents: Callable[[Any], bytes]

    def write(self, value: Any) -> bytes:
        return tlv.tlv(self.tag, self.contents(value))


@dataclass(frozen=True, slots=True)
class Enumerated:
    """An ENUMERATED whose values 0, 1, ... are ``names`` (RFC 4178's negState)."""

    names: tuple[str, ...]
    tag: int = tlv.ENUMERATED
    _values: Integer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_values", Integer(0, len(self.names) - 1, tlv.ENUMERATED))

    def read(self, data: bytes, start: int, stop: int) -> str:
        return self.names[self._values.read(data, start, stop)]

    def contents(self, value: str) -> bytes:
        return tlv.integer_octets(self.names.index(value))

    def write(self, value: str) -> bytes:
        return tlv.tlv(tlv.ENUMERATED, self.contents(value))


@dataclass(frozen=True, slots=True)
class Field:
    """``[number] EXPLICIT kind``: the model attribute ``attr`` it fills, or (``attr``
    None) the one value ``constant`` it must have; with neither, the field is read (its
    type checked) and ignored, and never written (SPNEGO's reqFlags and mechListMIC)."""

    number: int
    attr: str | None
    kind: Kind
    optional: bool = False
    constant: int | None = None


@dataclass(frozen=True, slots=True)
class Sequence:
    """A SEQUENCE of ``[n] EXPLICIT`` fields read into the model ``cls``, under
    ``[APPLICATION app]`` when ``app`` is given (RFC 4120 Appendix A, EXPLICIT TAGS).
    ``extensible`` (ASN.1's ``...``, RFC 4178 §4.2) lets components this declaration does not
    know follow the ones it does; each must still be a well-formed element. ``octets`` names
    the model attribute (an ``init=False`` field) that receives the element's DER octets as
    read, for a checksum over the octets as sent (a TGS-REQ's req-body, RFC 4120 §5.4.1).

    The declaration is compiled once into a plan for each direction: the read fills the
    model's ``__init__`` arguments by position, the write joins constants encoded once."""

    cls: type[Any]
    fields: tuple[Field, ...]
    app: int | None = None
    extensible: bool = False
    octets: str | None = None
    tag: int = field(init=False)
    # (tag of [n], kind's read, kind's tag, attr's position in cls(...) or -1, constant,
    # optional) of each field, for the walk.
    _plan: tuple[tuple[int, Callable[[bytes, int, int], Any], int, int, int | None, bool], ...] = (
        field(init=False, repr=False, compare=False)
    )
    # cls(...)'s arguments before any field is read: every OPTIONAL one's default, None.
    _blank: tuple[None, ...] = field(init=False, repr=False, compare=False)
    # (tag of [n], the whole elements of a run of constants (encoded once, here), kind's
    # contents, kind's tag, attr) of each field written.
    _writes: tuple[tuple[int, bytes | None, Callable[[Any], bytes], int, str], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        tag = tlv.SEQUENCE if self.app is None else tlv.application(self.app)
        object.__setattr__(self, "tag", tag)
        params = [f for f in dataclasses.fields(self.cls) if f.init]
        declared = {f.attr: f.optional for f in self.fields if f.attr is not None}
        for param in params:  # each argument filled by a field, or None if it is OPTIONAL
            if param.name not in declared or (declared[param.name] and param.default is not None):
                raise TypeError(f"{self.cls.__name__}.{param.name} is not declared as read")
        names = [param.name for param in params]
        plan = tuple(
            (
                tlv.context(f.number),
                f.kind.read,
                f.kind.tag,
                -1 if f.attr is None else names.index(f.attr),
                f.constant,
                f.optional,
            )
            for f in self.fields
        )
        object.__setattr__(self, "_plan", plan)
        object.__setattr__(self, "_blank", (None,) * len(names))
        writes: list[tuple[int, bytes | None, Callable[[Any], bytes], int, str]] = []
        for f in self.fields:
            context = tlv.context(f.number)
            if f.attr is not None:
                writes.append((context, None, f.kind.contents, f.kind.tag, f.attr))
            elif f.constant is not None:
                element = tlv.tlv(context, f.kind.write(f.constant))
                previous = writes[-1][1] if writes else None
                if previous is not None:  # constants in a row (pvno, msg-type): one run
                    writes.pop()
                    element = previous + element
                writes.append((context, element, f.kind.contents, f.kind.tag, ""))
        object.__setattr__(self, "_writes", tuple(writes))

    def read(self, data: bytes, start: int, stop: int) -> Any:
        """The model read from the contents ``data[start:stop]``, constants checked, in one
        pass over the declared fields: a field whose tag octet is not next is OPTIONAL."""
        contents = start
        if self.app is not None:
            start = tlv.filling(data, start, stop, tlv.SEQUENCE)
            if start < 0:
                raise MalformedMessage(f"[APPLICATION {self.app}] holds one SEQUENCE")
        pos = start
        args = list(self._blank)
        for context, read, kind_tag, position, constant, optional in self._plan:
            if pos == stop or data[pos] != context:
                if not optional:
                    raise MalformedMessage(f"[{context & 0x1F}] is missing from a SEQUENCE")
                continue
            if pos + 1 < stop and data[pos + 1] < 0x80:  # [n]'s header, short: read here
                start = pos + 2
                pos = start + data[pos + 1]
                if pos > stop:
                    raise MalformedMessage("a DER element runs past its SEQUENCE")
            else:
                start, pos = tlv.header(data, pos, stop)[1:]
            if (
                2 <= pos - start < 0x82
                and data[start] == kind_tag
                and data[start + 1] == pos - start - 2
            ):
                start += 2  # a short element filling [n], the usual case, read inline
            else:
                start = tlv.filling(data, start, pos, kind_tag)
                if start < 0:
                    raise MalformedMessage(f"[{context & 0x1F}] holds the wrong type")
            value = read(data, start, pos)
            if position >= 0:
                args[position] = value
            elif constant is not None and value != constant:
                raise MalformedMessage(f"[{context & 0x1F}] must be {constant}")
        if pos != stop:
            if not self.extensible:
                raise MalformedMessage("a SEQUENCE has components it does not define")
            tlv.elements(data, pos, stop)  # unknown, skipped, but each a well-formed element
        model = self.cls(*args)
        if self.octets is not None:
            # DER lengths are minimal (tlv.header), so the header written again is the one read.
            object.__setattr__(model, self.octets, tlv.tlv(self.tag, data[contents:stop]))
        return model

    def contents(self, value: Any) -> bytes:
        parts = []
        for context, element, contents, kind_tag, attr in self._writes:
            if element is not None:  # a constant
                parts.append(element)
                continue
            item = getattr(value, attr)
            if item is None:
                continue
            inner = contents(item)
            size = len(inner)
            if size < 0x7E:  # both lengths one octet: [n]'s header and the element's at once
                parts.append(bytes((context, size + 2, kind_tag, size)))
                parts.append(inner)
            else:
                parts.append(tlv.tlv(context, tlv.tlv(kind_tag, inner)))
        encoded = b"".join(parts)
        return encoded if self.app is None else tlv.tlv(tlv.SEQUENCE, encoded)

    def write(self, value: Any) -> bytes:
        return tlv.tlv(self.tag, self.contents(value))

    def under(self, app: int) -> Sequence:
        """The same SEQUENCE under ``[APPLICATION app]`` (AS-REQ and TGS-REQ share KDC-REQ)."""
        return Sequence(self.cls, self.fields, app, self.extensible, self.octets)


@dataclass(frozen=True, slots=True)
class SequenceOf:
    """SEQUENCE OF ``element``: a tuple in the model. Each element must carry the element's
    tag, so a foreign one ends the read (asn1tools' DER reader looped for ever there)."""

    element: Kind
    tag: int = tlv.SEQUENCE

    def read(self, data: bytes, start: int, stop: int) -> tuple[Any, ...]:
        element = self.element
        read, tag = element.read, element.tag
        items = []
        for found, begin, end in tlv.elements(data, start, stop):
            if found != tag:
                raise MalformedMessage("a SEQUENCE OF holds an element of another type")
            items.append(read(data, begin, end))
        return tuple(items)

    def contents(self, value: tuple[Any, ...]) -> bytes:
        return b"".join(map(self.element.write, value))

    def write(self, value: tuple[Any, ...]) -> bytes:
        return tlv.tlv(tlv.SEQUENCE, self.contents(value))
