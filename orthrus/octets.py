"""A cursor over the octets of MIT's binary FILE formats (keytab, credential cache): fixed
big-endian integers and counted fields, every length checked against the octets that remain
before it is used, a shortfall one :class:`~orthrus.errors.MalformedMessage` naming the
field and the offset. Sans-IO: the callers hold the bytes."""

from __future__ import annotations

import struct

from orthrus.errors import MalformedMessage

__all__ = ["OctetReader"]


class OctetReader:
    """Reads ``data`` from :attr:`offset`, never past :attr:`limit` (the end of the data,
    or of the record being read); ``subject`` names the file in errors ("the keytab")."""

    def __init__(self, data: bytes, subject: str) -> None:
        self.data = data
        self.subject = subject
        self.offset = 0
        self.limit = len(data)

    def take(self, count: int, what: str) -> bytes:
        """The next ``count`` octets (``what`` they are, for the error)."""
        if count > self.limit - self.offset:
            raise MalformedMessage(
                f"{self.subject}'s {what} at offset {self.offset} needs {count} octets but "
                f"only {self.limit - self.offset} remain: the file is truncated or corrupt"
            )
        chunk = self.data[self.offset : self.offset + count]
        self.offset += count
        return chunk

    def integer(self, form: struct.Struct, what: str) -> int:
        """The next integer of ``form`` (e.g. ``struct.Struct(">I")``)."""
        value: int = form.unpack(self.take(form.size, what))[0]
        return value
