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

Each read walks its input once, forwards, by :func:`orthrus.der.tlv.header`, and nests only
as deep as the declarations do: no input makes it loop or recurse further.
"""

from __future__ import annotations

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

    def write(self, value: Any) -> bytes:
        """The whole DER element of ``value``."""
        ...


@dataclass(frozen=True, slots=True)
class Integer:
    """An INTEGER with the range the RFC gives it (Int32, UInt32, Microseconds)."""

    low: int
    high: int
    tag: int = tlv.INTEGER

    def read(self, data: bytes, start: int, stop: int) -> int:
        value = tlv.read_integer(data, start, stop)
        if not self.low <= value <= self.high:
            raise MalformedMessage(f"an integer is outside {self.low}..{self.high}")
        return value

    def write(self, value: int) -> bytes:
        if not self.low <= value <= self.high:
            raise ValueError(f"{value} is outside {self.low}..{self.high}")
        return tlv.write_integer(value)


@dataclass(frozen=True, slots=True)
class Primitive:
    """A primitive type read and written by one pair of :mod:`orthrus.der.tlv` functions
    (kept as attributes, called with no method in between)."""

    tag: int
    read: Callable[[bytes, int, int], Any]
    write: Callable[[Any], bytes]


@dataclass(frozen=True, slots=True)
class Enumerated:
    """An ENUMERATED whose values 0, 1, ... are ``names`` (RFC 4178's negState)."""

    names: tuple[str, ...]
    tag: int = tlv.ENUMERATED

    def read(self, data: bytes, start: int, stop: int) -> str:
        value = tlv.read_integer(data, start, stop)
        if not 0 <= value < len(self.names):
            raise MalformedMessage(f"an ENUMERATED has no value {value}")
        return self.names[value]

    def write(self, value: str) -> bytes:
        return tlv.tlv(tlv.ENUMERATED, tlv.integer_octets(self.names.index(value)))


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
    read, for a checksum over the octets as sent (a TGS-REQ's req-body, RFC 4120 §5.4.1)."""

    cls: type[Any]
    fields: tuple[Field, ...]
    app: int | None = None
    extensible: bool = False
    octets: str | None = None
    # (tag of [n], kind, kind's tag, attr, constant, optional) of each field, for the walk.
    _plan: tuple[tuple[int, Kind, int, str | None, int | None, bool], ...] = field(
        init=False, repr=False, compare=False
    )
    # (tag of [n], the whole element of a constant (encoded once, here), kind, attr) of each
    # field written.
    _writes: tuple[tuple[int, bytes | None, Kind, str], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        plan = tuple(
            (tlv.context(f.number), f.kind, f.kind.tag, f.attr, f.constant, f.optional)
            for f in self.fields
        )
        object.__setattr__(self, "_plan", plan)
        writes = tuple(
            (
                tlv.context(f.number),
                None if f.attr else tlv.tlv(tlv.context(f.number), f.kind.write(f.constant)),
                f.kind,
                f.attr or "",
            )
            for f in self.fields
            if f.attr is not None or f.constant is not None
        )
        object.__setattr__(self, "_writes", writes)

    @property
    def tag(self) -> int:
        return tlv.SEQUENCE if self.app is None else tlv.application(self.app)

    def read(self, data: bytes, start: int, stop: int) -> Any:
        contents = start
        if self.app is not None:
            inner, start, end = tlv.header(data, start, stop)
            if inner != tlv.SEQUENCE or end != stop:
                raise MalformedMessage(f"[APPLICATION {self.app}] holds one SEQUENCE")
        value = self.cls(**self.read_fields(data, start, stop))
        if self.octets is not None:
            # DER lengths are minimal (tlv.header), so the header written again is the one read.
            object.__setattr__(value, self.octets, tlv.tlv(self.tag, data[contents:stop]))
        return value

    def read_fields(self, data: bytes, pos: int, stop: int) -> dict[str, Any]:
        """The attributes read from a SEQUENCE's contents, constants checked. Each
        component's header is read once; a field whose tag is not there is OPTIONAL."""
        header = tlv.header
        values: dict[str, Any] = {}
        tag, start, end = header(data, pos, stop) if pos < stop else (-1, pos, pos)
        for context, kind, kind_tag, attr, constant, optional in self._plan:
            if tag != context:
                if not optional:
                    raise MalformedMessage(f"[{context & 0x1F}] is missing from a SEQUENCE")
                continue
            if (
                2 <= end - start < 0x82
                and data[start] == kind_tag
                and data[start + 1] == end - start - 2
            ):
                begin = start + 2  # a short element filling [n], the usual case, read inline
            else:
                inner, begin, inner_end = header(data, start, end)
                if inner != kind_tag or inner_end != end:
                    raise MalformedMessage(f"[{context & 0x1F}] holds the wrong type")
            value = kind.read(data, begin, end)
            if attr is not None:
                values[attr] = value
            elif constant is not None and value != constant:
                raise MalformedMessage(f"[{context & 0x1F}] must be {constant}")
            pos = end
            tag, start, end = header(data, pos, stop) if pos < stop else (-1, pos, pos)
        while self.extensible and pos < stop:
            pos = header(data, pos, stop)[2]
        if pos != stop:
            raise MalformedMessage("a SEQUENCE has components it does not define")
        return values

    def write(self, value: Any) -> bytes:
        parts = []
        for context, element, kind, attr in self._writes:
            if element is not None:  # a constant
                parts.append(element)
                continue
            item = getattr(value, attr)
            if item is not None:
                parts.append(tlv.tlv(context, kind.write(item)))
        encoded = tlv.tlv(tlv.SEQUENCE, b"".join(parts))
        return encoded if self.app is None else tlv.tlv(tlv.application(self.app), encoded)

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
        items = []
        element = self.element
        while start < stop:
            tag, begin, end = tlv.header(data, start, stop)
            if tag != element.tag:
                raise MalformedMessage("a SEQUENCE OF holds an element of another type")
            items.append(element.read(data, begin, end))
            start = end
        return tuple(items)

    def write(self, value: tuple[Any, ...]) -> bytes:
        return tlv.tlv(tlv.SEQUENCE, b"".join(map(self.element.write, value)))
