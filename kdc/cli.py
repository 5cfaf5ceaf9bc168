"""``orthrus-kdc``: create a realm, manage its principals, export keytabs, serve it.

Command names and their output follow MIT Kerberos's ``kdb5_util``/``kadmin.local``.
"""

from __future__ import annotations

import getpass
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kdc.config import (
    CONFIG_NAME,
    DEFAULT_ENCTYPES,
    DEFAULT_KERBEROS_ITERATIONS,
    MAX_KERBEROS_ITERATIONS,
    MIN_KERBEROS_ITERATIONS,
    KDCSettings,
    kdc_dir,
    load_settings,
)
from orthrus.errors import ConfigError, MalformedMessage
from orthrus.kadmin import admin_service
from orthrus.kpasswd import changepw_service
from orthrus.principal import Principal, krbtgt
from orthrus.pwkdf import (
    DEFAULT_ITERATIONS,
    DEFAULT_LANES,
    DEFAULT_MEMORY_KIB,
    MAX_ITERATIONS,
    MAX_LANES,
    MAX_MEMORY_KIB,
)
from orthrus_io.admin_options import (
    DURATION,
    addprinc_options,
    confirm_delete,
    cpw_options,
    delprinc_options,
    getprinc_options,
    ktadd_options,
    listprincs_options,
    modprinc_options,
    new_password,
    rotate_options,
    show_names,
    show_principal,
)
from orthrus_io.cli import run
from orthrus_io.files import read_private, write_private
from orthrus_io.keytab_files import KeytabFile
from orthrus_io.prompt import read_password

# The database, server, Redis and audit-log libraries are imported by the commands that use
# them, not here: `--help` and a getprinc should not pay for the server, Flask or the audit log.
if TYPE_CHECKING:
    from kdc.store import Store
    from kdc.trust import Direction

__all__ = ["main"]


def _directory(ctx: click.Context) -> Path:
    return kdc_dir(ctx.obj["dir"])


def _store(ctx: click.Context) -> Store:
    from kdc.store import Store

    return Store.open(load_settings(_directory(ctx)))


def _audit(settings: KDCSettings, action: str, target: object = None) -> None:
    """One audit line per administrative action: who (the OS user), what, on which principal."""
    from kdc.admin_audit import AdminAction, audit_admin

    audit_admin(settings, AdminAction(getpass.getuser(), action, target))


def _principal(store: Store, text: str) -> Principal:
    try:
        return Principal.parse(text, default_realm=store.settings.realm)
    except MalformedMessage as exc:
        raise click.BadParameter(exc.message, param_hint="PRINCIPAL") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--dir",
    "directory",
    metavar="DIR",
    help="KDC directory (kdc.toml, database, master.key); default $ORTHRUS_KDC_DIR.",
)
@click.pass_context
def cli(ctx: click.Context, directory: str | None) -> None:
    """Administer an Orthrus realm: its principals, keys and the KDC server."""
    ctx.obj = {"dir": directory}


@cli.command()
@click.option("--realm", "-r", required=True, help="Realm name, upper case (EXAMPLE.TEST).")
@click.option("--db-url", help="SQLAlchemy database URL; default SQLite in the KDC directory.")
@click.option("--max-life", type=DURATION, default="10h", show_default=True)
@click.option("--max-renewable-life", type=DURATION, default="7d", show_default=True)
@click.option(
    "--kdf-memory-kib",
    type=click.IntRange(DEFAULT_MEMORY_KIB, MAX_MEMORY_KIB),
    default=DEFAULT_MEMORY_KIB,
    show_default=True,
    help="Argon2id memory per password key derivation (clients refuse less).",
)
@click.option(
    "--kdf-iterations",
    type=click.IntRange(DEFAULT_ITERATIONS, MAX_ITERATIONS),
    default=DEFAULT_ITERATIONS,
    show_default=True,
    help="Argon2id passes (clients refuse fewer).",
)
@click.option(
    "--kdf-lanes",
    type=click.IntRange(1, MAX_LANES),
    default=DEFAULT_LANES,
    show_default=True,
    help="Argon2id lanes (parallelism).",
)
@click.option(
    "--enctypes",
    default=",".join(DEFAULT_ENCTYPES),
    show_default=True,
    help="Encryption types of the Kerberos keys (for MIT and Heimdal clients), strongest first.",
)
@click.option(
    "--kerberos-iterations",
    type=click.IntRange(MIN_KERBEROS_ITERATIONS, MAX_KERBEROS_ITERATIONS),
    default=DEFAULT_KERBEROS_ITERATIONS,
    show_default=True,
    help="PBKDF2 iterations of Kerberos password keys (sent to clients in s2kparams).",
)
@click.option(
    "--master-key",
    "master_key_file",
    type=click.Path(path_type=Path),
    help="Adopt this existing master key stash (to restore a dump on a new host).",
)
@click.pass_context
def init(ctx: click.Context, /, realm: str, db_url: str | None, **options: Any) -> None:
    """Create a realm: kdc.toml, master key stash, database and krbtgt/REALM."""
    from kdc.masterkey import MasterKey
    from kdc.store import NewPrincipal, Store, make_engine, ping

    directory = _directory(ctx)
    try:
        tgs = krbtgt(realm)
    except MalformedMessage as exc:
        raise click.BadParameter(exc.message, param_hint="--realm") from None
    if (directory / CONFIG_NAME).exists():
        raise ConfigError(f"{directory} already holds a KDC ({CONFIG_NAME}); not touching it")
    settings = KDCSettings(
        realm=realm,
        database_url=db_url or f"sqlite:///{directory / 'principal.db'}",
        directory=str(directory),
        max_life=options["max_life"],
        max_renewable_life=options["max_renewable_life"],
        kdf_memory_kib=options["kdf_memory_kib"],
        kdf_iterations=options["kdf_iterations"],
        kdf_lanes=options["kdf_lanes"],
        enctypes=tuple(n.strip() for n in options["enctypes"].split(",") if n.strip()),
        kerberos_iterations=options["kerberos_iterations"],
    )
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = make_engine(settings.database_url)
    ping(engine)
    if options["master_key_file"]:
        master = MasterKey.load(options["master_key_file"])
        master.stash(settings.master_key_path)
    else:
        master = MasterKey.create(settings.master_key_path)
    store = Store(settings, master, engine)
    store.migrate()
    store.add_principal(NewPrincipal(tgs))
    store.add_principal(NewPrincipal(changepw_service(realm)))
    store.create_signing_key()
    acl = _admin_service_and_acl(store)
    write_private(directory / CONFIG_NAME, settings.to_toml().encode())
    _audit(settings, "init", tgs)
    click.echo(f"Realm {realm} created in {directory}")
    click.echo(f"  master key stash: {settings.master_key_path} (mode 0600; back it up apart)")
    click.echo(f"  admin ACL: {acl} (*/admin@{realm} may do everything; edit it to grant more)")
    click.echo("Next: orthrus-kdc addprinc USER, then orthrus-kdc serve")


@cli.command()
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Bring an existing realm's database schema up to this version (safe to repeat)."""
    store = _store(ctx)
    store.migrate()
    _admin_service_and_acl(store)
    _audit(store.settings, "upgrade")
    click.echo("Database schema is up to date.")


def _admin_service_and_acl(store: Store) -> Path:
    """What remote administration needs, made if missing (as MIT's ``kdb5_util create``):
    ``kadmin/admin@REALM`` with a random key, and the ACL file granting ``*/admin@REALM``
    everything (as MIT's packaged ``kadm5.acl``). Returns the ACL file's path."""
    from kdc.admin_acl import write_default_acl
    from kdc.store import NewPrincipal

    service = admin_service(store.settings.realm)
    if str(service) not in store.list_names():
        store.add_principal(NewPrincipal(service))
        _audit(store.settings, "addprinc", service)
    return write_default_acl(store.settings)


@cli.command()
@addprinc_options
@click.pass_context
def addprinc(ctx: click.Context, /, principal: str, randkey: bool, **options: Any) -> None:
    """Add PRINCIPAL, with a password (asked twice) or --randkey."""
    from kdc.store import NewPrincipal

    store = _store(ctx)
    name = _principal(store, principal)
    password = new_password(name, randkey)
    store.add_principal(NewPrincipal(name, password, **options))
    _audit(store.settings, "addprinc", name)
    click.echo(f'Principal "{name}" created.')


@cli.command()
@delprinc_options
@click.pass_context
def delprinc(ctx: click.Context, force: bool, principal: str) -> None:
    """Delete PRINCIPAL and all its keys."""
    store = _store(ctx)
    name = _principal(store, principal)
    confirm_delete(name, force)
    store.delete_principal(name)
    _audit(store.settings, "delprinc", name)
    click.echo(f'Principal "{name}" deleted.')


@cli.command()
@modprinc_options
@click.pass_context
def modprinc(ctx: click.Context, /, principal: str, unlock: bool, **changes: Any) -> None:
    """Change PRINCIPAL's groups, flags or limits, or unlock it."""
    from kdc.store import PrincipalChanges

    store = _store(ctx)
    name = _principal(store, principal)
    if unlock:
        from kdc.backends import make_backends  # and Redis's client: only to unlock
        from kdc.lockout import RedisLockout

        guard = make_backends(store.settings).guard
        if not isinstance(guard, RedisLockout):
            raise ConfigError(
                "lockout counters live in each KDC process (no redis_url): they clear when the "
                "lockout ends or the KDC restarts; set ORTHRUS_REDIS_URL to share and unlock them"
            )
        guard.unlock(name)
        _audit(store.settings, "unlock", name)
        click.echo(f'Principal "{name}" unlocked.')
    for key in ("add_delegate_to", "remove_delegate_to"):
        changes[key] = tuple(_principal(store, n) for n in changes[key])
    if any(value not in (None, ()) for value in changes.values()):
        store.modify(name, PrincipalChanges(**changes))
        _audit(store.settings, "modprinc", name)
        click.echo(f'Principal "{name}" modified.')


@cli.command()
@getprinc_options
@click.pass_context
def getprinc(ctx: click.Context, as_json: bool, principal: str) -> None:
    """Show PRINCIPAL's attributes (never its keys)."""
    store = _store(ctx)
    info = store.describe(_principal(store, principal))
    show_principal(info, as_json)


@cli.command()
@listprincs_options
@click.pass_context
def listprincs(ctx: click.Context, as_json: bool) -> None:
    """List every principal of the realm."""
    names = _store(ctx).list_names()
    show_names(names, as_json)


@cli.command()
@cpw_options
@click.pass_context
def cpw(ctx: click.Context, randkey: bool, principal: str) -> None:
    """Change PRINCIPAL's password (or key): a new kvno; older keys stay for issued tickets."""
    store = _store(ctx)
    name = _principal(store, principal)
    password = new_password(name, randkey)
    kvno = store.change_key(name, password)
    _audit(store.settings, "cpw", name)
    click.echo(f'Key for "{name}" changed (kvno {kvno}).')


@cli.command()
@ktadd_options
@click.pass_context
def ktadd(
    ctx: click.Context, keytab_path: Path, keytab_format: str, principals: tuple[str, ...]
) -> None:
    """Add the keys of PRINCIPALS to a keytab, keeping what it holds.

    The Orthrus format gets every kvno still in use; the MIT format, as MIT's kadmin ktadd,
    the current kvno in every enctype, added after the entries already there. Unlike MIT's
    default this does not change the keys: use cpw --randkey for that.
    """
    from kdc.keytab_export import export_keys

    store = _store(ctx)
    names = [_principal(store, text) for text in principals]
    keytab = KeytabFile.open(keytab_path, "mit" if keytab_format == "mit" else "orthrus")
    added = keytab.add(export_keys(store, names, keytab.format, int(time.time())))
    click.echo("\n".join(keytab.added_lines(added)))
    for name in names:
        _audit(store.settings, "ktadd", name)


@cli.command()
@rotate_options
@click.pass_context
def rotate(ctx: click.Context, principal: str) -> None:
    """Give a service (or krbtgt) a new random key version.

    Tickets already issued keep working: older versions stay until every ticket under them
    has expired, then are pruned. Run ktadd afterwards so the service gets the new key.
    """
    store = _store(ctx)
    name = _principal(store, principal)
    kvno = store.rotate(name, datetime.now(UTC))
    _audit(store.settings, "rotate", name)
    click.echo(f'Key for "{name}" rotated to kvno {kvno}; older versions kept until unused.')


@cli.command()
@click.pass_context
def prune(ctx: click.Context) -> None:
    """Delete superseded key versions no ticket can still be under (safe to run from cron)."""
    store = _store(ctx)
    for name, kvno in store.prune_keys(datetime.now(UTC)):
        _audit(store.settings, f"prune kvno {kvno}", name)
        click.echo(f"Pruned kvno {kvno} of {name}")


@cli.command("rotate-master-key")
@click.pass_context
def rotate_master_key(ctx: click.Context) -> None:
    """Re-encrypt every stored key under a new master key (atomic; back up the new stash)."""
    store = _store(ctx)
    kvno = store.rotate_master_key()
    _audit(store.settings, "rotate-master-key")
    click.echo(f"Master key rotated to version {kvno}; every key re-encrypted.")


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_context
def dump(ctx: click.Context, file: Path) -> None:
    """Write the whole realm to FILE (keys stay sealed under the master key)."""
    from kdc.dump import dump_realm

    store = _store(ctx)
    write_private(file, dump_realm(store))
    _audit(store.settings, "dump")
    click.echo(f"Realm dumped to {file}")


@cli.command()
@click.option("--force", is_flag=True, help="Replace a realm that already has principals.")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.pass_context
def load(ctx: click.Context, force: bool, file: Path) -> None:
    """Replace the realm's database with the dump in FILE (checked before anything changes)."""
    from kdc.dump import load_realm

    store = _store(ctx)
    # What init creates (krbtgt, kadmin/changepw, kadmin/admin) does not make a realm non-empty.
    realm = store.settings.realm
    made_by_init = {str(changepw_service(realm)), str(admin_service(realm))}
    existing = [
        n for n in store.list_names() if not Principal.parse(n).is_tgs and n not in made_by_init
    ]
    if existing and not force:
        raise ConfigError(
            f"the realm already has {len(existing)} principal(s); pass --force to replace them"
        )
    count = load_realm(store, read_private(file, "dump"))
    _audit(store.settings, "load")
    click.echo(f"Loaded {count} principals from {file}")


@cli.group()
def trust() -> None:
    """Cross-realm trust: keys shared with another realm's KDC (RFC 4120 §1.2)."""


_DIRECTION = click.Choice(["outgoing", "incoming", "both"])


@trust.command("add")
@click.argument("realm")
@click.option(
    "--direction",
    type=_DIRECTION,
    required=True,
    help="outgoing: our users reach REALM's services (krbtgt/REALM@OURS); incoming: "
    "REALM's users reach ours (krbtgt/OURS@REALM); both.",
)
@click.option(
    "--export",
    "export_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Make the keys and write them, sealed, to this file for REALM's KDC.",
)
@click.option(
    "--import",
    "import_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Store the keys REALM's KDC exported (asks for its one-time code).",
)
@click.option("--code", help="The one-time code of --import (default: asked for).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def trust_add(
    ctx: click.Context,
    /,
    realm: str,
    direction: Direction,
    export_file: Path | None,
    import_file: Path | None,
    code: str | None,
    as_json: bool,
) -> None:
    """Set up a trust with REALM: one KDC makes the keys (--export FILE, printing a one-time
    code), the other stores them (--import FILE, with the code and the opposite direction)."""
    from kdc.trust import export_trust, import_trust

    if (export_file is None) == (import_file is None):
        raise click.UsageError("give --export FILE (make the keys) or --import FILE (load them)")
    store = _store(ctx)
    if export_file is not None:
        transfer = export_trust(store, realm, direction)
        write_private(export_file, transfer.sealed)
        names = [str(p) for p in transfer.principals]
        for principal in transfer.principals:
            _audit(store.settings, "trust-add", principal)
        if as_json:
            click.echo(
                json.dumps({"principals": names, "file": str(export_file), "code": transfer.code})
            )
            return
        click.echo(f"Trust with {realm}: created {', '.join(names)}.")
        click.echo(f"The keys are in {export_file}, sealed under this one-time code:")
        click.echo(f"  {transfer.code}")
        opposite = {"outgoing": "incoming", "incoming": "outgoing", "both": "both"}[direction]
        click.echo(
            f"On {realm}'s KDC run: orthrus-kdc trust add {store.settings.realm} "
            f"--direction {opposite} --import FILE\n"
            "and give the code there (carry it apart from the file); then delete the file."
        )
        return
    assert import_file is not None
    given = code if code is not None else read_password(f"One-time code of {realm}'s trust file")
    principals = import_trust(
        store, realm, direction, read_private(import_file, "trust file"), given
    )
    for name in principals:
        _audit(store.settings, "trust-add", name)
    if as_json:
        click.echo(json.dumps({"principals": [str(p) for p in principals]}))
        return
    click.echo(f"Trust with {realm}: stored {', '.join(str(p) for p in principals)}.")


@trust.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def trust_list(ctx: click.Context, as_json: bool) -> None:
    """The realm's trust keys, with their direction."""
    store = _store(ctx)
    realm = store.settings.realm
    trusts = []
    for text in store.list_names():
        name = Principal.parse(text)
        if name.is_tgs and name.components[1] != name.realm:
            outgoing = name.realm == realm
            peer = name.components[1] if outgoing else name.realm
            trusts.append(
                {
                    "principal": text,
                    "realm": peer,
                    "direction": "outgoing" if outgoing else "incoming",
                }
            )
    if as_json:
        click.echo(json.dumps(trusts, indent=2))
        return
    for item in trusts:
        click.echo(f"{item['principal']}\t{item['direction']}\t{item['realm']}")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8088, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes, each with its event loop; one that dies is replaced.",
)
@click.option(
    "--threads",
    default=4,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Threads per worker for what Flask answers (administration, metrics).",
)
@click.option("--access-log", is_flag=True, help="Log every request to standard output.")
@click.option(
    "--certfile",
    type=click.Path(exists=True, dir_okay=False),
    help="Serve HTTPS with this certificate (PEM).",
)
@click.option(
    "--keyfile",
    type=click.Path(exists=True, dir_okay=False),
    help="The certificate's private key (PEM).",
)
@click.option(
    "--kerberos-port",
    default=88,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Also answer Kerberos (RFC 4120) over UDP and TCP on this port of --host; "
    "0: the HTTP API alone. Below 1024 needs root or CAP_NET_BIND_SERVICE.",
)
@click.pass_context
def serve_command(ctx: click.Context, /, **options: Any) -> None:
    """Serve the KDC: POST /v1/as, /v1/tgs, /v1/kpasswd, /v1/admin/OP; /metrics, /livez,
    /readyz; and Kerberos over UDP and TCP on --kerberos-port. SIGTERM or SIGINT stops it
    after the requests in flight (a second one: at once)."""
    from kdc.server import ServeOptions, serve

    directory = _directory(ctx)
    if bool(options["certfile"]) != bool(options["keyfile"]):
        raise click.UsageError("--certfile and --keyfile go together")
    os.environ["ORTHRUS_KDC_DIR"] = str(directory)
    warning = load_settings(directory).mit_iterations_warning()
    if warning and options["kerberos_port"]:
        click.echo(f"orthrus-kdc: warning: {warning}", err=True)
    serve(directory, ServeOptions(**options))


def main() -> None:
    """Console script entry point. Everything the KDC creates is private to its user."""
    os.umask(0o077)
    run(cli, "orthrus-kdc")


if __name__ == "__main__":
    main()
