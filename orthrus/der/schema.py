"""The ASN.1 module of RFC 4120 Appendix A for the messages Orthrus exchanges, compiled once.

The text below is RFC 4120 Appendix A (``KerberosV5Spec2``), cut down to the types the AS,
TGS and AP exchanges, KRB-PRIV and KRB-ERROR need; PA-ENC-TIMESTAMP is the RFC 4120
§5.2.7.2 type that RFC 6113 keeps, PA-ETYPE-INFO2 is §5.2.7.5. The departures, each on
purpose:

- ``KerberosFlags`` is a plain ``BIT STRING``: RFC 4120 §5.2.8 says ``SIZE (32..MAX)``, but
  peers send fewer bits (a minimal DER named-bit list drops trailing zeros), and MIT accepts
  them padded with zeros; :mod:`orthrus.der.convert` encodes exactly 32.
- ``EncKDCRepPartAny`` is a CHOICE of ``[APPLICATION 25]`` and ``[APPLICATION 26]``, so the
  library, not a hand-read tag byte, accepts either (MIT sends 26 for AS replies too).
- ``Kvno`` also takes negative values: MIT encodes a kvno of 2**31 or more as the signed
  32-bit integer of the same bits (its reference encodings ``enc_data(MSB-set kvno)``).
- ``msg-type`` of KDC-REQ and KDC-REP is a plain INTEGER: asn1tools checks ``(10 | 12)`` as
  ``10..10``; :mod:`orthrus.der.convert` checks the value instead.
- ``KDC-REQ-ANY`` is a CHOICE of AS-REQ and TGS-REQ, for a KDC that reads either on one port.

The ranges the text gives (Int32, UInt32, Microseconds, ``INTEGER (5)``) are checked by
:mod:`orthrus.der.convert` as it builds the models, not by the library's constraint checker,
which walks each message a second time (bench/der_codecs.py measures it).

The text is compiled by :mod:`asn1tools` from this string (no file is read), deterministically,
at import: once for encoding (``der``) and once for decoding (``ber``, see :data:`READER`).
"""

from __future__ import annotations

from typing import Any

import asn1tools

__all__ = ["READER", "RFC4120_MODULE", "SPEC"]

RFC4120_MODULE = """
KerberosV5Spec2 DEFINITIONS EXPLICIT TAGS ::= BEGIN

Int32           ::= INTEGER (-2147483648..2147483647)
UInt32          ::= INTEGER (0..4294967295)
Microseconds    ::= INTEGER (0..999999)
-- MIT encodes a kvno as a signed 32-bit integer (2**31 and above come out negative)
Kvno            ::= INTEGER (-2147483648..4294967295)
KerberosString  ::= GeneralString
Realm           ::= KerberosString

PrincipalName   ::= SEQUENCE {
        name-type       [0] Int32,
        name-string     [1] SEQUENCE OF KerberosString
}

KerberosTime    ::= GeneralizedTime

HostAddress     ::= SEQUENCE  {
        addr-type       [0] Int32,
        address         [1] OCTET STRING
}

HostAddresses   ::= SEQUENCE OF HostAddress

AuthorizationData       ::= SEQUENCE OF SEQUENCE {
        ad-type         [0] Int32,
        ad-data         [1] OCTET STRING
}

AD-IF-RELEVANT  ::= AuthorizationData

PA-DATA         ::= SEQUENCE {
        padata-type     [1] Int32,
        padata-value    [2] OCTET STRING
}

KerberosFlags   ::= BIT STRING

EncryptedData   ::= SEQUENCE {
        etype   [0] Int32,
        kvno    [1] Kvno OPTIONAL,
        cipher  [2] OCTET STRING
}

EncryptionKey   ::= SEQUENCE {
        keytype         [0] Int32,
        keyvalue        [1] OCTET STRING
}

Checksum        ::= SEQUENCE {
        cksumtype       [0] Int32,
        checksum        [1] OCTET STRING
}

Ticket          ::= [APPLICATION 1] SEQUENCE {
        tkt-vno         [0] INTEGER (5),
        realm           [1] Realm,
        sname           [2] PrincipalName,
        enc-part        [3] EncryptedData
}

EncTicketPart   ::= [APPLICATION 3] SEQUENCE {
        flags                   [0] TicketFlags,
        key                     [1] EncryptionKey,
        crealm                  [2] Realm,
        cname                   [3] PrincipalName,
        transited               [4] TransitedEncoding,
        authtime                [5] KerberosTime,
        starttime               [6] KerberosTime OPTIONAL,
        endtime                 [7] KerberosTime,
        renew-till              [8] KerberosTime OPTIONAL,
        caddr                   [9] HostAddresses OPTIONAL,
        authorization-data      [10] AuthorizationData OPTIONAL
}

TransitedEncoding       ::= SEQUENCE {
        tr-type         [0] Int32,
        contents        [1] OCTET STRING
}

TicketFlags     ::= KerberosFlags

AS-REQ          ::= [APPLICATION 10] KDC-REQ

TGS-REQ         ::= [APPLICATION 12] KDC-REQ

KDC-REQ-ANY     ::= CHOICE { as-req AS-REQ, tgs-req TGS-REQ }

KDC-REQ         ::= SEQUENCE {
        pvno            [1] INTEGER (5) ,
        msg-type        [2] INTEGER -- 10 AS, 12 TGS --,
        padata          [3] SEQUENCE OF PA-DATA OPTIONAL,
        req-body        [4] KDC-REQ-BODY
}

KDC-REQ-BODY    ::= SEQUENCE {
        kdc-options             [0] KDCOptions,
        cname                   [1] PrincipalName OPTIONAL,
        realm                   [2] Realm,
        sname                   [3] PrincipalName OPTIONAL,
        from                    [4] KerberosTime OPTIONAL,
        till                    [5] KerberosTime,
        rtime                   [6] KerberosTime OPTIONAL,
        nonce                   [7] UInt32,
        etype                   [8] SEQUENCE OF Int32,
        addresses               [9] HostAddresses OPTIONAL,
        enc-authorization-data  [10] EncryptedData OPTIONAL,
        additional-tickets      [11] SEQUENCE OF Ticket OPTIONAL
}

KDCOptions      ::= KerberosFlags

AS-REP          ::= [APPLICATION 11] KDC-REP

TGS-REP         ::= [APPLICATION 13] KDC-REP

KDC-REP         ::= SEQUENCE {
        pvno            [0] INTEGER (5),
        msg-type        [1] INTEGER -- 11 AS, 13 TGS --,
        padata          [2] SEQUENCE OF PA-DATA OPTIONAL,
        crealm          [3] Realm,
        cname           [4] PrincipalName,
        ticket          [5] Ticket,
        enc-part        [6] EncryptedData
}

EncASRepPart    ::= [APPLICATION 25] EncKDCRepPart

EncTGSRepPart   ::= [APPLICATION 26] EncKDCRepPart

EncKDCRepPartAny ::= CHOICE { as-rep EncASRepPart, tgs-rep EncTGSRepPart }

EncKDCRepPart   ::= SEQUENCE {
        key             [0] EncryptionKey,
        last-req        [1] LastReq,
        nonce           [2] UInt32,
        key-expiration  [3] KerberosTime OPTIONAL,
        flags           [4] TicketFlags,
        authtime        [5] KerberosTime,
        starttime       [6] KerberosTime OPTIONAL,
        endtime         [7] KerberosTime,
        renew-till      [8] KerberosTime OPTIONAL,
        srealm          [9] Realm,
        sname           [10] PrincipalName,
        caddr           [11] HostAddresses OPTIONAL
}

LastReq         ::=     SEQUENCE OF SEQUENCE {
        lr-type         [0] Int32,
        lr-value        [1] KerberosTime
}

AP-REQ          ::= [APPLICATION 14] SEQUENCE {
        pvno            [0] INTEGER (5),
        msg-type        [1] INTEGER (14),
        ap-options      [2] APOptions,
        ticket          [3] Ticket,
        authenticator   [4] EncryptedData
}

APOptions       ::= KerberosFlags

Authenticator   ::= [APPLICATION 2] SEQUENCE  {
        authenticator-vno       [0] INTEGER (5),
        crealm                  [1] Realm,
        cname                   [2] PrincipalName,
        cksum                   [3] Checksum OPTIONAL,
        cusec                   [4] Microseconds,
        ctime                   [5] KerberosTime,
        subkey                  [6] EncryptionKey OPTIONAL,
        seq-number              [7] UInt32 OPTIONAL,
        authorization-data      [8] AuthorizationData OPTIONAL
}

AP-REP          ::= [APPLICATION 15] SEQUENCE {
        pvno            [0] INTEGER (5),
        msg-type        [1] INTEGER (15),
        enc-part        [2] EncryptedData
}

EncAPRepPart    ::= [APPLICATION 27] SEQUENCE {
        ctime           [0] KerberosTime,
        cusec           [1] Microseconds,
        subkey          [2] EncryptionKey OPTIONAL,
        seq-number      [3] UInt32 OPTIONAL
}

KRB-PRIV        ::= [APPLICATION 21] SEQUENCE {
        pvno            [0] INTEGER (5),
        msg-type        [1] INTEGER (21),
        enc-part        [3] EncryptedData
}

EncKrbPrivPart  ::= [APPLICATION 28] SEQUENCE {
        user-data       [0] OCTET STRING,
        timestamp       [1] KerberosTime OPTIONAL,
        usec            [2] Microseconds OPTIONAL,
        seq-number      [3] UInt32 OPTIONAL,
        s-address       [4] HostAddress,
        r-address       [5] HostAddress OPTIONAL
}

KRB-ERROR       ::= [APPLICATION 30] SEQUENCE {
        pvno            [0] INTEGER (5),
        msg-type        [1] INTEGER (30),
        ctime           [2] KerberosTime OPTIONAL,
        cusec           [3] Microseconds OPTIONAL,
        stime           [4] KerberosTime,
        susec           [5] Microseconds,
        error-code      [6] Int32,
        crealm          [7] Realm OPTIONAL,
        cname           [8] PrincipalName OPTIONAL,
        realm           [9] Realm,
        sname           [10] PrincipalName,
        e-text          [11] KerberosString OPTIONAL,
        e-data          [12] OCTET STRING OPTIONAL
}

METHOD-DATA     ::= SEQUENCE OF PA-DATA

PA-ENC-TIMESTAMP        ::= EncryptedData

PA-ENC-TS-ENC           ::= SEQUENCE {
        patimestamp     [0] KerberosTime,
        pausec          [1] Microseconds OPTIONAL
}

ETYPE-INFO2-ENTRY       ::= SEQUENCE {
        etype           [0] Int32,
        salt            [1] KerberosString OPTIONAL,
        s2kparams       [2] OCTET STRING OPTIONAL
}

ETYPE-INFO2             ::= SEQUENCE SIZE (1..MAX) OF ETYPE-INFO2-ENTRY

PA-TGS-REQ              ::= AP-REQ

END
"""

#: The module compiled for encoding: DER (X.690 §10), what RFC 4120 §5.1 requires we send.
SPEC: Any = asn1tools.compile_string(RFC4120_MODULE, "der")
#: The module compiled for decoding. asn1tools 0.169's DER reader loops for ever, growing a
#: list, on a SEQUENCE OF whose content does not start with its element's tag (six octets
#: hang a KDC worker; eerimoq/asn1tools pull request 200 proposed the fix and was closed,
#: and 0.169 still loops).
#: Its BER reader checks that tag and reads every DER message alike, so peers' messages are
#: read with it; what BER allows beyond DER (indefinite lengths, constructed strings) stays
#: inside the size bound, and times must still end in ``Z`` (orthrus.der.convert).
READER: Any = asn1tools.compile_string(RFC4120_MODULE, "ber")
