"""The flags of the principal administration commands, defined once for ``orthrus-kdc``
(on the KDC's database) and ``orthrus admin`` (over the admin API): ``addprinc``,
``delprinc``, ``modprinc``, ``getprinc``, ``listprincs``, ``cpw``, ``ktadd``, ``rotate``,
named as MIT's ``kadmin`` names them.

Each ``*_options`` decorator adds a command's arguments and options; the two programs
differ only in what the command body does with them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from orthrus.duration import parse_duration
from orthrus.principal import Principal
from orthrus_io.principal_report import getprinc_text
from orthrus_io.prompt import read_password

__all__ = [
    "ALLOW_SVR",
    "DURATION",
    "addprinc_options",
    "confirm_delete",
    "cpw_options",
    "delprinc_options",
    "getprinc_options",
    "ktadd_options",
    "listprincs_options",
    "modprinc_options",
    "new_password",
    "rotate_options",
    "show_names",
    "show_principal",
]

F = TypeVar("F", bound=Callable[..., Any])


class _Duration(click.ParamType[int]):
    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


#: A duration flag's type: ``10h``, ``30m``, ``7d`` or seconds.
DURATION = _Duration()

#: What ``--allow-svr`` does (MIT's ``allow_svr``), for addprinc and modprinc.
ALLOW_SVR = (
    "Let the KDC issue tickets for this principal although its key comes from a password "
    "(anyone may then ask for one and guess the password offline). Random keys need none."
)


def _apply(function: F, decorators: list[Callable[[Any], Any]]) -> F:
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def addprinc_options(function: F) -> F:
    """``addprinc [--randkey] [--group G]... [flags] PRINCIPAL``."""
    return _apply(
        function,
        [
            click.option(
                "--randkey", is_flag=True, help="A random key (services) instead of a password."
            ),
            click.option(
                "--group", "groups", multiple=True, metavar="G", help="Add to group G (repeat)."
            ),
            click.option(
                "--requires-preauth/--no-requires-preauth", default=True, show_default=True
            ),
            click.option(
                "--allow-svr/--no-allow-svr", default=False, show_default=True, help=ALLOW_SVR
            ),
            click.option(
                "--maxlife",
                "max_life",
                type=DURATION,
                help="Maximum ticket life for this principal.",
            ),
            click.option(
                "--maxrenewlife",
                "max_renewable_life",
                type=DURATION,
                help="Maximum renewable life.",
            ),
            click.argument("principal"),
        ],
    )


def delprinc_options(function: F) -> F:
    """``delprinc [--force] PRINCIPAL``."""
    return _apply(
        function,
        [
            click.option("--force", is_flag=True, help="Do not ask for confirmation."),
            click.argument("principal"),
        ],
    )


def modprinc_options(function: F) -> F:
    """``modprinc [changes] [--unlock] PRINCIPAL``."""
    return _apply(
        function,
        [
            click.option("--add-group", "add_groups", multiple=True, metavar="G"),
            click.option("--remove-group", "remove_groups", multiple=True, metavar="G"),
            click.option("--requires-preauth/--no-requires-preauth", default=None),
            click.option("--allow-tickets/--disallow-tickets", default=None),
            click.option("--allow-svr/--no-allow-svr", default=None, help=ALLOW_SVR),
            click.option("--maxlife", "max_life", type=DURATION),
            click.option("--maxrenewlife", "max_renewable_life", type=DURATION),
            click.option(
                "--require-otp/--no-require-otp",
                "requires_otp",
                default=None,
                help="Logins need a one-time code (TOTP) besides the password; until the "
                "user enrolls (orthrus otp enroll) the KDC gives only the ticket that enrolls.",
            ),
            click.option(
                "--allow-forwardable/--disallow-forwardable",
                default=None,
                help="Whether this principal's tickets may be forwardable (kinit -f), hence "
                "forwarded or delegated (MIT's allow_forwardable; allowed unless disallowed).",
            ),
            click.option(
                "--ok-as-delegate/--no-ok-as-delegate",
                default=None,
                help="Trust this service with clients' forwarded TGTs: its tickets carry "
                "OK-AS-DELEGATE and clients forward only to such services (unconstrained "
                "delegation).",
            ),
            click.option(
                "--allowed-to-delegate-to",
                "add_delegate_to",
                multiple=True,
                metavar="SERVICE",
                help="Let this service ask for tickets to SERVICE in its clients' names "
                "(constrained delegation, S4U2Proxy). Repeat for several.",
            ),
            click.option(
                "--no-allowed-to-delegate-to",
                "remove_delegate_to",
                multiple=True,
                metavar="SERVICE",
                help="Take SERVICE back from the services this one may delegate to.",
            ),
            click.option(
                "--unlock", is_flag=True, help="Clear failed-login counters and any lockout."
            ),
            click.argument("principal"),
        ],
    )


def _json_option(help_text: str) -> Callable[[Any], Any]:
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def getprinc_options(function: F) -> F:
    """``getprinc [--json] PRINCIPAL``."""
    return _apply(function, [_json_option("Machine-readable output."), click.argument("principal")])


def listprincs_options(function: F) -> F:
    """``listprincs [--json]``."""
    return _apply(function, [_json_option("A JSON list.")])


def cpw_options(function: F) -> F:
    """``cpw [--randkey] PRINCIPAL``."""
    return _apply(
        function,
        [
            click.option("--randkey", is_flag=True, help="A new random key instead of a password."),
            click.argument("principal"),
        ],
    )


def ktadd_options(function: F) -> F:
    """``ktadd -k KEYTAB [--format orthrus|mit] PRINCIPAL...``."""
    return _apply(
        function,
        [
            click.option(
                "-k",
                "--keytab",
                "keytab_path",
                required=True,
                type=click.Path(path_type=Path),
                help="Keytab file to add to (created with mode 0600).",
            ),
            click.option(
                "--format",
                "keytab_format",
                type=click.Choice(["orthrus", "mit"]),
                default="orthrus",
                show_default=True,
                help="orthrus: the JSON keytab of Orthrus services (the Ticket scheme). mit: "
                "MIT's keytab (version 0x502) of the Kerberos keys, for MIT's kinit -k, "
                "kvno -k, klist -k and Kerberos services.",
            ),
            click.argument("principals", nargs=-1, required=True),
        ],
    )


def rotate_options(function: F) -> F:
    """``rotate PRINCIPAL``."""
    return _apply(function, [click.argument("principal")])


# What the commands of both programs do alike around the operation itself.


def new_password(name: Principal, randkey: bool) -> str | None:
    """The new password of ``addprinc``/``cpw`` (asked twice), or None for ``--randkey``."""
    return None if randkey else read_password(f'Enter password for principal "{name}"', True)


def confirm_delete(name: Principal, force: bool) -> None:
    """``delprinc``'s question (as MIT's), unless ``--force``; off a terminal, --force."""
    if force:
        return
    if not sys.stdin.isatty():
        raise click.UsageError("not a terminal: pass --force to delete without confirmation")
    click.confirm(f'Are you sure you want to delete the principal "{name}"?', abort=True)


def show_principal(info: dict[str, Any], as_json: bool) -> None:
    """``getprinc``'s output: MIT's layout, or the description as JSON."""
    click.echo(json.dumps(info, indent=2) if as_json else getprinc_text(info))


def show_names(names: list[str], as_json: bool) -> None:
    """``listprincs``'s output: one name a line, or a JSON list."""
    click.echo(json.dumps(names) if as_json else "\n".join(names))
