"""The client's KDC exchanges on the Kerberos wire (``krb5://``), as the steps
:class:`~client_lib.api.ClientBase`'s flows delegate to: the AS exchange with a password or
a keytab's keys (RFC 4120 §3.1, PA-ENC-TIMESTAMP after ``KDC_ERR_PREAUTH_REQUIRED`` with
PA-ETYPE-INFO2's salt and s2kparams, §5.2.7), and the TGS exchange for a service ticket or a
renewal (§3.3). Each yields a :class:`~client_lib.transport.KDCCall` whose message is the
request's DER, and checks the reply with :mod:`orthrus.kerberos.client`; the caches and
the CLI are the same as for the JSON dialect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from client_lib.options import LoginOptions
from client_lib.transport import Flow, KDCCall
from orthrus.credentials import Credential
from orthrus.der import ETypeInfo2Entry, decode_as_rep, decode_tgs_rep
from orthrus.enctypes import KeyBlock
from orthrus.errors import ConfigError, KDCError
from orthrus.kerberos.client import (
    CLIENT_ETYPES,
    KerberosCredential,
    KerberosRequest,
    as_request,
    choose_etype_info,
    password_key,
    preauth_hints,
    read_kdc_rep,
    reply_hints,
    tgs_request,
)
from orthrus.keys import Entropy
from orthrus.messages import KDCOption
from orthrus.mitkeytab import is_mit_keytab, parse_keytab
from orthrus.principal import Principal, krbtgt
from orthrus_io.files import read_private

__all__ = ["KerberosWire", "keytab_keys"]

#: The ticket lifetime asked for when the caller leaves it to the realm (MIT's default).
_DEFAULT_LIFETIME = 86400

#: How a flow gets the client's key of the enctype the KDC chose.
KeyFor = Callable[[ETypeInfo2Entry], KeyBlock]


def keytab_keys(path: Path, principal: Principal) -> Mapping[int, KeyBlock]:
    """``principal``'s newest keys in an MIT keytab, by enctype (MIT's ``kinit -k``)."""
    data = read_private(path, "keytab")
    if not is_mit_keytab(data):
        raise ConfigError(
            f"keytab {path} is an Orthrus keytab, whose keys serve the JSON dialect only; a "
            "krb5:// KDC needs an MIT keytab (orthrus-kdc ktadd --format mit, or kadmin ktadd)"
        )
    entries = [e for e in parse_keytab(data) if e.principal == principal]
    if not entries:
        raise ConfigError(f"keytab {path} holds no key for {principal}")
    newest = max(e.kvno for e in entries)
    return {e.enctype: e.key for e in entries if e.kvno == newest}


class KerberosWire:
    """The Kerberos-wire steps of the client's flows, with the client's clock and entropy."""

    def __init__(self, now: Callable[[], float], entropy: Entropy) -> None:
        self._now = now
        self._entropy = entropy

    def password_flow(
        self, principal: Principal, password: str, options: LoginOptions, server: Principal | None
    ) -> Flow[Credential]:
        """An AS exchange whose reply key comes from ``password`` (RFC 3961 string-to-key)."""

        def key_for(hint: ETypeInfo2Entry) -> KeyBlock:
            return password_key(password, principal, hint)

        return (yield from self._as_flow(principal, CLIENT_ETYPES, key_for, options, server))

    def keytab_flow(
        self, principal: Principal, keys: Mapping[int, KeyBlock], options: LoginOptions
    ) -> Flow[Credential]:
        """An AS exchange with keys from a keytab (MIT's ``kinit -k``)."""
        etypes = tuple(e for e in CLIENT_ETYPES if e in keys)
        if not etypes:
            raise ConfigError(
                f"the keytab's keys for {principal} are of enctypes {sorted(keys)}, none of "
                f"which this client uses ({', '.join(map(str, CLIENT_ETYPES))}): add AES keys"
            )

        def key_for(hint: ETypeInfo2Entry) -> KeyBlock:
            return keys[hint.etype]

        return (yield from self._as_flow(principal, etypes, key_for, options, None))

    def _as_flow(
        self,
        principal: Principal,
        etypes: tuple[int, ...],
        key_for: KeyFor,
        options: LoginOptions,
        server: Principal | None,
    ) -> Flow[Credential]:
        """First without pre-authentication: the KDC answers ``KDC_ERR_PREAUTH_REQUIRED``
        with PA-ETYPE-INFO2, and the second request carries the encrypted timestamp under
        the key that hint gives. A principal without pre-authentication gets its reply at
        once, with the hint in the reply's padata (RFC 4120 §3.1.3)."""
        target = server or krbtgt(principal.realm)
        probe = self._as_request(principal, target, etypes, options, None)
        try:
            reply = yield KDCCall("AS-REQ", probe.encode(), bytes)
        except KDCError as exc:
            if exc.name != "KDC_ERR_PREAUTH_REQUIRED":
                raise
            # Without PA-ETYPE-INFO2 (RFC 4120 §5.2.7.5 makes it a SHOULD), our first
            # enctype with the default salt.
            key = key_for(choose_etype_info(preauth_hints(exc), etypes, etypes[0]))
            request = self._as_request(principal, target, etypes, options, key)
            reply = yield KDCCall("AS-REQ", request.encode(), bytes)
            return read_kdc_rep(decode_as_rep(reply), request).to_credential()
        rep = decode_as_rep(reply)
        key = key_for(choose_etype_info(reply_hints(rep), etypes, rep.enc_part.etype))
        return read_kdc_rep(rep, probe, key).to_credential()

    def _as_request(
        self,
        principal: Principal,
        target: Principal,
        etypes: tuple[int, ...],
        options: LoginOptions,
        key: KeyBlock | None,
    ) -> KerberosRequest:
        lifetime = options.lifetime or _DEFAULT_LIFETIME
        renewable = options.renewable_life if target.is_tgs else None
        return as_request(
            principal,
            target,
            etypes,
            self._now(),
            self._entropy,
            key,
            lifetime=lifetime,
            renewable_life=renewable,
        )

    def tgs_flow(
        self, tgt: Credential, server: Principal, options: tuple[KDCOption, ...] = ()
    ) -> Flow[Credential]:
        """A TGS exchange with the cached TGT (RFC 4120 §3.3): a service ticket, or with
        ``("renew",)`` and the TGT's own name, the TGT renewed (§3.3.1)."""
        lifetime = max(int(tgt.endtime - tgt.starttime), 1)
        renewing = "renew" in options
        request = tgs_request(
            KerberosCredential.from_credential(tgt),
            server,
            self._now(),
            self._entropy,
            options,
            lifetime,
            tgt.renew_till if renewing else None,
        )
        reply = yield KDCCall("TGS-REQ", request.encode(), bytes)
        return read_kdc_rep(decode_tgs_rep(reply), request).to_credential()
