"""``orthrus-lab class init|serve|stop|dashboard|report`` (the instructor) and
``orthrus-lab join URL`` (a student): a class server, graded on the instructor's machine."""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click
import httpx
from rich.console import Console

from labs.classroom import KERBEROS_OFFSET
from labs.state import NotALab
from orthrus.errors import ConfigError
from orthrus_io.files import write_private
from orthrus_io.tls import client_ssl_context

__all__ = ["class_group", "join"]

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


def _say(message: str) -> None:
    console.print(message)


F = TypeVar("F", bound=Callable[..., Any])


def class_dir_option(func: F) -> F:
    return click.option(
        "--dir",
        "directory",
        required=True,
        metavar="DIR",
        help="The class directory (on the instructor's machine).",
    )(func)


@click.group("class")
def class_group() -> None:
    """A class server: one realm for a class, graded where students cannot write.

    \b
    orthrus-lab class init --dir DIR --roster students.csv [--host NAME]
    orthrus-lab class serve --dir DIR --host NAME --port 8900
    orthrus-lab class dashboard --dir DIR      (the grid's URL, on this machine)
    orthrus-lab class report --dir DIR --json|--csv
    orthrus-lab class stop --dir DIR
    """


@class_group.command("init")
@class_dir_option
@click.option(
    "--roster", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--host",
    "hosts",
    multiple=True,
    metavar="NAME",
    help="A name or address students reach the server by (repeatable; loopback is added).",
)
def init_command(directory: str, roster: Path, hosts: tuple[str, ...]) -> None:
    """Make the class realm: an account per student (passwords to DIR/handout.txt, 0600),
    a legacy service per student, HTTP/notes, and a TLS certificate."""
    from labs.classroom.realm import class_paths, create_class
    from labs.classroom.roster import read_roster

    create_class(class_paths(directory), read_roster(roster), hosts, _say)


@class_group.command("serve")
@class_dir_option
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to serve on.")
@click.option(
    "--port",
    default=8900,
    show_default=True,
    type=click.IntRange(1, 65535 - KERBEROS_OFFSET),
    help="The KDC's HTTPS port; notes serves on PORT+1, the KDC's Kerberos (UDP, TCP) on PORT+3.",
)
@click.option(
    "--dashboard-port",
    default=0,
    type=click.IntRange(0, 65535),
    help="The dashboard's port on 127.0.0.1 (default PORT+2).",
)
def serve_command(directory: str, host: str, port: int, dashboard_port: int) -> None:
    """Serve the class: the KDC and HTTP/notes over HTTPS, the KDC's Kerberos port for MIT's
    programs, the dashboard on loopback."""
    from labs.classroom.realm import ClassState, class_paths
    from labs.classroom.server import ServeOptions, serve_class

    paths = class_paths(directory)
    serve_class(paths, ClassState.load(paths), ServeOptions(host, port, dashboard_port), _say)


@class_group.command("stop")
@class_dir_option
def stop_command(directory: str) -> None:
    """Stop every process ``class serve`` started."""
    from labs.classroom.realm import class_paths
    from labs.classroom.server import stop_class

    stop_class(class_paths(directory), _say)


@class_group.command("dashboard")
@class_dir_option
def dashboard_command(directory: str) -> None:
    """Print the URL of the live grid (served by ``class serve`` on this machine only)."""
    from labs.classroom.realm import ClassState, class_paths
    from labs.classroom.server import dashboard_url, is_served

    paths = class_paths(directory)
    state = ClassState.load(paths)
    if not is_served(paths):
        raise NotALab(
            f"the class in {paths.root} is not served: start it with: "
            f"orthrus-lab class serve --dir {paths.root} --host HOST --port PORT"
        )
    click.echo(dashboard_url(paths, state))


@class_group.command("report")
@class_dir_option
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@click.option("--csv", "as_csv", is_flag=True, help="A CSV file: one row per student.")
@click.option("--since", metavar="TIME", help="Only evidence from TIME on (Unix time or ISO).")
def report_command(directory: str, as_json: bool, as_csv: bool, since: str | None) -> None:
    """Export the grid, graded from the class server's own records."""
    from kdc.config import load_settings
    from kdc.store import Store
    from labs.classroom.grading import grade_class
    from labs.classroom.realm import ClassState, class_paths
    from labs.cli import parse_since

    if as_json == as_csv:
        raise click.UsageError("give one of --json or --csv")
    paths = class_paths(directory)
    state = ClassState.load(paths)
    store = Store.open(load_settings(paths.kdc, env={}))
    grid = grade_class(paths, state, store, parse_since(since))
    for warning in grid.warnings:
        errors.print(f"[yellow]warning:[/] {warning}")
    click.echo(json.dumps(grid.to_json(), indent=2) if as_json else grid.to_csv(), nl=as_json)


@click.command("join")
@click.argument("url")
@click.option(
    "--ca",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The class CA certificate your instructor handed out (ca.pem).",
)
@click.option(
    "--dir",
    "directory",
    default="class",
    show_default=True,
    metavar="DIR",
    help="Where to keep the class's URL, CA and your credential cache.",
)
@click.option("--notes-url", help="The HTTP/notes service (default: the KDC's host, port + 1).")
@click.option(
    "--kerberos-port",
    type=click.IntRange(1, 65535),
    help="The class KDC's Kerberos port, UDP and TCP (default: the URL's port + 3).",
)
def join(
    url: str, ca: Path, directory: str, notes_url: str | None, kerberos_port: int | None
) -> None:
    """Join a class server at URL (its KDC): verify it with the class CA, save both, and
    write DIR/krb5.conf for MIT's kinit, klist and kvno (the class KDC's Kerberos port).

    Prints the shell settings to use it: eval "$(orthrus-lab join URL --ca ca.pem)".
    """
    from labs.lab import krb5_conf

    parts = urlsplit(url.rstrip("/"))
    if parts.scheme != "https" or not parts.hostname or parts.port is None:
        raise click.BadParameter("give the class KDC's https://HOST:PORT", param_hint="URL")
    root = Path(directory).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    saved_ca = root / "ca.pem"
    if saved_ca.resolve() != ca.resolve():
        shutil.copyfile(ca, saved_ca)
    kdc_url = f"https://{parts.netloc}"
    try:
        with httpx.Client(verify=client_ssl_context(str(saved_ca)), timeout=10) as client:
            realm_info = client.get(f"{kdc_url}/v1/realm").json()
        realm = str(realm_info["realm"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"cannot reach the class KDC at {kdc_url} with the CA {ca} "
            f"({type(exc).__name__}); check the URL and the CA file"
        ) from None
    notes = notes_url or f"https://{parts.netloc.rsplit(':', 1)[0]}:{parts.port + 1}"
    kerberos = kerberos_port or parts.port + KERBEROS_OFFSET
    joined = {
        "kdc_url": kdc_url,
        "realm": realm,
        "ca_file": str(saved_ca),
        "notes_url": notes,
        "kerberos_port": kerberos,
    }
    write_private(root / "class.json", (json.dumps(joined, indent=2) + "\n").encode())
    write_private(root / "krb5.conf", krb5_conf(realm, parts.hostname, kerberos).encode())
    settings = {
        "ORTHRUS_KDC_URL": kdc_url,
        "ORTHRUS_REALM": realm,
        "ORTHRUS_CA_FILE": str(saved_ca),
        "ORTHRUS_CCACHE": str(root / "ccache"),
        "LAB_NOTES": notes,
        "ORTHRUS_LAB_CLASS": str(root),  # a student's shell: orthrus-lab answers refuses
        # MIT's programs (exercises 16-18): the class realm's KDC, a cache of their own.
        "KRB5_CONFIG": str(root / "krb5.conf"),
        "KRB5CCNAME": f"FILE:{root / 'krb5cc'}",
    }
    for name, value in settings.items():
        click.echo(f"export {name}={_quote(value)}")
    errors.print(
        f"Joined class realm {realm} at {kdc_url} (saved in {root}; MIT's kinit uses "
        f"{root / 'krb5.conf'}: Kerberos on port {kerberos}). Log in with: orthrus kinit "
        "YOUR_NAME; your grade is what this server records."
    )


def _quote(value: str) -> str:
    return shlex.quote(value)
