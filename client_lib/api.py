"""The client library: log in, get service tickets, renew, with a credential cache.

```python
client = Client.from_environment()
client.login(Principal.parse("alice@EXAMPLE.TEST"), "s3cret-pass")
ticket = client.get_service_ticket(Principal.parse("HTTP/www@EXAMPLE.TEST"))
```

Each call runs one exchange of RFC 4120: AS (§3.1) for a login, TGS (§3.3) for a service
ticket or a renewal; the reply is checked (nonce, server name, times) before it is stored.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Self

import msgspec

from client_lib.ccache import CredentialCache
from client_lib.config import ClientSettings, is_kerberos_url, load_client_settings
from client_lib.errors import BadPassword, NoCredentials
from client_lib.fresh import FreshSchedule, Stop, cached_tgt
from client_lib.options import FreshOptions, LoginOptions
from client_lib.transport import Exchanger, Flow, KDCCall, KDCTransport, drive
from orthrus.as_exchange import ASOptions, make_as_req, read_as_rep
from orthrus.credentials import Credential
from orthrus.errors import ConfigError, KDCError, OrthrusError
from orthrus.keys import Entropy, Key
from orthrus.keytab import Keytab
from orthrus.kpasswd import (
    KpasswdRep,
    KpasswdResult,
    changepw_service,
    make_kpasswd_req,
    read_kpasswd_rep,
)
from orthrus.messages import ASRep, KDCReqBody, TGSRep
from orthrus.otp_enroll import (
    OTPEnrollRep,
    OTPEnrollResult,
    make_otp_enroll_req,
    read_otp_enroll_rep,
)
from orthrus.principal import Principal, krbtgt
from orthrus.pwkdf import KDFParams, check_params, is_legacy_salt, string_to_key
from orthrus.tgs_exchange import make_forward_req, make_tgs_req, read_tgs_rep
from orthrus_io.files import read_private

if TYPE_CHECKING:
    from client_lib.kerberos_transport import KerberosTransport
    from client_lib.kerberos_wire import KerberosWire

__all__ = ["Client", "ClientBase", "LoginOptions"]

#: A ticket this close to its end is not handed out from the cache.
_EXPIRY_MARGIN = 30


class ClientBase:
    """What :class:`Client` and :class:`~client_lib.aio.AsyncClient` share: settings, the
    credential cache, the clock, the entropy, and every exchange written once as a flow
    (:mod:`client_lib.transport`); the two differ only in how a flow's messages travel.

    With a ``krb5://`` KDC URL the flows' KDC steps are the Kerberos wire's
    (:class:`~client_lib.kerberos_wire.KerberosWire`: DER, RFC 3961 enctypes); the cache,
    the checks of what is cached and the CLI are the same.
    """

    def __init__(
        self,
        settings: ClientSettings,
        clock: Callable[[], float] = time.time,
        entropy: Entropy = os.urandom,
    ) -> None:
        self.settings = settings
        self.ccache = CredentialCache(
            settings.ccache_path, settings.ccache_format or "orthrus", bool(settings.ccache_format)
        )
        self._clock = clock
        self._entropy = entropy
        self.kerberos: KerberosWire | None = None
        if is_kerberos_url(settings.kdc_url):
            # The DER codec and RFC 3961 load only for a Kerberos-wire KDC.
            from client_lib.kerberos_wire import KerberosWire

            self.kerberos = KerberosWire(self.now, entropy)

    @classmethod
    def from_environment(cls, clock_offset: float = 0.0) -> Self:
        """A client configured from ``ORTHRUS_CONFIG`` and the environment."""
        if clock_offset:
            return cls(load_client_settings(), clock=lambda: time.time() + clock_offset)
        return cls(load_client_settings())

    def now(self) -> float:
        return self._clock()

    @property
    def entropy(self) -> Entropy:
        return self._entropy

    def parse_principal(self, text: str) -> Principal:
        """A principal name; without ``@REALM`` the configured or cached realm is used."""
        realm = self.settings.realm or None
        if realm is None and self.ccache.exists():
            realm = self.ccache.principal().realm
        return Principal.parse(text, default_realm=realm)

    def tgt(self) -> Credential:
        """The cached TGT, if still valid."""
        principal = self.ccache.principal()
        tgt = self.ccache.find(krbtgt(principal.realm))
        if tgt is None or not tgt.is_valid(self.now()):
            raise NoCredentials(
                f"no valid ticket-granting ticket for {principal} in {self.ccache.path}; "
                "run 'orthrus kinit'"
            )
        return tgt

    def _login_flow(
        self, principal: Principal, password: str, options: LoginOptions
    ) -> Flow[Credential]:
        tgt = yield from self._initial_ticket_flow(principal, password, options, None)
        self.ccache.initialize(principal, tgt)
        return tgt

    def _initial_ticket_flow(
        self,
        principal: Principal,
        password: str,
        options: LoginOptions,
        server: Principal | None,
    ) -> Flow[Credential]:
        """An AS exchange with a password, for a TGT or ``server``.

        The first request carries no pre-authentication: the KDC answers
        ``KDC_ERR_PREAUTH_REQUIRED`` with the salt and KDF parameters, and the second request
        carries the encrypted timestamp. (A principal without pre-authentication answers the
        first request directly, with the parameters in the reply.)
        """
        if self.kerberos is not None:
            return (yield from self.kerberos.password_flow(principal, password, options, server))
        probe = make_as_req(principal, self.now(), self._entropy, _as_options(options, server))
        try:
            rep = yield KDCCall("/v1/as", probe, ASRep)
        except KDCError as exc:
            if exc.name != "KDC_ERR_PREAUTH_REQUIRED":
                raise
            params = self._kdf_params(principal, exc.data.get("kdf"))
            key = string_to_key(password, principal, params, _kvno(exc.data))
            code = _otp_code(principal, options) if exc.data.get("otp") else None
            try:
                return (yield from self._as_with_key_flow(principal, key, options, server, code))
            except KDCError as failed:
                raise _explain_legacy_salt(failed, principal, params) from None
        key = string_to_key(password, principal, self._kdf_params(principal, rep.kdf), 0)
        return read_as_rep(rep, probe, key, self.now())

    def _kdf_params(self, principal: Principal, hint: object) -> KDFParams:
        """The KDC's salt part and KDF parameters, within this client's floor and ceiling."""
        params = _kdf_hint(principal, hint)
        check_params(params, self.settings.kdf)
        return params

    def _keytab_login_flow(
        self, principal: Principal, keytab_path: Path, options: LoginOptions
    ) -> Flow[Credential]:
        if self.kerberos is not None:
            from client_lib.kerberos_wire import keytab_keys

            tgt = yield from self.kerberos.keytab_flow(
                principal, keytab_keys(keytab_path, principal), options
            )
            self.ccache.initialize(principal, tgt)
            return tgt
        keytab = Keytab.from_bytes(read_private(keytab_path, "keytab"))
        keys = keytab.keys_by_principal().get(principal)
        if not keys:
            raise ConfigError(f"keytab {keytab_path} holds no key for {principal}")
        tgt = yield from self._as_with_key_flow(principal, keys[max(keys)], options)
        self.ccache.initialize(principal, tgt)
        return tgt

    def _as_with_key_flow(
        self,
        principal: Principal,
        key: Key,
        options: LoginOptions,
        server: Principal | None = None,
        otp_code: str | None = None,
    ) -> Flow[Credential]:
        as_options = _as_options(options, server)
        req = make_as_req(principal, self.now(), self._entropy, as_options, key, otp_code)
        rep = yield KDCCall("/v1/as", req, ASRep)
        return read_as_rep(rep, req, key, self.now())

    def _fresh_schedule(self, principal: Principal | str, options: FreshOptions) -> FreshSchedule:
        name = principal if isinstance(principal, Principal) else self.parse_principal(principal)
        return FreshSchedule(name, options, cached_tgt(self.ccache, name))

    def _refresh_flow(self, schedule: FreshSchedule, keytab: Path) -> Flow[Credential]:
        """One refresh of a keep-fresh loop: a renewal, or a login from the keytab."""
        if schedule.plan(self.now()):
            return (yield from self._renew_flow())
        login = schedule.options.login
        return (yield from self._keytab_login_flow(schedule.principal, keytab, login))

    def _change_password_flow(
        self, principal: Principal, old_password: str, new_password: str
    ) -> Flow[KpasswdResult]:
        if self.kerberos is not None:
            raise ConfigError(
                "orthrus kpasswd speaks the Orthrus KDC's HTTP API; with a krb5:// KDC use "
                "MIT's kpasswd (RFC 3244 on the Kerberos wire)"
            )
        ticket = yield from self._initial_ticket_flow(
            principal, old_password, LoginOptions(300, None), changepw_service(principal.realm)
        )
        request, state = make_kpasswd_req(ticket, new_password, self.now(), self._entropy)
        reply = yield KDCCall("/v1/kpasswd", request, KpasswdRep)
        return read_kpasswd_rep(reply, state, self.now())

    def _enroll_otp_flow(
        self, principal: Principal, password: str, options: LoginOptions
    ) -> Flow[OTPEnrollResult]:
        ticket = yield from self._initial_ticket_flow(
            principal,
            password,
            LoginOptions(300, None, otp_code=options.otp_code),
            changepw_service(principal.realm),
        )
        request, state = make_otp_enroll_req(ticket, self.now(), self._entropy)
        reply = yield KDCCall("/v1/otp/enroll", request, OTPEnrollRep)
        return read_otp_enroll_rep(reply, state, self.now())

    def _cached(self, server: Principal) -> Credential | None:
        cached = self.ccache.find(server)
        if cached is not None and cached.is_valid(self.now() + _EXPIRY_MARGIN):
            return cached
        return None

    def _service_ticket_flow(self, server: Principal, use_cache: bool) -> Flow[Credential]:
        """A ticket for ``server``; for a service of another realm, through the cross-realm
        TGT ``krbtgt/THEIRS@OURS`` and that realm's KDC (RFC 4120 §1.2, §3.3.1)."""
        cached = self._cached(server) if use_cache else None
        if cached is not None:
            return cached
        tgt, kdc_url = self.tgt(), None
        home = tgt.client.realm
        if server.realm != home:
            kdc_url = self.settings.kdc_url_of(server.realm, home)
            tgt = yield from self._ticket_flow(tgt, Principal(("krbtgt", server.realm), home))
        return (yield from self._ticket_flow(tgt, server, kdc_url))

    def _ticket_flow(
        self, tgt: Credential, server: Principal, kdc_url: str | None = None
    ) -> Flow[Credential]:
        """A ticket for ``server`` from the KDC of ``tgt``'s service (its cached one if valid
        for a cross-realm TGT), stored in the cache."""
        if server.is_tgs:
            cached = self._cached(server)
            if cached is not None:
                return cached
        if self.kerberos is not None:
            if kdc_url is not None:
                raise ConfigError(
                    f"a ticket of another realm ({server.realm}) over krb5:// is not made yet: "
                    "use MIT's kvno, or the realm's Orthrus KDC over HTTP"
                )
            credential = yield from self.kerberos.tgs_flow(tgt, server)
        else:
            request = make_tgs_req(tgt, server, self.now(), self._entropy)
            rep = yield KDCCall("/v1/tgs", request.message, TGSRep, kdc_url)
            credential = read_tgs_rep(rep, request, self.now())
        self.ccache.store(credential)
        return credential

    def _forwarded_tgt_flow(self) -> Flow[Credential]:
        request = make_forward_req(self.tgt(), self.now(), self._entropy)
        rep = yield KDCCall("/v1/tgs", request.message, TGSRep)
        return read_tgs_rep(rep, request, self.now())

    def _renew_flow(self) -> Flow[Credential]:
        principal = self.ccache.principal()
        tgt = self.ccache.find(krbtgt(principal.realm))
        if tgt is None:
            raise NoCredentials(f"no ticket-granting ticket in {self.ccache.path} to renew")
        if self.kerberos is not None:
            renewed = yield from self.kerberos.tgs_flow(tgt, tgt.server, ("renew",))
            self.ccache.initialize(principal, renewed)
            return renewed
        now = self.now()
        body = KDCReqBody(
            server=tgt.server,
            nonce=int.from_bytes(self._entropy(8), "big") >> 1,
            till=tgt.renew_till or tgt.endtime,
            options=["renew"],
        )
        request = make_tgs_req(tgt, tgt.server, now, self._entropy, body)
        rep = yield KDCCall("/v1/tgs", request.message, TGSRep)
        renewed = read_tgs_rep(rep, request, self.now())
        self.ccache.initialize(principal, renewed)
        return renewed


class Client(ClientBase):
    """An Orthrus client bound to a KDC URL and a credential cache (blocking calls)."""

    def __init__(
        self,
        settings: ClientSettings,
        clock: Callable[[], float] = time.time,
        entropy: Entropy = os.urandom,
    ) -> None:
        super().__init__(settings, clock, entropy)
        self._transport: KDCTransport | KerberosTransport | None = None

    @property
    def transport(self) -> Exchanger:
        if self._transport is None:
            url = self.settings.kdc_url
            if self.kerberos is not None:
                from client_lib.kerberos_transport import KerberosTransport

                self._transport = KerberosTransport(url, self.settings.timeout)
            else:
                self._transport = KDCTransport(url, self.settings.http_client(url, "the KDC URL"))
        return self._transport

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def login(
        self, principal: Principal, password: str, options: LoginOptions = LoginOptions()
    ) -> Credential:
        """Log in with a password (AS exchange, RFC 4120 §3.1) and store the TGT."""
        return drive(self._login_flow(principal, password, options), self.transport)

    def initial_ticket(
        self,
        principal: Principal,
        password: str,
        options: LoginOptions = LoginOptions(),
        server: Principal | None = None,
    ) -> Credential:
        """An AS exchange with a password, for a TGT or ``server``; returned, not stored."""
        flow = self._initial_ticket_flow(principal, password, options, server)
        return drive(flow, self.transport)

    def login_with_keytab(
        self, principal: Principal, keytab_path: Path, options: LoginOptions = LoginOptions()
    ) -> Credential:
        """Log in with the newest key of ``principal`` in a keytab (one round trip)."""
        return drive(self._keytab_login_flow(principal, keytab_path, options), self.transport)

    def change_password(
        self, principal: Principal, old_password: str, new_password: str
    ) -> KpasswdResult:
        """Change ``principal``'s password through ``/v1/kpasswd`` (RFC 3244).

        The old password buys a short initial ticket for ``kadmin/changepw``; the new one
        travels sealed under a fresh subkey; the KDC's reply is checked (mutual).
        """
        flow = self._change_password_flow(principal, old_password, new_password)
        return drive(flow, self.transport)

    def enroll_otp(
        self, principal: Principal, password: str, options: LoginOptions = LoginOptions()
    ) -> OTPEnrollResult:
        """Enroll an authenticator app (RFC 6238 TOTP) through ``/v1/otp/enroll``: a new
        shared secret and recovery codes, sealed to this client (:mod:`orthrus.otp_enroll`).

        The password buys an initial ticket for ``kadmin/changepw``; one already enrolled
        gives its current code too (``options.otp_code``).
        """
        return drive(self._enroll_otp_flow(principal, password, options), self.transport)

    def get_service_ticket(self, server: Principal, use_cache: bool = True) -> Credential:
        """A ticket for ``server``: from the cache if still good, else from the TGS
        (RFC 4120 §3.3)."""
        return drive(self._service_ticket_flow(server, use_cache), self.transport)

    def forwarded_tgt(self) -> Credential:
        """A FORWARDED TGT to hand to a service trusted for delegation (RFC 4120 §2.6); the
        cached TGT must be forwardable (``orthrus kinit -f``). Returned, not stored."""
        return drive(self._forwarded_tgt_flow(), self.transport)

    def renew(self) -> Credential:
        """Renew the cached TGT (``kinit -R``, RFC 4120 §3.3.1) within its renewable life."""
        return drive(self._renew_flow(), self.transport)

    def keep_fresh(
        self,
        *,
        keytab: Path | str,
        principal: Principal | str,
        options: FreshOptions = FreshOptions(),
        stop: Stop | None = None,
    ) -> None:
        """Keep ``principal``'s TGT in the cache fresh until ``stop`` is set, as ``k5start``
        does (``orthrus kinit --keep``).

        When ``options.refresh_left`` of the TGT's lifetime is left (at once if the cache
        holds none), the TGT is renewed (RFC 4120 §3.3.1) while its renewable life allows,
        else acquired anew with ``principal``'s key from ``keytab`` (§3.1). The cache is
        written atomically under its lock; each refresh is logged (logger
        ``client_lib.fresh``). A failure of the first refresh is raised; later ones are
        logged and retried every ``options.retry_after`` seconds. ``stop`` is waited on
        between refreshes (a :class:`threading.Event`; never set: run it in a daemon
        thread).
        """
        stop = threading.Event() if stop is None else stop
        schedule = self._fresh_schedule(principal, options)
        while not stop.wait(schedule.delay(self.now())):
            try:
                tgt = drive(self._refresh_flow(schedule, Path(keytab)), self.transport)
            except OrthrusError as exc:
                schedule.failed(exc, self.now())
            else:
                schedule.succeeded(tgt, self.now())


def _as_options(options: LoginOptions, server: Principal | None = None) -> ASOptions:
    return ASOptions(options.lifetime or 0, options.renewable_life, server, options.forwardable)


def _kdf_hint(principal: Principal, hint: object) -> KDFParams:
    """The salt part and KDF parameters the KDC sent, within the wire format's bounds."""
    if hint is None:
        raise ConfigError(
            f"{principal} has a random key, not a password; log in with a keytab: "
            "orthrus kinit -k -t KEYTAB"
        )
    if isinstance(hint, KDFParams):
        return hint
    try:
        return msgspec.convert(hint, KDFParams)
    except msgspec.ValidationError as exc:
        raise KDCError(
            "KDC_ERR_ETYPE_NOSUPP",
            f"the KDC sent unusable KDF parameters ({exc}); the likely cause is a fake KDC "
            "(KDC spoofing): check ORTHRUS_KDC_URL",
        ) from None


def _explain_legacy_salt(failed: KDCError, principal: Principal, params: KDFParams) -> KDCError:
    """``failed``, with the likely cause added when the key predates salts bound to names."""
    if failed.name != "KDC_ERR_PREAUTH_FAILED" or not is_legacy_salt(params.salt):
        return failed
    return BadPassword(
        f"{failed.message}. If the password is right, {principal}'s key predates salts bound "
        "to principal names and no client derives it any more: ask an administrator to "
        f"reset the password (orthrus-kdc cpw {principal})",
        failed.data,
    )


def _otp_code(principal: Principal, options: LoginOptions) -> str:
    """The one-time code the KDC asked for (``"otp"`` in its PREAUTH_REQUIRED data)."""
    if options.otp_code is None:
        raise ConfigError(
            f"{principal} logs in with a one-time code too: run 'orthrus kinit', which asks "
            "for it, or pass --otp-code"
        )
    return options.otp_code()


def _kvno(data: dict[str, object]) -> int:
    kvno = data.get("kvno")
    if not isinstance(kvno, int):
        raise KDCError("KDC_ERR_PREAUTH_FAILED", "the KDC did not say which key version to use")
    return kvno
