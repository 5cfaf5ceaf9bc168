"""The Orthrus KDC: a Flask app over a principal database, and the ``orthrus-kdc`` CLI.

``kdc.create_app`` is imported on first use, so that ``orthrus-kdc serve`` can set up
Prometheus's multiprocess mode before the metrics module is first imported.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from kdc.app import create_app

        return create_app
    raise AttributeError(name)
