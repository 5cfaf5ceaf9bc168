"""Kerberos on the wire (RFC 4120): the KDC's AS and TGS exchanges in DER under the RFC 3962
and RFC 8009 enctypes, and their client side, on the core's checks (docs/kerberos.md).

:func:`orthrus.kerberos.kdc.answer` is what a transport calls with the bytes of a request;
:mod:`orthrus.kerberos.client` builds requests and reads replies.
"""
