"""Errors of the edges' back ends."""

from __future__ import annotations

from orthrus.errors import OrthrusError

__all__ = ["UNAVAILABLE", "Unavailable"]

#: The error name of a request refused because a back end is down: in the 503 body, the
#: exchange's event, the audit line and the ``result`` of the metrics, KDC and services alike.
UNAVAILABLE = "UNAVAILABLE"


class Unavailable(OrthrusError):
    """A back end (database, Redis) cannot be reached: answer 503, never accept unchecked."""
