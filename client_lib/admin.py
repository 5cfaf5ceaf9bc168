"""``orthrus admin``: administer a realm from any host, as MIT's ``kadmin`` (not ``kadmin.local``).

The subcommands and their flags are ``orthrus-kdc``'s (:mod:`orthrus_io.admin_options`);
each is one ``POST /v1/admin/<operation>`` to the KDC (:mod:`orthrus.kadmin`) with a ticket
for ``kadmin/admin@REALM`` from the credential cache (``orthrus kinit ADMIN/admin`` first),
the body and the reply sealed under a fresh subkey, and the KDC's AP-REP checked (mutual
authentication): what the KDC says it did is what it did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import httpx

from client_lib.api import Client
from orthrus.codec import decode, encode
from orthrus.errors import ERROR_CODES, MalformedMessage, TransportError, error_class_for
from orthrus.kadmin import (
    AddprincRequest,
    AdminReply,
    CpwRequest,
    KtaddRequest,
    ListprincsRequest,
    ModprincRequest,
    PrincipalRequest,
    admin_service,
)
from orthrus.principal import Principal
from orthrus_io import admin_options as flags
from orthrus_io.keytab_files import KeytabFile

__all__ = ["RemoteAdmin", "admin"]


class RemoteAdmin:
    """The admin API of the KDC at ``url``, called with ``client``'s tickets."""

    def __init__(self, client: Client, url: str) -> None:
        self.client = client
        self.url = url.rstrip("/")

    @property
    def realm(self) -> str:
        return self.client.settings.realm or self.client.ccache.principal().realm

    def principal(self, text: str) -> Principal:
        """``text`` as a principal, in the realm when it names none."""
        try:
            return Principal.parse(text, default_realm=self.realm)
        except MalformedMessage as exc:
            raise click.BadParameter(exc.message, param_hint="PRINCIPAL") from None

    def call(self, operation: str, message: object) -> AdminReply:
        """Send one sealed request; the opened reply, or the KDC's refusal raised as the
        :class:`~orthrus.errors.ProtocolError` it names."""
        from client_lib.http_auth import PlainRequest, TicketAuthenticator, fetch_sealed

        service = admin_service(self.realm)
        authenticator = TicketAuthenticator(self.client, service, mutual=True)
        url = f"{self.url}/v1/admin/{operation}"
        plain = PlainRequest("POST", url, encode(message), {})
        try:
            with self.client.settings.http_client(url, "the KDC URL") as http:
                sealed = fetch_sealed(http, authenticator, plain)
        except httpx.HTTPError as exc:
            raise TransportError(f"cannot reach the KDC at {self.url}: {exc}") from None
        if sealed.response.status_code >= 400:
            raise _refusal(sealed.response)
        return decode(sealed.body, AdminReply)


def _refusal(response: httpx.Response) -> Exception:
    try:
        error = response.json()["error"]
        name, message = error["name"], error["message"]
    except (ValueError, KeyError, TypeError):
        return TransportError(f"the KDC answered HTTP {response.status_code} to an admin request")
    if name not in ERROR_CODES or not isinstance(message, str):
        return TransportError(f"the KDC answered HTTP {response.status_code}: {message}")
    return error_class_for(name)(name, message)


def _remote(ctx: click.Context) -> RemoteAdmin:
    remote: RemoteAdmin = ctx.obj["remote"]
    return remote


@click.group()
@click.option(
    "--url",
    metavar="URL",
    help="The KDC's URL (default ORTHRUS_KDC_URL); https:// for anything but loopback.",
)
@click.pass_context
def admin(ctx: click.Context, url: str | None) -> None:
    """Administer the realm remotely through the KDC's admin API (MIT's kadmin).

    Log in as an admin first (orthrus kinit joe/admin); the KDC's ACL file (kadm5.acl)
    says what each admin may do. The subcommands and flags are orthrus-kdc's.
    """
    client: Client = ctx.obj["client"](ctx)  # orthrus's own (its --clock-offset checked)
    ctx.obj["remote"] = RemoteAdmin(client, url or client.settings.kdc_url)


@admin.command()
@flags.addprinc_options
@click.pass_context
def addprinc(ctx: click.Context, /, principal: str, randkey: bool, **options: Any) -> None:
    """Add PRINCIPAL, with a password (asked twice) or --randkey."""
    remote = _remote(ctx)
    name = remote.principal(principal)
    password = flags.new_password(name, randkey)
    options["groups"] = list(options["groups"])
    click.echo(remote.call("addprinc", AddprincRequest(name, password, **options)).message)


@admin.command()
@flags.delprinc_options
@click.pass_context
def delprinc(ctx: click.Context, force: bool, principal: str) -> None:
    """Delete PRINCIPAL and all its keys."""
    remote = _remote(ctx)
    name = remote.principal(principal)
    flags.confirm_delete(name, force)
    click.echo(remote.call("delprinc", PrincipalRequest(name)).message)


@admin.command()
@flags.modprinc_options
@click.pass_context
def modprinc(ctx: click.Context, /, principal: str, **changes: Any) -> None:
    """Change PRINCIPAL's groups, flags or limits, or unlock it."""
    remote = _remote(ctx)
    changes["add_groups"] = list(changes["add_groups"])
    changes["remove_groups"] = list(changes["remove_groups"])
    for key in ("add_delegate_to", "remove_delegate_to"):
        changes[key] = [remote.principal(n) for n in changes[key]]
    reply = remote.call("modprinc", ModprincRequest(remote.principal(principal), **changes))
    if reply.message:
        click.echo(reply.message)


@admin.command()
@flags.getprinc_options
@click.pass_context
def getprinc(ctx: click.Context, as_json: bool, principal: str) -> None:
    """Show PRINCIPAL's attributes (never its keys)."""
    remote = _remote(ctx)
    info = remote.call("getprinc", PrincipalRequest(remote.principal(principal))).info or {}
    flags.show_principal(info, as_json)


@admin.command()
@flags.listprincs_options
@click.pass_context
def listprincs(ctx: click.Context, as_json: bool) -> None:
    """List every principal of the realm."""
    names = _remote(ctx).call("listprincs", ListprincsRequest()).principals or []
    flags.show_names(names, as_json)


@admin.command()
@flags.cpw_options
@click.pass_context
def cpw(ctx: click.Context, randkey: bool, principal: str) -> None:
    """Change PRINCIPAL's password (or key): a new kvno; older keys stay for issued tickets."""
    remote = _remote(ctx)
    name = remote.principal(principal)
    password = flags.new_password(name, randkey)
    click.echo(remote.call("cpw", CpwRequest(name, password)).message)


@admin.command()
@flags.ktadd_options
@click.pass_context
def ktadd(
    ctx: click.Context, keytab_path: Path, keytab_format: str, principals: tuple[str, ...]
) -> None:
    """Add the keys of PRINCIPALS to a local keytab, keeping what it holds.

    The KDC sends keys only to an admin with the 'e' permission on each principal, and only
    over TLS or to a client on its own host (loopback).
    """
    remote = _remote(ctx)
    names = [remote.principal(text) for text in principals]
    keytab = KeytabFile.open(keytab_path, "mit" if keytab_format == "mit" else "orthrus")
    reply = remote.call("ktadd", KtaddRequest(names, keytab.format))
    if reply.keytab is None:
        raise TransportError("the KDC answered ktadd without keys")
    click.echo("\n".join(keytab.added_lines(keytab.add(reply.keytab))))


@admin.command()
@flags.rotate_options
@click.pass_context
def rotate(ctx: click.Context, principal: str) -> None:
    """Give a service (or krbtgt) a new random key version (older ones kept until unused)."""
    remote = _remote(ctx)
    click.echo(remote.call("rotate", PrincipalRequest(remote.principal(principal))).message)
