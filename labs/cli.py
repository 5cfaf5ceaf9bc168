"""``orthrus-lab``: run a lab realm on 127.0.0.1, watch and decode its exchanges, attack it,
and grade exercises (docs/labs/).

Every command takes ``--dir DIR`` (default ``$ORTHRUS_LAB_DIR``, else ``./lab``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from labs.classroom.cli import class_group, join
from labs.state import (
    DEFAULT_DIR,
    KDC_SWITCHES,
    SERVICE_NAMES,
    SWITCHES,
    LabPaths,
    NotALab,
    service_switches,
)
from orthrus.errors import ConfigError, MalformedMessage
from orthrus_io.cli import run

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])

console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)

DOCS = Path(__file__).resolve().parent.parent / "docs" / "labs"


def _warn(message: str) -> None:
    errors.print(f"[yellow]warning:[/] {message}")


def _say(message: str) -> None:
    console.print(message)


def dir_option(func: F) -> F:
    """``--dir DIR`` on every command."""
    return click.option(
        "--dir",
        "directory",
        default=lambda: os.environ.get("ORTHRUS_LAB_DIR", DEFAULT_DIR),
        show_default="$ORTHRUS_LAB_DIR or ./lab",
        metavar="DIR",
        help="The lab directory.",
    )(func)


def _paths(directory: str) -> LabPaths:
    return LabPaths.of(directory)


def _lab(directory: str, up: bool = False) -> Any:
    from labs.lab import Lab

    lab = Lab.open(_paths(directory))
    if up:
        lab.require_up()
    return lab


def _lab_or_warn(directory: str) -> Any:
    """The lab, with a warning when its processes are not running (read-only commands)."""
    lab = _lab(directory)
    try:
        lab.require_up()
    except NotALab as exc:
        _warn(str(exc))
    return lab


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Orthrus labs: a lab realm on 127.0.0.1 to learn ticket authentication.

    \b
    Start:       orthrus-lab up, then orthrus-lab list and orthrus-lab show 1
    Watch:       orthrus-lab trace --follow --as alice, orthrus-lab web
    Attack:      orthrus-lab replay|tamper|crack|forge|steal, orthrus-lab switch
    Self-check:  orthrus-lab check N (or --all --json): practice, on your own records
    Class:       orthrus-lab join URL --ca ca.pem; instructors: orthrus-lab class --help
    Stop:        orthrus-lab down (reset starts over)
    """


# -- up, down, reset, status, env -----------------------------------------------------------


def _next_steps(lab: Any) -> None:
    status = lab.status_json()
    table = Table(title=f"Lab realm {lab.state.realm} in {lab.paths.root}", title_justify="left")
    for column in ("process", "url", "what"):
        table.add_column(column)
    notes = {s.name: f"{s.principal} — {s.note}" for s in lab.state.services}
    notes["kdc"] = "the KDC (AS, TGS): traces to kdc/trace.jsonl"
    notes["impostor"] = "pretends to be HTTP/notes, without its key (exercise 10)"
    notes["web"] = "the sequence-diagram page (orthrus-lab web)"
    for name, proc in status["processes"].items():
        if proc["running"]:
            table.add_row(name, proc["url"], notes.get(name, ""))
    console.print(table)
    users = Table(title="Users (lab passwords, shown on purpose)", title_justify="left")
    for column in ("user", "password", "note"):
        users.add_column(column)
    for user in lab.state.users:
        users.add_row(user.principal(lab.state.realm), user.password, user.note)
    console.print(users)
    console.print(
        "Next:\n"
        f'  eval "$(orthrus-lab env alice --dir {lab.paths.root})"   '
        "# be alice in this shell\n"
        "  orthrus-lab list                   # the exercises\n"
        "  orthrus-lab show 1                 # the first one\n"
        "  orthrus-lab trace --follow         # watch every exchange (another terminal)\n"
        "  orthrus-lab web                    # the sequence diagram in a browser"
    )


@cli.command()
@dir_option
@click.option(
    "--port-base",
    type=click.IntRange(0, 65530),
    default=8800,
    show_default=True,
    help="KDC on this port, notes +1, legacy +2, impostor +3, web +4 (0: any free ports).",
)
def up(directory: str, port_base: int) -> None:
    """Create the lab realm (once) and start its KDC, services and impostor."""
    from labs.lab import start_lab

    lab = start_lab(_paths(directory), _say, port_base)
    _next_steps(lab)


@cli.command()
@dir_option
def down(directory: str) -> None:
    """Stop every process the lab started (and clean up stale pid files)."""
    from labs.lab import stop_lab

    paths = _paths(directory)
    if not paths.state.exists() and not paths.run.exists():
        raise NotALab(f"no lab in {paths.root}: nothing to stop")
    stop_lab(paths, _say)
    console.print(f"The lab in {paths.root} is down; start it again with: orthrus-lab up")


@cli.command()
@dir_option
@click.option("--port-base", type=click.IntRange(0, 65530), default=8800, show_default=True)
def reset(directory: str, port_base: int) -> None:
    """Stop the lab, delete it (realm, traces, caches) and start a fresh one."""
    from labs.lab import start_lab, stop_lab

    paths = _paths(directory)
    if paths.root.exists():
        if not paths.state.exists() and any(paths.root.iterdir()):
            raise NotALab(f"{paths.root} is not a lab directory (no lab.json): not deleting it")
        stop_lab(paths, _say)
        shutil.rmtree(paths.root)
        console.print(f"Deleted the lab in {paths.root}")
    lab = start_lab(paths, _say, port_base)
    _next_steps(lab)


@cli.command()
@dir_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable, with URLs and ports.")
def status(directory: str, as_json: bool) -> None:
    """Whether the lab is up, its URLs, ports, services, switches and users."""
    lab = _lab(directory)
    if as_json:
        click.echo(json.dumps(lab.status_json(), indent=2))
        return
    _next_steps(lab)
    if not lab.is_up():
        console.print(
            f"[red]The lab is not up.[/] Start it with: orthrus-lab up --dir {lab.paths.root}"
        )
    for service in lab.state.services:
        switches = ", ".join(
            f"{s} {lab.state.switch(service.name, s)}" for s in service_switches(service.name)
        )
        console.print(f"{service.name}: {switches}")
    console.print("kdc: " + ", ".join(f"{s} {lab.state.switch('kdc', s)}" for s in KDC_SWITCHES))


@cli.command()
@dir_option
@click.argument("user")
def env(directory: str, user: str) -> None:
    """Print the shell settings to act as USER: eval "$(orthrus-lab env alice)"."""
    lab = _lab(directory)
    person = lab.state.user(user)
    status = lab.status_json()["processes"]
    values = {
        "ORTHRUS_KDC_URL": f"http://127.0.0.1:{lab.state.ports.get('kdc', 0)}",
        "ORTHRUS_CCACHE": str(lab.paths.ccache(person.name)),
        "ORTHRUS_REALM": lab.state.realm,
        "ORTHRUS_CONFIG": os.devnull,
        "ORTHRUS_LAB_DIR": str(lab.paths.root),
        "ORTHRUS_LAB_USER": person.name,
        "LAB_KDC_DIR": str(lab.paths.kdc),
        "KRB5_CONFIG": str(lab.paths.krb5_conf),
        "KRB5CCNAME": f"FILE:{lab.paths.mit_ccache(person.name)}",
        "LAB_NOTES": status["notes"]["url"] or "",
        "LAB_LEGACY": status["legacy"]["url"] or "",
        "LAB_IMPOSTOR": status["impostor"]["url"] or "",
    }
    for name, value in values.items():
        click.echo(f"export {name}={_quote(value)}")
    click.echo(f"# you are {person.principal(lab.state.realm)}; password: {person.password}")


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


# -- exercises: list, show, check -----------------------------------------------------------


def _doc(number: int) -> Path:
    from labs.checks import exercise

    path = DOCS / exercise(number).doc_name
    if not path.exists():
        raise ConfigError(f"the exercise text {path} is missing; is this a full checkout?")
    return path


@cli.command("list")
@dir_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable.")
def list_command(directory: str, as_json: bool) -> None:
    """The exercises, done or not done (graded from what you did)."""
    from labs.checks import EXERCISES, Evidence, grade

    paths = _paths(directory)
    results = None
    if paths.state.exists():
        evidence = Evidence.gather(_lab_or_warn(directory))
        for warning in evidence.warnings:
            _warn(warning)
        results = {r.number: r for r in grade(evidence, [e.number for e in EXERCISES])}
    elif not as_json:
        _warn(f"no lab in {paths.root} yet: start one with: orthrus-lab up --dir {directory}")
    rows = [
        {
            "number": item.number,
            "slug": item.slug,
            "title": item.title,
            "doc": f"docs/labs/{item.doc_name}",
            "done": bool(results and results[item.number].passed),
        }
        for item in EXERCISES
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Orthrus lab exercises", title_justify="left")
    for column in ("#", "exercise", "status", "read it"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["number"]),
            str(row["title"]),
            "[green]done[/]" if row["done"] else "not done",
            f"orthrus-lab show {row['number']}",
        )
    console.print(table)


@cli.command()
@click.argument("number", type=int)
@dir_option
def show(number: int, directory: str) -> None:
    """Show exercise NUMBER's instructions."""
    from rich.markdown import Markdown  # markdown-it and pygments: for this command only

    console.print(Markdown(_doc(number).read_text(encoding="utf-8")), soft_wrap=False)


@cli.command()
@click.argument("number", type=int)
@click.option(
    "--class",
    "class_dir",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="The class directory you run (an instructor, in a shell that joined a class).",
)
def answers(number: int, class_dir: Path | None) -> None:
    """The answers to exercise NUMBER's questions, from docs/labs/answers.md.

    For instructors, and for practice on your own lab; refused in a shell that joined a
    class server (orthrus-lab join), whose instructor holds the key.
    """
    from rich.markdown import Markdown

    from labs.answers import ANSWERS, answer_section, require_instructor
    from labs.checks import exercise

    exercise(number)
    require_instructor(os.environ, class_dir)
    try:
        text = ANSWERS.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the answer key {ANSWERS}: {exc.strerror}") from None
    console.print(Markdown(answer_section(text, number)), soft_wrap=False)


def parse_since(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    from datetime import datetime

    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise click.BadParameter(
            "give a Unix time or an ISO date (2026-11-27T09:00)", param_hint="--since"
        ) from None


#: Said by every local ``check``: its evidence is files the student can write.
SELF_CHECK = (
    "[bold]Self-check[/] of what this machine recorded ({root}/kdc/trace.jsonl and "
    "activity.jsonl): files you can edit, so this is practice, not a grade. Graded work "
    "runs against a class server (docs/labs/class.md)."
)


@cli.command()
@click.argument("number", type=int, required=False)
@dir_option
@click.option("--all", "everything", is_flag=True, help="Grade every exercise.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable (for instructors).")
@click.option("--since", metavar="TIME", help="Only evidence from TIME on (Unix time or ISO).")
def check(
    number: int | None, directory: str, everything: bool, as_json: bool, since: str | None
) -> None:
    """Self-check exercise NUMBER (or --all) from this lab's trace and the realm's state.

    A self-check: it grades what this machine recorded. Exits 0 when every exercise graded
    passed, 1 otherwise.
    """
    from labs.checks import EXERCISES, Evidence, grade

    if (number is None) == (not everything):
        raise click.UsageError("give an exercise NUMBER or --all")
    numbers = [e.number for e in EXERCISES] if everything else [number or 0]
    lab = _lab_or_warn(directory)
    evidence = Evidence.gather(lab, parse_since(since))
    errors.print(SELF_CHECK.format(root=lab.paths.root))
    for warning in evidence.warnings:
        _warn(warning)
    results = grade(evidence, numbers)
    if as_json:
        document: Any = [r.to_json() for r in results]
        click.echo(json.dumps(document if everything else document[0], indent=2))
    else:
        from labs.render import grade_table

        console.print(grade_table(results))
    if not all(r.passed for r in results):
        sys.exit(1)


# -- trace, web -----------------------------------------------------------------------------


def _student_decoder(lab: Any, user: str | None, keytabs: tuple[Path, ...]) -> Any:
    """A decoder with the keys the viewer ``user`` holds (:mod:`labs.viewers`: a user, a
    service, the KDC once exercise 12 hands out its key; never an instructor), and those of
    ``keytabs``."""
    from labs.decode import Decoder, KeytabKeys, chain
    from labs.viewers import local_viewer
    from orthrus.authz import AuthzVerifier

    if user is None and not keytabs:
        return None
    sources: list[Any] = []
    holder = "you"
    if user is not None:
        try:
            viewer = local_viewer(lab, user)
        except ConfigError as exc:  # the instructor, the KDC before its key, nobody
            raise click.BadParameter(str(exc), param_hint="--as") from None
        sources.append(viewer.keys())
        holder = viewer.holder
    if keytabs:
        sources.append(KeytabKeys(list(keytabs)))
    store = lab.store()
    # The realm's public keys: a verdict on each opened ticket's KDC signature.
    authz = AuthzVerifier(store.signer().jwks(), lab.state.realm)
    return Decoder(chain(sources), holder, authz, int(store.settings.max_skew))


def _record_decodes(lab: Any, decoder: Any, events: list[Any]) -> None:
    """Note which of its own AP authenticators a user opened (graded by exercise 3)."""
    from labs.tracefile import read_activity, record_activity

    holder = decoder.holder
    already = {
        event_id
        for entry in read_activity(lab.paths.activity, _warn)
        if entry.action == "decode" and entry.data.get("as") == holder
        for event_id in entry.data.get("events") or []
    }
    opened = [
        e.id
        for e in events
        if e.id not in already
        and e.exchange == "AP"
        and e.client == holder
        and any(p.opened and p.where == "request.authenticator" for p in decoder.parts(e))
    ]
    if opened:
        record_activity(lab.paths.activity, "decode", events=opened, via="trace", **{"as": holder})


@cli.command()
@dir_option
@click.option(
    "--follow", "-f", is_flag=True, help="Keep watching: show each exchange as it happens."
)
@click.option(
    "--as",
    "user",
    default=lambda: os.environ.get("ORTHRUS_LAB_USER") or None,
    metavar="VIEWER",
    help="Decode with the keys VIEWER holds: a user's password, then their session keys; a "
    "service's keytab (notes, legacy); kdc, once exercise 12 hands you the krbtgt key "
    "(default $ORTHRUS_LAB_USER). No instructor: that view is the class dashboard's.",
)
@click.option(
    "--keytab",
    "keytabs",
    multiple=True,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Also decode with the keys of this keytab (say, one that leaked).",
)
@click.option("--last", type=int, metavar="N", help="Only the last N exchanges.")
@click.option("--brief", is_flag=True, help="One line per exchange.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines of the decoded events.")
def trace(
    directory: str,
    follow: bool,
    user: str | None,
    keytabs: tuple[Path, ...],
    last: int | None,
    brief: bool,
    as_json: bool,
) -> None:
    """Every AS, TGS and AP exchange, decoded with the keys you hold."""
    from labs.render import event_line, event_tree
    from labs.tracefile import follow_trace, read_trace
    from labs.view import EventMarks, event_view

    lab = _lab_or_warn(directory)
    decoder = _student_decoder(lab, user, keytabs)
    events = read_trace(lab.paths.trace, _warn)
    marks = EventMarks()
    marks.feed(events)

    def show_event(event: Any) -> None:
        parts = decoder.parts(event) if decoder else None
        view = event_view(event, parts, marks.of(event))
        if as_json:
            click.echo(json.dumps(view))
        elif brief:
            console.print(event_line(view))
        else:
            console.print(event_tree(view), soft_wrap=False)

    if decoder:
        decoder.feed(events)
        _record_decodes(lab, decoder, events)
    shown = events[-last:] if last else events
    if not shown and not follow:
        console.print(
            "The trace is empty: nothing has happened yet. Log in with orthrus kinit "
            "(see orthrus-lab show 1)."
        )
    for event in shown:
        show_event(event)
    if follow:
        if not as_json:
            console.print("[dim]watching the trace; Ctrl-C to stop[/]")
        after = events[-1].id if events else 0
        for event in follow_trace(lab.paths.trace, _warn, after):
            show_event(event)
            if decoder:
                _record_decodes(lab, decoder, [event])


@cli.command()
@dir_option
@click.option("--foreground", is_flag=True, help="Serve in this terminal until Ctrl-C.")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: the lab's KDC + 4).")
def web(directory: str, foreground: bool, port: int | None) -> None:
    """Serve the live sequence-diagram page and print its URL."""
    from labs.lab import DEFAULT_PORT_BASE, start_one
    from labs.procs import choose_port, read_proc, running

    lab = _lab_or_warn(directory)
    info = read_proc(lab.paths, "web")
    if foreground:
        from labs.web import serve

        chosen = choose_port(port or lab.state.ports.get("kdc", 8800) + 4, set(), _say)
        console.print(f"The lab's page: http://127.0.0.1:{chosen}/  (Ctrl-C to stop)")
        serve(lab.paths.root, "127.0.0.1", chosen)
        return
    if info is not None and running(info):
        console.print(f"The lab's page is served at {info.url}/")
        return
    if port is not None:
        lab.state.ports["web"] = port
    info = start_one(lab, "web", lab.state.ports.get("kdc", DEFAULT_PORT_BASE), _say)
    console.print(f"The lab's page is served at {info.url}/  (orthrus-lab down stops it)")


# -- attacks and switches -------------------------------------------------------------------


@cli.command()
@click.argument("principal", required=False)
@dir_option
@click.option("--ticket", "service", metavar="SERVICE", help="Crack SERVICE's key from a ticket.")
@click.option(
    "--hashes",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Crack the $krb5asrep$/$krb5tgs$ lines of this file (hashcat's format, enctype 17/18).",
)
@click.option(
    "--wordlist",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="One guess per line (default: the lab's list of common passwords).",
)
def crack(
    principal: str | None,
    directory: str,
    service: str | None,
    hashes: Path | None,
    wordlist: Path | None,
) -> None:
    """Guess a password offline: PRINCIPAL's from an AS reply, --ticket SERVICE's, or the
    lines of a --hashes file (what orthrus-lab roast writes, and hashcat and john read).

    \b
    orthrus-lab crack carol                 # AS reply asked without pre-authentication
    orthrus-lab crack --ticket HTTP/legacy  # a service ticket from your credential cache
    orthrus-lab crack --hashes roast.txt    # $krb5asrep$18$... / $krb5tgs$18$... lines
    """
    from labs.attacks import crack_as_rep, crack_ticket, default_cost, load_wordlist

    if sum(x is not None for x in (principal, service, hashes)) != 1:
        raise click.UsageError("give a PRINCIPAL, --ticket SERVICE or --hashes FILE")
    if hashes is not None:
        _crack_hashes(_lab(directory), hashes, load_wordlist(wordlist))
        return
    from labs.classroom.joined import JoinedClass

    # In a shell that joined a class server, its KDC: the cracked password is then proved
    # by logging in with it there (the class grades 7 and 11 so; docs/labs/class.md).
    lab = JoinedClass.from_env(os.environ) or _lab(directory, up=True)
    words = load_wordlist(wordlist)
    if principal is not None:
        name = _parse(principal, lab.state.realm)
        console.print(f"Asking the KDC for {name}'s AS reply, without any password...")
        result = crack_as_rep(lab, name, words)
    else:
        ticket = _service_ticket(lab, _parse(str(service), lab.state.realm))
        console.print(
            f"Guessing {ticket.server}'s password from a ticket (kvno {ticket.kvno}) "
            "sealed under its key..."
        )
        result = crack_ticket(lab, ticket, words)
    _report_crack(result, len(words), default_cost())


def _crack_hashes(lab: Any, path: Path, words: list[str]) -> None:
    """Guess the password of each line of ``path``: one PBKDF2 (4,096 iterations) and one
    AES-CTS decryption with its HMAC check per guess (RFC 3962), as hashcat does."""
    import time

    from labs.roast import parse_hash
    from labs.tracefile import record_activity

    lines = [line.strip() for line in path.read_text(errors="replace").splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    if not lines:
        raise ConfigError(f"{path} holds no lines to crack: write them with orthrus-lab roast")
    for number, line in enumerate(lines, 1):
        try:
            roast = parse_hash(line)
        except MalformedMessage as exc:
            raise ConfigError(f"{path}, line {number}: {exc.message}") from None
        started = time.perf_counter()
        password, guesses = roast.guess(words)
        seconds = time.perf_counter() - started
        record_activity(
            lab.paths.activity,
            "crack",
            mode="hashcat",
            kind=roast.kind,
            target=roast.target,
            result="found" if password else "not-found",
            password=password,
            guesses=guesses,
            seconds=round(seconds, 4),
            line=line,
        )
        if password:
            console.print(
                f"[bold red]Found[/] the password of {roast.target}: [bold]{password}[/] "
                f"after {guesses} guesses in {seconds:.2f} s."
            )
        else:
            console.print(f"{roast.target}: not found in {guesses} guesses ({seconds:.2f} s).")
    console.print(
        "Each guess is one PBKDF2-HMAC-SHA1 of 4,096 iterations: microseconds on a GPU, "
        "which is why a password-keyed account needs a long random password, or a random key."
    )


@cli.command()
@dir_option
def keytab(directory: str) -> None:
    """Write lab/keytabs/realm.keytab anew: every current Kerberos key of the lab realm (an
    MIT keytab), for tshark's decryption (-o kerberos.file:...). Run it again after a key
    rotation (orthrus-kdc rotate, cpw): the file holds the keys of the moment it was made.
    """
    from labs.lab import write_mit_keytab

    lab = _lab(directory)
    lab.paths.mit_keytab.unlink(missing_ok=True)
    write_mit_keytab(lab.paths, lab.state)
    console.print(f"{lab.paths.mit_keytab}: every Kerberos key of {lab.state.realm}, now")


@cli.command()
@click.argument("events", type=int, nargs=-1)
@dir_option
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the lines to this file (mode 0600) as well as printing them.",
)
def roast(events: tuple[int, ...], directory: str, output: Path | None) -> None:
    """Write the hashcat/john lines of AS and TGS replies the KDC sent on the Kerberos wire.

    EVENTS are trace event numbers (orthrus-lab trace --brief); none: every such reply.
    An AS-REP gives $krb5asrep$18$... (its part under the user's key), a TGS-REP
    $krb5tgs$18$... (the ticket under the service's key). Crack them with
    orthrus-lab crack --hashes FILE, or hashcat -m 32200 / -m 19700.
    """
    from labs.roast import der_of, roast_reply
    from labs.tracefile import read_trace
    from orthrus_io.files import write_private
    from orthrus_io.trace import KERBEROS_TRANSPORTS

    lab = _lab(directory)
    trace = read_trace(lab.paths.trace, _warn)
    wanted = set(events)
    lines = []
    for event in trace:
        if wanted and event.id not in wanted:
            continue
        data = der_of(event.reply)
        wire = event.record.get("transport") in KERBEROS_TRANSPORTS
        if not (wire and event.ok and event.exchange in ("AS", "TGS") and data):
            if wanted:
                raise ConfigError(
                    f"event #{event.id} is no AS or TGS reply sent on the Kerberos wire: "
                    "use MIT's kinit or kvno, then orthrus-lab trace --brief"
                )
            continue
        try:
            found = roast_reply(event.exchange, data)
        except MalformedMessage as exc:
            _warn(f"event #{event.id}: {exc.message}; skipped")
            continue
        if found is None:
            _warn(f"event #{event.id}: its key's enctype has no hashcat format; skipped")
            continue
        lines.append(found.line())
        console.print(f"# event #{event.id}: {event.exchange}-REP, {found.target}")
        click.echo(found.line())
    missing = wanted - {e.id for e in trace}
    if missing:
        raise ConfigError(f"the trace has no event {', '.join(map(str, sorted(missing)))}")
    if not lines:
        raise ConfigError(
            "no AS or TGS reply on the Kerberos wire in the trace: use MIT's kinit or kvno "
            f"with KRB5_CONFIG={lab.paths.krb5_conf} first"
        )
    if output is not None:
        write_private(output, ("\n".join(lines) + "\n").encode())
        console.print(f"# {len(lines)} line(s) written to {output}")


def _parse(text: str, realm: str) -> Any:
    from orthrus.principal import Principal

    try:
        return Principal.parse(text, default_realm=realm)
    except MalformedMessage as exc:
        raise click.BadParameter(exc.message) from None


def _service_ticket(lab: Any, service: Any) -> Any:
    """A ticket for ``service`` from the user's credential cache (or a new one from the TGS)."""
    from client_lib.api import Client
    from client_lib.config import ClientSettings

    ccache = os.environ.get("ORTHRUS_CCACHE")
    if not ccache:
        raise ConfigError(
            "no credential cache: log in first, as a lab user: "
            'eval "$(orthrus-lab env alice)"; orthrus kinit alice'
        )
    settings = ClientSettings(
        kdc_url=lab.url("kdc"), ccache=ccache, realm=lab.state.realm, ca_file=lab.ca_file
    )
    client = Client(settings)
    try:
        return client.get_service_ticket(service).ticket
    finally:
        client.close()


def _report_crack(result: Any, words: int, cost: float) -> None:
    if result.result in ("nothing-to-crack", "random-key"):
        console.print(f"[yellow]Nothing to crack:[/] {result.reason}.")
        return
    if result.result == "found":
        console.print(
            f"[bold red]Found[/] the password of {result.target}: [bold]{result.password}[/] "
            f"after {result.guesses} guesses in {result.seconds:.2f} s."
        )
    else:
        console.print(f"Not found in {result.guesses} guesses ({result.seconds:.2f} s).")
    kdf = result.kdf
    console.print(
        f"Each guess costs one Argon2id derivation ({kdf.get('memory_kib')} KiB, "
        f"{kdf.get('iterations')} pass(es)): {result.per_guess * 1000:.1f} ms here, "
        "with nobody counting — it all happens offline."
    )
    console.print(
        f"At Orthrus's default cost (64 MiB, 3 passes) one guess takes {cost * 1000:.0f} ms: "
        f"this list of {words} words would take {words * cost:.0f} s, and a billion guesses "
        f"{1e9 * cost / 86400 / 365:.0f} years on one core — slow, but a weak password is still "
        "near the top of every list."
    )


@cli.command()
@dir_option
@click.option(
    "--keytab",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="The leaked keytab (e.g. lab/keytabs/notes.keytab; with --golden, by default "
    "lab/keytabs/krbtgt.keytab).",
)
@click.option("--service", default="HTTP/notes", show_default=True, help="The service.")
@click.option("--golden", is_flag=True, help="Forge a TGT (krbtgt/REALM) instead: a golden ticket.")
@click.option("--client", "--as", "client_name", default="mallory", show_default=True)
@click.option("--group", "groups", multiple=True, default=("admins",), show_default=True)
@click.option(
    "--ccache",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to put the forged ticket (default: lab/users/CLIENT.ccache).",
)
def forge(
    directory: str,
    keytab: Path | None,
    service: str,
    golden: bool,
    client_name: str,
    groups: tuple[str, ...],
    ccache: Path | None,
) -> None:
    """Forge a service ticket (a "silver ticket") with a leaked service key, or with
    --golden a TGT (a "golden ticket") with the leaked krbtgt key."""
    from labs.attacks import forge_ticket

    lab = _lab(directory)
    server = _parse(f"krbtgt/{lab.state.realm}" if golden else service, lab.state.realm)
    leaked = keytab or (lab.paths.keytab("krbtgt") if golden else None)
    if leaked is None:
        raise click.UsageError("give the leaked --keytab")
    if not leaked.exists():
        raise ConfigError(
            f"there is no keytab {leaked}; steal krbtgt's key first: orthrus-kdc --dir "
            f'"$LAB_KDC_DIR" ktadd -k {leaked} {server}'
        )
    client = _parse(client_name, lab.state.realm)
    target = ccache or lab.paths.ccache(client.components[0])
    credential = forge_ticket(lab, leaked, server, client, tuple(groups), target)
    use = (
        "orthrus kvno HTTP/notes"
        if golden
        else f'orthrus fetch --service {server} "$LAB_NOTES/admin/stats"'
    )
    console.print(
        f"Forged a ticket for [bold]{server}[/] (kvno {credential.kvno}) claiming "
        f"client [bold]{client}[/] in groups [bold]{', '.join(groups)}[/], no KDC involved.\n"
        f"It is in {target}. Use it:\n"
        f"  ORTHRUS_CCACHE={target} {use}"
    )


@cli.command()
@click.argument("victim")
@dir_option
@click.option(
    "--to",
    "copy",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to put the copy (default: lab/users/thief.ccache).",
)
def steal(victim: str, directory: str, copy: Path | None) -> None:
    """Copy user VICTIM's credential cache (pass-the-ticket): its tickets and session keys."""
    from labs.attacks import steal_ccache

    lab = _lab(directory)
    lab.state.user(victim)  # a lab user, or a ConfigError naming them
    target = copy or lab.paths.ccache("thief")
    stolen = steal_ccache(lab, lab.paths.ccache(victim), target)
    servers = ", ".join(sorted(set(stolen.tickets.values())))
    console.print(
        f"Copied {stolen.victim}'s credential cache (mode {stolen.mode:04o}: only its owner, "
        f"and root, can read it) to {target}: tickets for {servers}, with their session keys.\n"
        f"Use them, no password needed:\n"
        f"  ORTHRUS_CCACHE={target} orthrus fetch --service HTTP/notes "
        f'"$LAB_NOTES/whoami"'
    )


@cli.command()
@click.argument("event", type=int)
@dir_option
@click.option("--times", type=click.IntRange(1, 10), default=1, show_default=True)
def replay(event: int, directory: str, times: int) -> None:
    """Send the AP-REQ captured in trace EVENT to its service again, unchanged."""
    from labs.attacks import replay as send_again

    lab = _lab(directory, up=True)
    for number, sent in enumerate(send_again(lab, event, times), 1):
        _report_sent(f"replay {number}", sent)


@cli.command()
@click.argument("event", type=int)
@dir_option
@click.option(
    "--part",
    type=click.Choice(["ticket", "authenticator"]),
    default="authenticator",
    show_default=True,
    help="Which sealed part gets one bit flipped.",
)
def tamper(event: int, directory: str, part: str) -> None:
    """Send the AP-REQ of trace EVENT with one bit of its ticket or authenticator flipped."""
    from labs.attacks import tamper as send_altered

    lab = _lab(directory, up=True)
    sent, _ = send_altered(lab, event, part)
    _report_sent(f"{part} altered", sent)


@cli.command("reuse-ticket")
@click.argument("event", type=int)
@dir_option
@click.option(
    "--authenticator",
    type=click.Choice(["own-key", "clear"]),
    default="own-key",
    show_default=True,
    help="Seal a fresh authenticator under a key of your own, or write it in the clear.",
)
def reuse_ticket(event: int, directory: str, authenticator: str) -> None:
    """Send the ticket captured in trace EVENT with a fresh authenticator of your own.

    You do not know the ticket's session key: a service that checks its authenticators
    refuses both kinds (KRB_AP_ERR_MODIFIED); legacy with its switch 'authenticator' off
    accepts 'own-key' (the ticket alone), with 'session-key' off accepts 'clear'.
    """
    from labs.attacks import reuse_ticket as send_with

    lab = _lab(directory, up=True)
    sent, _ = send_with(lab, event, authenticator)
    _report_sent(f"ticket of #{event} with an authenticator ({authenticator})", sent)


def _report_sent(what: str, sent: Any) -> None:
    if sent.status < 400:
        console.print(f"{what}: [bold red]accepted[/] (HTTP {sent.status}): {sent.body.strip()}")
    else:
        console.print(
            f"{what}: [green]refused[/] (HTTP {sent.status}) {sent.error}: {sent.message}"
        )


#: Every lab switch, by what it switches.
_SWITCHES_OF = {**{name: service_switches(name) for name in SERVICE_NAMES}, "kdc": KDC_SWITCHES}


@cli.command()
@click.argument("component", metavar="COMPONENT", type=click.Choice(list(_SWITCHES_OF)))
@click.argument("switch", type=click.Choice(sorted({*SWITCHES, *KDC_SWITCHES})))
@click.argument("state", type=click.Choice(["on", "off"]))
@dir_option
def switch(component: str, switch: str, state: str, directory: str) -> None:
    """Turn a defence of a service or of the KDC on or off (lab realms only), and restart it.

    \b
    notes|legacy replay-cache: remember accepted authenticators and refuse them again
    notes|legacy authz:        check the KDC's signature on the ticket's groups
    legacy authenticator:      ask for an authenticator, not the ticket alone
    legacy session-key:        open the authenticator under the ticket's session key
    legacy timestamp:          refuse an authenticator made outside the clock skew
    kdc lockout:               lock a user out after 5 failed logins in 10 minutes (on)
    kdc hide-unknown:          answer unknown names as real ones (off)
    kdc rate-limit:            10 logins an hour per address, loopback included (off)
    kdc tgt-signature:         the TGS checks the KDC's signature on a TGT (on)
    """
    from labs.lab import restart_service

    if switch not in _SWITCHES_OF[component]:
        raise click.BadParameter(
            f"{component} has the switches {', '.join(_SWITCHES_OF[component])}",
            param_hint="SWITCH",
        )
    lab = _lab(directory, up=True)
    lab.state.switches.setdefault(component, {})[switch] = state
    lab.state.save(lab.paths)
    info = restart_service(lab, component, _say)
    color = "green" if state == "on" else "bold red"
    console.print(f"{component}: {switch} [{color}]{state}[/] (restarted, pid {info.pid})")


# -- online guessing: enumerate, spray -------------------------------------------------------

#: Names an attacker tries first: the lab's users among names nobody has.
DEFAULT_NAMES = ("alice", "bob", "dave", "erin", "admin", "root", "test", "guest")


def _names(lab: Any, given: tuple[str, ...]) -> list[Any]:
    return [_parse(name, lab.state.realm) for name in given or DEFAULT_NAMES]


def _attempt_table(title: str, attempts: list[Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([a.to_json() for a in attempts], indent=2))
        return
    table = Table(title=title, title_justify="left")
    for column in ("name", "the KDC answered", "so", "event"):
        table.add_column(column)
    for attempt in attempts:
        table.add_row(
            attempt.name,
            attempt.answer,
            attempt.outcome,
            f"#{attempt.event}" if attempt.event is not None else "",
        )
    console.print(table)


@cli.command("enumerate")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@dir_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable.")
def enumerate_command(names: tuple[str, ...], directory: str, as_json: bool) -> None:
    """Find which NAMEs exist, with no password: one AS-REQ each, no pre-authentication.

    Default names: the lab's users among some that nobody has (admin, root, test, guest).
    """
    from labs.spraying import enumerate_names

    lab = _lab(directory, up=True)
    attempts = enumerate_names(lab, _names(lab, names))
    _attempt_table("What the KDC told about each name", attempts, as_json)


@cli.command("spray")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option(
    "--password",
    "-p",
    "passwords",
    multiple=True,
    required=True,
    help="A password to try against every name (repeatable: each in turn).",
)
@dir_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable.")
def spray_command(
    names: tuple[str, ...], passwords: tuple[str, ...], directory: str, as_json: bool
) -> None:
    """Log in online as each NAME with each --password: spraying (one password, many
    names) or guessing (many passwords, one name).

    \b
    orthrus-lab spray -p password1 alice bob dave erin    # spraying
    orthrus-lab spray bob -p 123456 -p password -p qwerty  # guessing: see the lockout
    """
    from labs.spraying import spray

    lab = _lab(directory, up=True)
    attempts = spray(lab, _names(lab, names), list(passwords))
    _attempt_table("One online login per name and password", attempts, as_json)


cli.add_command(class_group)
cli.add_command(join)


def main() -> None:
    """Console script entry point; everything the lab writes is private to its user."""
    os.umask(0o077)
    run(cli, "orthrus-lab")


if __name__ == "__main__":
    main()
