"""Remote administration, as MIT's kadmind: ``POST /v1/admin/<operation>`` (:mod:`orthrus.kadmin`).

Each request is checked as a service checks one (RFC 4120 §3.2.3, the core's
:func:`~orthrus.ap.verify_ap_req` with the KDC's replay cache): a ticket for
``kadmin/admin@REALM`` only, bound to the method and path, never seen before. Its body is
opened under the authenticator's subkey (KRB-PRIV, RFC 4120 §5.7.1) and the reply sealed
the same way, with an AP-REP for mutual authentication. The ticket's client is then looked
up in the ACL file ``DIR/kadm5.acl`` (:mod:`orthrus.kadm5acl`, read on every request, so an
edit takes effect at once): a missing permission is 403 naming it. ``ktadd`` answers keys
only over TLS or from the loopback interface. Every call, done or refused, has an audit
line naming the admin, the operation and the principal.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from flask import Flask, Response, request

from kdc.admin_acl import ACL_NAME
from kdc.admin_audit import AdminAction, audit_admin
from kdc.config import KDCSettings
from kdc.exchanges import error_json
from kdc.keytab_export import export_keys
from kdc.principal_admin import (
    AdminError,
    NewPrincipal,
    PasswordRejected,
    PrincipalChanges,
    PrincipalExists,
    PrincipalMissing,
)
from kdc.store import Store
from orthrus.ap import APRules, make_ap_rep, verify_ap_req
from orthrus.codec import decode, encode
from orthrus.errors import APError, ConfigError, ProtocolError
from orthrus.httpauth import (
    REPLY_HEADER,
    SCHEME,
    challenge,
    decode_ap_req,
    encode_ap_rep,
    http_binding,
    parse_authorization,
)
from orthrus.kadm5acl import OPERATION_NAMES, ACLError, AdminACL
from orthrus.kadmin import (
    OPERATIONS,
    AddprincRequest,
    AdminReply,
    CpwRequest,
    KtaddRequest,
    ModprincRequest,
    PrincipalRequest,
    admin_service,
)
from orthrus.keys import Key
from orthrus.principal import Principal
from orthrus.priv import MAX_USER_DATA, PRIV_CONTENT_TYPE, PrivChannel, decode_priv, encode_priv
from orthrus.realm import KDCContext
from orthrus_io.errors import UNAVAILABLE, Unavailable

__all__ = ["AdminAPI"]

#: The most a sealed request body may be (one KRB-PRIV message).
MAX_SEALED_BODY = 4 * MAX_USER_DATA


@dataclass(frozen=True)
class _Refusal(Exception):
    """An answer other than success: HTTP status, Kerberos error name, sentence, data."""

    status: int
    name: str
    message: str
    data: Mapping[str, Any] | None = None

    def response(self, realm: str) -> Response:
        body = encode(ProtocolError(self.name, self.message, self.data).to_json())
        response = Response(body, self.status, mimetype="application/json")
        if self.status == 401:
            response.headers["WWW-Authenticate"] = challenge(realm)
        return response


@dataclass(frozen=True, slots=True)
class _Caller:
    """An authenticated admin request: who, and the channel its body came on."""

    admin: Principal
    channel: PrivChannel
    reply_header: str


class AdminAPI:
    """The admin API's one view; :meth:`register` adds it to the KDC's Flask app."""

    def __init__(self, settings: KDCSettings, store: Store, ctx: KDCContext) -> None:
        self.settings = settings
        self.store = store
        self.ctx = ctx
        self.service = admin_service(settings.realm)
        self.acl_path = Path(settings.directory) / ACL_NAME

    def register(self, app: Flask) -> None:
        app.add_url_rule("/v1/admin/<operation>", "admin", self.view, methods=["POST"])

    def view(self, operation: str) -> Response:
        now = time.time()
        caller: _Caller | None = None
        target: object = None
        try:
            if operation not in OPERATIONS:
                raise _Refusal(
                    404,
                    "KRB_ERR_GENERIC",
                    f"no admin operation {operation!r}; use one of {', '.join(OPERATIONS)}",
                )
            caller = self._authenticate(now)
            type_, letter = OPERATIONS[operation]
            message = decode(caller.channel.open(decode_priv(self._body()), now), type_)
            targets = _targets(message)
            target = ", ".join(map(str, targets)) or None
            self._authorize(caller.admin, operation, letter, targets)
            reply = self._run(operation, message)
        except _Refusal as refusal:
            self._audit(caller, operation, target, (refusal.name, refusal.message), refusal.data)
            return refusal.response(self.settings.realm)
        except ProtocolError as exc:
            self._audit(caller, operation, target, (exc.name, exc.message), None)
            # A request that does not authenticate is 401 with the challenge, as a service's.
            status = 401 if isinstance(exc, APError) else exc.http_status
            answer = _Refusal(status, exc.name, exc.message, exc.data)
            return answer.response(self.settings.realm)
        except Unavailable as exc:  # the database, or the replay cache's Redis
            why = f"the KDC cannot serve now ({exc}); try again soon"
            self._audit(caller, operation, target, (UNAVAILABLE, why), None)
            return Response(error_json(UNAVAILABLE, why, 503), 503, mimetype="application/json")
        self._audit(caller, operation, target, None, None)
        sealed = caller.channel.seal(encode(reply), now, os.urandom)
        response = Response(encode_priv(sealed), 200, content_type=PRIV_CONTENT_TYPE)
        response.headers[REPLY_HEADER] = caller.reply_header
        response.headers["Cache-Control"] = "no-store"
        return response

    def _keys_for(self, principal: Principal) -> Mapping[int, Key] | None:
        if principal != self.service:
            return None  # a ticket for any other service is not for us: KRB_AP_ERR_NOT_US
        entry = self.ctx.lookup(principal)
        return entry.keys if entry else None

    def _authenticate(self, now: float) -> _Caller:
        token = parse_authorization(request.headers.get("Authorization"))
        if token is None:
            raise _Refusal(
                401,
                "KRB_AP_ERR_NOKEY",
                f"an admin request needs 'Authorization: {SCHEME}' with a ticket for "
                f"{self.service}: orthrus kinit ADMIN/admin, then orthrus admin ...",
            )
        rules = APRules(
            replay_cache=self.ctx.replay_cache,
            max_skew=self.settings.max_skew,
            expected_checksum=http_binding("POST", request.path),
            where="KDC",
        )
        verified = verify_ap_req(decode_ap_req(token), self._keys_for, now, rules)
        subkey, seq = verified.authenticator.subkey, verified.authenticator.seq
        if subkey is None or seq is None:
            raise _Refusal(
                400,
                "KRB_AP_ERR_NOKEY",
                "an admin request is sealed: its authenticator carries a subkey and a "
                "sequence number (orthrus admin does this)",
            )
        channel = PrivChannel.acceptor(subkey.to_key(), seq, max_skew=self.settings.max_skew)
        reply = f"{SCHEME} {encode_ap_rep(make_ap_rep(verified, os.urandom))}"
        return _Caller(verified.ticket.client, channel, reply)

    def _body(self) -> bytes:
        if request.mimetype != PRIV_CONTENT_TYPE:
            raise _Refusal(
                415, "KRB_ERR_GENERIC", f"an admin request's body is {PRIV_CONTENT_TYPE}"
            )
        data = request.stream.read(MAX_SEALED_BODY + 1)
        if len(data) > MAX_SEALED_BODY:
            raise _Refusal(
                413, "KRB_ERR_FIELD_TOOLONG", f"a sealed body is at most {MAX_SEALED_BODY} bytes"
            )
        return data

    def _acl(self) -> AdminACL:
        try:
            text = self.acl_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise _Refusal(
                403,
                "KDC_ERR_POLICY",
                f"the KDC has no ACL file ({self.acl_path}), so nobody may administer it "
                "remotely; write one (orthrus-kdc upgrade writes the default)",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise _Refusal(503, "KRB_ERR_GENERIC", f"cannot read {self.acl_path}: {exc}") from None
        try:
            return AdminACL.parse(text, self.settings.realm)
        except ACLError as exc:
            raise _Refusal(
                503,
                "KRB_ERR_GENERIC",
                f"{self.acl_path} {exc}: fix it; until then every admin request is refused",
            ) from None

    def _authorize(
        self, admin: Principal, operation: str, letter: str, targets: tuple[Principal, ...]
    ) -> None:
        acl = self._acl()
        for target in targets or (None,):
            if not acl.allows(admin, letter, target):
                on = f" on {target}" if target is not None else ""
                raise _Refusal(
                    403,
                    "KDC_ERR_POLICY",
                    f"{admin} may not {operation}{on}: the permission '{letter}' "
                    f"({OPERATION_NAMES[letter]}) is missing from {self.acl_path}",
                    {"permission": letter, "operation": operation},
                )
        if operation == "ktadd" and not _private_transport():
            raise _Refusal(
                403,
                "KDC_ERR_POLICY",
                "ktadd sends keys, which the KDC does only over TLS (serve --certfile "
                "--keyfile, an https:// URL) or to a client on its loopback interface; "
                "or run orthrus-kdc ktadd on the KDC's host",
                {"requires": "tls-or-loopback"},
            )

    def _run(self, operation: str, message: Any) -> AdminReply:
        try:
            return _OPERATIONS[operation](self, message)
        except PrincipalMissing as exc:
            raise _Refusal(404, "KDC_ERR_C_PRINCIPAL_UNKNOWN", str(exc)) from None
        except PrincipalExists as exc:
            raise _Refusal(409, "KRB_ERR_GENERIC", str(exc)) from None
        except PasswordRejected as exc:
            raise _Refusal(400, "KDC_ERR_POLICY", f"{exc}; nothing was changed") from None
        except (AdminError, ConfigError) as exc:
            raise _Refusal(409, "KDC_ERR_POLICY", str(exc)) from None

    def _audit(
        self,
        caller: _Caller | None,
        operation: str,
        target: object,
        error: tuple[str, str] | None,
        data: Mapping[str, Any] | None,
    ) -> None:
        extra = {"via": "api"}
        if data and "permission" in data:
            extra["missing_permission"] = str(data["permission"])
        admin = str(caller.admin) if caller else "unauthenticated"
        audit_admin(
            self.settings,
            AdminAction(
                admin,
                operation,
                target,
                error,
                request.remote_addr,
                request.headers.get("X-Request-Id"),
                extra,
            ),
        )

    # The operations, as orthrus-kdc's commands do them on the database.

    def addprinc(self, req: AddprincRequest) -> AdminReply:
        self.store.add_principal(
            NewPrincipal(
                req.principal,
                req.password,
                requires_preauth=req.requires_preauth,
                groups=tuple(req.groups),
                max_life=req.max_life,
                max_renewable_life=req.max_renewable_life,
                allow_svr=req.allow_svr,
            )
        )
        return AdminReply(f'Principal "{req.principal}" created.')

    def delprinc(self, req: PrincipalRequest) -> AdminReply:
        self.store.delete_principal(req.principal)
        return AdminReply(f'Principal "{req.principal}" deleted.')

    def modprinc(self, req: ModprincRequest) -> AdminReply:
        from kdc.lockout import RedisLockout

        lines = []
        if req.unlock:
            if not isinstance(self.ctx.guard, RedisLockout):
                raise ConfigError(
                    "lockout counters live in each KDC process (no redis_url): they clear "
                    "when the lockout ends or the KDC restarts"
                )
            self.store.describe(req.principal)  # PrincipalMissing for a name not there
            self.ctx.guard.unlock(req.principal)
            lines.append(f'Principal "{req.principal}" unlocked.')
        # Every field of the request but these two is one of PrincipalChanges (None: keep).
        fields = msgspec.structs.asdict(req)
        del fields["principal"], fields["unlock"]
        if any(value not in (None, []) for value in fields.values()) or not req.unlock:
            self.store.modify(req.principal, PrincipalChanges(**fields))
            lines.append(f'Principal "{req.principal}" modified.')
        return AdminReply("\n".join(lines))

    def getprinc(self, req: PrincipalRequest) -> AdminReply:
        return AdminReply(info=self.store.describe(req.principal))

    def listprincs(self, _req: object) -> AdminReply:
        return AdminReply(principals=self.store.list_names())

    def cpw(self, req: CpwRequest) -> AdminReply:
        kvno = self.store.change_key(req.principal, req.password)
        return AdminReply(f'Key for "{req.principal}" changed (kvno {kvno}).', kvno=kvno)

    def rotate(self, req: PrincipalRequest) -> AdminReply:
        from datetime import UTC, datetime

        kvno = self.store.rotate(req.principal, datetime.now(UTC))
        return AdminReply(
            f'Key for "{req.principal}" rotated to kvno {kvno}; older versions kept until unused.',
            kvno=kvno,
        )

    def ktadd(self, req: KtaddRequest) -> AdminReply:
        return AdminReply(
            keytab=export_keys(self.store, req.principals, req.format, int(time.time()))
        )


_OPERATIONS: dict[str, Callable[[AdminAPI, Any], AdminReply]] = {
    "addprinc": AdminAPI.addprinc,
    "delprinc": AdminAPI.delprinc,
    "modprinc": AdminAPI.modprinc,
    "getprinc": AdminAPI.getprinc,
    "listprincs": AdminAPI.listprincs,
    "cpw": AdminAPI.cpw,
    "rotate": AdminAPI.rotate,
    "ktadd": AdminAPI.ktadd,
}


def _targets(message: object) -> tuple[Principal, ...]:
    if isinstance(message, KtaddRequest):
        return tuple(message.principals)
    principal = getattr(message, "principal", None)
    return (principal,) if isinstance(principal, Principal) else ()


def _private_transport() -> bool:
    """True over TLS, or from the loopback interface (nothing crosses a network in clear)."""
    if request.scheme == "https":
        return True
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
