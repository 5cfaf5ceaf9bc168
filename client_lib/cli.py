"""``orthrus``: the user's commands, named and laid out as MIT Kerberos's ``kinit``,
``klist``, ``kdestroy`` and ``kvno`` (never shadowing them: the console script is ``orthrus``).
"""

from __future__ import annotations

import io
import json
import logging
import signal
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import httpx

from client_lib.admin import admin
from client_lib.api import Client
from client_lib.ccache import CCACHE_FORMATS
from client_lib.options import FreshOptions, LoginOptions
from orthrus.credentials import Credential
from orthrus.errors import ConfigError, MalformedMessage, TransportError
from orthrus.otp import provisioning_uri
from orthrus.principal import Principal
from orthrus.timecheck import iso
from orthrus_io.admin_options import DURATION
from orthrus_io.cli import run
from orthrus_io.prompt import read_password

__all__ = ["main"]

#: klist -f's letters, MIT's, in the order MIT's klist(1) prints them.
_FLAG_LETTERS = {
    "forwardable": "F",
    "forwarded": "f",
    "renewable": "R",
    "initial": "I",
    "pre-authent": "A",
    "transited-policy-checked": "T",  # the KDC checked the realms crossed
    "ok-as-delegate": "O",
}


#: A clock offset larger than this (seconds) is a lab switch: only a lab realm allows it.
LAB_CLOCK_OFFSET = 60


def _client(ctx: click.Context) -> Client:
    offset = ctx.obj["clock_offset"]
    client = Client.from_environment(clock_offset=offset)
    ctx.call_on_close(client.close)
    if abs(offset) > LAB_CLOCK_OFFSET:
        _require_lab_realm(client, offset)
    return client


def _require_lab_realm(client: Client, offset: float) -> None:
    """Refuse a large ``--clock-offset`` unless the KDC says its realm is a lab realm.

    Shifting the clock past the allowed skew (RFC 4120 §1.6) is for the clock-skew lab
    exercise; elsewhere the fix for a wrong clock is NTP, not this flag.
    """
    url = client.settings.kdc_url.rstrip("/")
    if client.kerberos is not None:
        raise ConfigError(
            f"--clock-offset {offset:g}: offsets over {LAB_CLOCK_OFFSET} s are a lab switch of "
            "the Orthrus KDC's HTTP API; a krb5:// KDC does not say whether its realm is a lab"
        )
    try:
        with client.settings.http_client(url, "the KDC URL") as http:
            response = http.get(f"{url}/v1/realm")
        document = response.json() if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        raise TransportError(
            f"cannot ask the KDC at {url} whether its realm is a lab (needed for "
            f"--clock-offset {offset:g}); check ORTHRUS_KDC_URL"
        ) from None
    if not isinstance(document, dict) or document.get("lab") is not True:
        raise ConfigError(
            f"--clock-offset {offset:g}: offsets over {LAB_CLOCK_OFFSET} s are a lab switch, and "
            f"the realm at {url} is not a lab realm; set the clock right (NTP) instead"
        )


def _principal(client: Client, text: str) -> Principal:
    try:
        return client.parse_principal(text)
    except MalformedMessage as exc:
        raise click.BadParameter(exc.message, param_hint="PRINCIPAL") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--clock-offset",
    type=float,
    default=0.0,
    metavar="SECONDS",
    help=f"Shift this client's clock (clock-skew exercises; over {LAB_CLOCK_OFFSET} s only "
    "in a lab realm).",
)
@click.pass_context
def cli(ctx: click.Context, clock_offset: float) -> None:
    """Orthrus client: log in to a realm, list and use tickets.

    Configured by ORTHRUS_KDC_URL (http(s):// for an Orthrus KDC's JSON API, krb5://HOST:PORT
    or krb5+tcp://HOST:PORT for any Kerberos KDC, MIT's included), ORTHRUS_CCACHE (with a
    krb5:// URL, else KRB5CCNAME=FILE:path), ORTHRUS_KEYTAB and ORTHRUS_CONFIG.
    """
    ctx.obj = {"clock_offset": clock_offset, "client": _client}


@cli.command()
@click.option("-k", "use_keytab", is_flag=True, help="Use a key from a keytab, not a password.")
@click.option("-t", "keytab", type=click.Path(path_type=Path), help="Keytab file (with -k).")
@click.option("-l", "lifetime", type=DURATION, help="Ticket lifetime, e.g. 10h, 30m.")
@click.option(
    "-r", "renewable_life", type=DURATION, default="7d", show_default=True, help="Renewable life."
)
@click.option("-R", "renew", is_flag=True, help="Renew the ticket-granting ticket in the cache.")
@click.option(
    "-f",
    "forwardable",
    is_flag=True,
    help="Ask for a forwardable ticket, which may be forwarded to or delegated by a service "
    "the realm trusts (RFC 4120 §2.6).",
)
@click.option(
    "--ccache-format",
    type=click.Choice(CCACHE_FORMATS),
    help="Write the cache in this format: orthrus (JSON) or mit (MIT's FILE cache, version 4, "
    "which MIT's klist reads). Default: the format of the cache there, else orthrus "
    "(mit for a cache named by KRB5CCNAME).",
)
@click.option(
    "--keep",
    is_flag=True,
    help="With -k: stay in the foreground and keep the ticket fresh (renewed, else acquired "
    "anew from the keytab) until SIGTERM or SIGINT, like k5start.",
)
@click.option(
    "--otp-code",
    metavar="CODE",
    help="The one-time code (or a recovery code) if the realm asks for one; without it "
    "kinit asks after the password (from standard input when it is not a terminal).",
)
@click.argument("principal", required=False)
@click.pass_context
def kinit(ctx: click.Context, /, principal: str | None, **options: Any) -> None:
    """Log in as PRINCIPAL and store a ticket-granting ticket in the cache.

    For a long-running service: orthrus kinit --keep -k -t KEYTAB SERVICE/host
    """
    client = _client(ctx)
    if options["ccache_format"]:
        client.ccache.write_as(options["ccache_format"])
    if options["keep"] and not options["use_keytab"]:
        raise click.UsageError(
            "--keep logs in again from a keytab: orthrus kinit --keep -k -t KEYTAB PRINCIPAL"
        )
    if options["renew"]:
        tgt = client.renew()
        click.echo(f"Ticket for {tgt.client} renewed until {_local(tgt.endtime)}")
        return
    if principal is None:
        raise click.UsageError("name the principal to log in as: orthrus kinit alice@REALM")
    name = _principal(client, principal)
    login = LoginOptions(
        options["lifetime"],
        options["renewable_life"],
        options["forwardable"],
        otp_code=_otp_source(name, options["otp_code"]),
    )
    if options["use_keytab"]:
        keytab = options["keytab"] or client.settings.keytab
        if not keytab:
            raise ConfigError("-k needs a keytab: pass -t KEYTAB or set ORTHRUS_KEYTAB")
        if options["keep"]:
            _keep_fresh(client, name, Path(keytab), FreshOptions(login))
            return
        client.login_with_keytab(name, Path(keytab), login)
    else:
        client.login(name, read_password(f"Password for {name}"), login)


def _otp_source(name: Principal, given: str | None) -> Callable[[], str]:
    """Where the one-time code comes from: ``--otp-code``, else a prompt after the password
    (one line of standard input when it is not a terminal, as the password is)."""
    if given is not None:
        return lambda: given
    return lambda: read_password(f"One-time code for {name} (or a recovery code)")


class _SignalStop:
    """Stops ``kinit --keep`` on SIGTERM or SIGINT. The signals are blocked and waited for
    between refreshes (never handled in the middle of one), so a signal arriving during a
    refresh ends the loop once the refresh is written."""

    SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})

    def __init__(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, self.SIGNALS)
        self.received: signal.Signals | None = None

    def wait(self, timeout: float | None = None) -> bool:
        info: signal.struct_siginfo | None
        if timeout is None:
            info = signal.sigwaitinfo(self.SIGNALS)
        else:
            info = signal.sigtimedwait(self.SIGNALS, timeout)
        if info is None:
            return False
        self.received = signal.Signals(info.si_signo)
        return True


def _keep_fresh(client: Client, principal: Principal, keytab: Path, options: FreshOptions) -> None:
    """``kinit --keep``: each refresh logged to stderr, a clean exit on SIGTERM/SIGINT."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("orthrus: %(message)s"))
    log = logging.getLogger("client_lib.fresh")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    stop = _SignalStop()
    client.keep_fresh(keytab=keytab, principal=principal, options=options, stop=stop)
    name = stop.received.name if stop.received else "a signal"
    click.echo(f"orthrus: stopped on {name}; the cache keeps its last ticket", err=True)


@cli.command()
@click.argument("principal", required=False)
@click.pass_context
def kpasswd(ctx: click.Context, principal: str | None) -> None:
    """Change PRINCIPAL's password (default: the cache's principal)."""
    client = _client(ctx)
    name = _principal(client, principal) if principal else client.ccache.principal()
    old = read_password(f"Password for {name}")
    new = read_password("Enter new password", confirm=True)
    result = client.change_password(name, old, new)
    click.echo(f"Password changed (kvno {result.kvno}).")


def _local(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%m/%d/%Y %H:%M:%S")


def _ticket_json(credential: Credential) -> dict[str, Any]:
    return {
        "server": str(credential.server),
        "starttime": iso(credential.starttime),
        "endtime": iso(credential.endtime),
        "renew_till": iso(credential.renew_till) if credential.renew_till else None,
        "flags": list(credential.flags),
        "kvno": credential.kvno,
    }


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("-f", "show_flags", is_flag=True, help="Show ticket flags.")
@click.option("-v", "verbose", is_flag=True, help="Show each ticket's key version number (kvno).")
@click.pass_context
def klist(ctx: click.Context, as_json: bool, show_flags: bool, verbose: bool) -> None:
    """List the tickets in the credential cache."""
    client = _client(ctx)
    principal = client.ccache.principal()
    credentials = client.ccache.credentials()
    if as_json:
        tickets = [_ticket_json(c) for c in credentials]
        document = {
            "cache": str(client.ccache.path),
            "principal": str(principal),
            "tickets": tickets,
        }
        click.echo(json.dumps(document, indent=2))
        return
    lines = [
        f"Ticket cache: FILE:{client.ccache.path}",
        f"Default principal: {principal}",
        "",
        "Valid starting       Expires              Service principal",
    ]
    now = client.now()
    for credential in credentials:
        expired = "  (expired)" if now >= credential.endtime else ""
        lines.append(
            f"{_local(credential.starttime)}  {_local(credential.endtime)}  "
            f"{credential.server}{expired}"
        )
        if credential.renew_till:
            lines.append(f"\trenew until {_local(credential.renew_till)}")
        if show_flags:
            letters = "".join(c for f, c in _FLAG_LETTERS.items() if f in credential.flags)
            lines.append(f"\tFlags: {letters}")
        if verbose:
            lines.append(f"\tTicket kvno: {credential.kvno}")
    click.echo("\n".join(lines))


@cli.command()
@click.pass_context
def kdestroy(ctx: click.Context) -> None:
    """Destroy the credential cache (overwritten, then deleted)."""
    client = _client(ctx)
    if not client.ccache.destroy():
        raise ConfigError(f"no credentials cache found (filename: {client.ccache.path})")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.argument("services", nargs=-1, required=True)
@click.pass_context
def kvno(ctx: click.Context, as_json: bool, services: tuple[str, ...]) -> None:
    """Get (and cache) a ticket for each SERVICE and print its key version number."""
    client = _client(ctx)
    results = []
    for text in services:
        credential = client.get_service_ticket(_principal(client, text))
        results.append({"service": str(credential.server), "kvno": credential.kvno})
        if not as_json:
            click.echo(f"{credential.server}: kvno = {credential.kvno}")
    if as_json:
        click.echo(json.dumps(results))


@cli.command()
@click.option("--mutual", is_flag=True, help="Ask the service for mutual authentication.")
@click.option("--method", help="Bind the token to this HTTP method (with --path).")
@click.option("--path", help="Bind the token to this request target, e.g. /whoami.")
@click.argument("service")
@click.pass_context
def token(
    ctx: click.Context, mutual: bool, method: str | None, path: str | None, service: str
) -> None:
    """Print a fresh one-use AP-REQ for SERVICE, for `Authorization: Ticket <token>`."""
    from client_lib.http_auth import TicketAuthenticator  # requests and PyJWT: not for klist

    client = _client(ctx)
    if (method is None) != (path is None):
        raise click.UsageError("--method and --path go together")
    authenticator = TicketAuthenticator(
        client, _principal(client, service), mutual=mutual, bind=method is not None
    )
    url = f"http://unused{path or '/'}"
    header, _ = authenticator.authorization(method or "GET", url, None)
    click.echo(header.partition(" ")[2])


@cli.command()
@click.option(
    "-X", "--request", "method", default=None, help="HTTP method (default GET, or POST with -d)."
)
@click.option("-d", "--data", help="Request body (JSON is sent as application/json).")
@click.option("-H", "--header", "headers", multiple=True, metavar="'NAME: VALUE'")
@click.option("--mutual", is_flag=True, help="Require and check the service's AP reply.")
@click.option(
    "--negotiate",
    is_flag=True,
    help="Answer a 'WWW-Authenticate: Negotiate' challenge (SPNEGO, RFC 4559) rather than "
    "'Ticket' (the default with a krb5:// KDC).",
)
@click.option(
    "--encrypt", is_flag=True, help="Seal the body (-d) and the reply under a fresh subkey."
)
@click.option("--service", help="Service principal (default HTTP/<host>@<realm>).")
@click.option("-i", "--include", is_flag=True, help="Print the status line and headers too.")
@click.option(
    "--forward",
    is_flag=True,
    help="Hand the service a forwarded TGT if the realm trusts it with one (its ticket is "
    "OK-AS-DELEGATE), like curl --delegation policy; needs 'orthrus kinit -f'.",
)
@click.argument("url")
@click.pass_context
def fetch(ctx: click.Context, /, url: str, **options: Any) -> None:
    """Fetch URL like curl, answering the service's Ticket (or Negotiate) challenge."""
    from client_lib.http_auth import (
        HttpxTicketAuth,
        PlainRequest,
        TicketAuthenticator,
        fetch_sealed,
        forwarding_headers,
    )

    client = _client(ctx)
    service = _principal(client, options["service"]) if options["service"] else None
    encrypt = options["encrypt"]
    if encrypt and options["negotiate"]:
        raise click.UsageError("--encrypt seals with the Ticket scheme: drop --negotiate")
    authenticator = TicketAuthenticator(
        client, service, mutual=options["mutual"] or encrypt, negotiate=options["negotiate"]
    )
    auth = HttpxTicketAuth(authenticator)
    data = options["data"]
    if encrypt and data is None:
        raise click.UsageError("--encrypt seals the request body: give it with -d DATA")
    method = (options["method"] or ("POST" if data is not None else "GET")).upper()
    headers = dict(_header(h) for h in options["headers"])
    if data is not None and "content-type" not in {k.lower() for k in headers}:
        headers["Content-Type"] = "application/json" if _is_json(data) else "text/plain"
    if options["forward"]:
        target = authenticator.service_for(url, None)
        forwarded = forwarding_headers(client, client.get_service_ticket(target))
        if not forwarded:
            click.echo(
                f"orthrus: not forwarding the TGT: the realm does not trust {target} with it "
                "(its ticket is not OK-AS-DELEGATE)",
                err=True,
            )
        headers.update(forwarded)
    try:
        with client.settings.http_client(url, "the URL") as http:
            if encrypt:
                plain = PlainRequest(method, url, data.encode(), headers)
                sealed = fetch_sealed(http, authenticator, plain)
                response, text = sealed.response, sealed.body.decode("utf-8", "replace")
            else:
                response = http.request(method, url, content=data, headers=headers, auth=auth)
                text = response.text
    except httpx.HTTPError as exc:
        raise TransportError(f"cannot fetch {url}: {exc}") from None
    if options["include"]:
        click.echo(f"HTTP/1.1 {response.status_code} {response.reason_phrase}")
        click.echo("".join(f"{k}: {v}\n" for k, v in response.headers.items()))
    if options["mutual"] and (auth.last_reply is not None or encrypt) and response.is_success:
        click.echo("orthrus: mutual authentication: the service proved its identity", err=True)
    if encrypt and response.is_success:
        click.echo(
            "orthrus: the request and the reply travelled sealed under a fresh subkey", err=True
        )
    click.echo(text, nl=not text.endswith("\n"))
    if response.status_code >= 400:
        click.echo(
            f"orthrus: HTTP {response.status_code} {response.reason_phrase}: {url}", err=True
        )
        ctx.exit(1 if response.status_code < 500 else 2)


def _header(text: str) -> tuple[str, str]:
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        raise click.BadParameter(f"{text!r} is not 'Name: value'", param_hint="-H")
    return name.strip(), value.strip()


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


cli.add_command(admin)


def main() -> None:
    """Console script entry point."""
    run(cli, "orthrus")


@cli.group()
def otp() -> None:
    """Two-factor login with an authenticator app (TOTP, RFC 6238)."""


@otp.command()
@click.option(
    "--otp-code",
    metavar="CODE",
    help="Already enrolled: the current one-time code (or a recovery code), else asked.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (no QR code).")
@click.argument("principal", required=False)
@click.pass_context
def enroll(ctx: click.Context, principal: str | None, otp_code: str | None, as_json: bool) -> None:
    """Enroll an authenticator app for PRINCIPAL (default: the cache's principal).

    Prints the otpauth:// URI and its QR code to scan, and single-use recovery codes to keep
    somewhere safe. Enrolling again replaces the app and the recovery codes.
    """
    client = _client(ctx)
    name = _principal(client, principal) if principal else client.ccache.principal()
    password = read_password(f"Password for {name}")
    result = client.enroll_otp(name, password, LoginOptions(otp_code=_otp_source(name, otp_code)))
    uri = provisioning_uri(result.secret, result.principal)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "principal": str(result.principal),
                    "uri": uri,
                    "recovery_codes": result.recovery_codes,
                }
            )
        )
        return
    click.echo(f"Scan this QR code with your authenticator app, or enter the URI:\n{uri}\n")
    import segno  # only this command draws a QR code: kinit does not pay for the import

    buffer = io.StringIO()
    segno.make(uri, error="m").terminal(out=buffer, compact=True)
    click.echo(buffer.getvalue())
    click.echo("Recovery codes (each works once instead of a code; keep them safe):")
    for code in result.recovery_codes:
        click.echo(f"  {code}")
