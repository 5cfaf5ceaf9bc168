"""Errors of the edges' back ends."""

from __future__ import annotations

from orthrus.errors import OrthrusError

__all__ = ["Unavailable"]


class Unavailable(OrthrusError):
    """A back end (database, Redis) cannot be reached: answer 503, never accept unchecked."""
