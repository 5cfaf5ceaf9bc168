"""The in-memory realm of :mod:`core_realm` with RFC 3962/8009 keys, and a Kerberos-wire
client driving :func:`orthrus.kerberos.kdc.answer` in DER, bytes in and bytes out."""

from __future__ import annotations

import os

from core_realm import T0, CoreRealm

from kdc.kerberos_keys import default_salt
from orthrus.der import KDCRep, KRBError, decode_as_rep, decode_krb_error, decode_tgs_rep
from orthrus.enctypes import KeyBlock, enctype
from orthrus.kerberos import kdc
from orthrus.kerberos.client import KerberosCredential, KerberosRequest, as_request, read_kdc_rep
from orthrus.principal import Principal
from orthrus.realm import KerberosKey

#: Cheap PBKDF2 for tests: the count a real realm sends is much higher (kdc.toml).
ITERATIONS = 2
ETYPES = (20, 18)


def password_keys(principal: Principal, password: str, kvno: int = 1) -> tuple[KerberosKey, ...]:
    salt = default_salt(principal)
    return tuple(
        KerberosKey(
            kvno,
            enctype(n).string_to_key(password, salt, ITERATIONS.to_bytes(4, "big")),
            salt,
            ITERATIONS,
        )
        for n in ETYPES
    )


def random_keys(kvno: int = 1) -> tuple[KerberosKey, ...]:
    return tuple(
        KerberosKey(kvno, enctype(n).random_to_key(os.urandom(enctype(n).key_size))) for n in ETYPES
    )


class KerberosRealm(CoreRealm):
    """A :class:`CoreRealm` whose principals also have Kerberos keys."""

    def __init__(self) -> None:
        super().__init__()
        self.change(self.tgs, kerberos_keys=random_keys())

    def add_krb_user(self, name: str, password: str, **fields: object) -> Principal:
        principal = self.add_user(name, password, **fields)
        self.change(principal, kerberos_keys=password_keys(principal, password))
        return principal

    def add_krb_service(self, name: str, **fields: object) -> Principal:
        principal = self.add_service(name, **fields)
        self.change(principal, kerberos_keys=random_keys())
        return principal

    def krb_key(self, principal: Principal, number: int = 20) -> KeyBlock:
        found = self.entries[principal].kerberos_key(number)
        assert found is not None
        return found.key

    def send(self, request: KerberosRequest | bytes, now: float = T0) -> kdc.KerberosAnswer:
        data = request if isinstance(request, bytes) else request.encode()
        return kdc.answer(data, self.ctx, now)

    def error(self, request: KerberosRequest | bytes, now: float = T0) -> KRBError:
        return decode_krb_error(self.send(request, now).reply)

    def reply(self, request: KerberosRequest, now: float = T0) -> KDCRep:
        answer = self.send(request, now)
        assert answer.error is None, answer.message
        decode = decode_as_rep if request.message.msg_type == 10 else decode_tgs_rep
        return decode(answer.reply)

    def krb_as_req(
        self, client: Principal, password: str, now: float = T0, etypes: tuple[int, ...] = ETYPES
    ) -> tuple[KerberosRequest, KeyBlock]:
        """A DER AS-REQ for a TGT with an encrypted timestamp under ``password``'s key."""
        key = enctype(etypes[0]).string_to_key(
            password, default_salt(client), ITERATIONS.to_bytes(4, "big")
        )
        return as_request(client, self.tgs, etypes, now, os.urandom, key), key

    def krb_login(
        self, client: Principal, password: str, now: float = T0, etypes: tuple[int, ...] = ETYPES
    ) -> KerberosCredential:
        request, key = self.krb_as_req(client, password, now, etypes)
        return read_kdc_rep(self.reply(request, now), request, key)
