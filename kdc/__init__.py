"""The Orthrus KDC: a Flask app over a principal database, and the ``orthrus-kdc`` CLI."""

from kdc.app import create_app

__all__ = ["create_app"]
