"""What the console scripts import to start (docs/performance.md, "CLI start-up").

Each heavy library (the database, the servers, Redis, the audit log, HTTP clients) is imported
by the commands that use it, so ``--help`` and a one-row ``getprinc`` do not pay ~0.5 s of
imports for it. These tests name the libraries a command must not load; they count modules,
never time.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import REALM, Realm, clean_env

#: Libraries no CLI needs to parse its arguments and print its help.
HEAVY = (
    "sqlalchemy",
    "flask",
    "gunicorn",
    "uvloop",
    "httptools",
    "redis",
    "orthrus_io.audit",
    "limits",
    "jwt",
    "requests",
    "rich.markdown",
    "orthrus.der",  # the DER codec: only for the Kerberos wire
)
#: What ``orthrus-kdc getprinc`` has no use for (it reads one row through SQLAlchemy; the
#: DER codec is for the Kerberos wire).
NOT_FOR_GETPRINC = (
    "flask",
    "gunicorn",
    "uvloop",
    "httptools",
    "redis",
    "orthrus_io.audit",
    "alembic",
    "prometheus_client",
    "orthrus.der",
)


def loaded(
    module: str,
    args: list[str],
    wanted: tuple[str, ...],
    env: dict[str, str],
    input: str | None = None,
) -> set[str]:
    """Which of ``wanted`` are imported once ``module``'s ``main`` has run with ``args``."""
    code = (
        "import sys\n"
        f"sys.argv = ['cli', *{args!r}]\n"
        f"from {module} import main\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        f"    print('LOADED', *[m for m in {wanted!r} if m in sys.modules], file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        input=input,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    line = next(ln for ln in result.stderr.splitlines() if ln.startswith("LOADED"))
    return set(line.split()[1:])


@pytest.mark.parametrize("module", ["kdc.cli", "client_lib.cli", "labs.cli"])
def test_help_imports_no_heavy_library(module: str) -> None:
    assert loaded(module, ["--help"], HEAVY, clean_env()) == set()


def test_getprinc_imports_only_the_database(realm: Realm) -> None:
    args = ["--dir", str(realm.directory), "getprinc", f"krbtgt/{realm.name}"]
    assert loaded("kdc.cli", args, (*NOT_FOR_GETPRINC, "sqlalchemy"), clean_env()) == {"sqlalchemy"}


def test_modprinc_loads_redis_only_to_unlock(realm: Realm) -> None:
    """Lockout counters are the only thing ``modprinc`` may need Redis for (``--unlock``)."""
    name = f"startup-probe/modprinc@{realm.name}"
    realm.setup("addprinc", "--randkey", name)
    args = ["--dir", str(realm.directory), "modprinc", "--maxlife", "9h", name]
    unused = tuple(m for m in NOT_FOR_GETPRINC if m != "orthrus_io.audit")  # it audits
    assert loaded("kdc.cli", args, unused, clean_env()) == set()


def test_kinit_over_http_does_not_load_the_der_codec(kdc_url: str, tmp_path: Path) -> None:
    """An HTTP KDC speaks JSON: ``orthrus kinit`` (and every test that runs it) does not
    load RFC 4120's DER codec."""
    env = clean_env(ORTHRUS_KDC_URL=kdc_url, ORTHRUS_CCACHE=str(tmp_path / "ccache"))
    args = ["kinit", f"bob@{REALM}"]
    assert loaded("client_lib.cli", args, ("orthrus.der",), env, input="bob-pass\n") == set()


EXITING = """
import atexit, sys
import click
from orthrus.errors import OrthrusError
from orthrus_io.cli import run

class TornDown:
    def __del__(self):
        print("torn down", file=sys.stderr)

kept = TornDown()

@click.command()
@click.argument("how")
def command(how):
    atexit.register(lambda: print("handler ran", file=sys.stderr))
    sys.stdout.write("x" * 100_000)  # no newline: buffered until the end
    if how == "fail":
        raise OrthrusError("no such thing; create it first")
    if how == "exit":
        sys.exit("gone")
    return 3 if how == "three" else None

run(command, "probe")
"""


@pytest.mark.parametrize(
    ("how", "status", "stderr"),
    [
        ("ok", 0, ""),
        ("three", 3, ""),
        ("fail", 1, "probe: no such thing; create it first\n"),
        ("exit", 1, "gone\n"),
    ],
)
def test_a_command_ends_without_the_interpreters_teardown(
    how: str, status: int, stderr: str
) -> None:
    """Its status, its output (flushed), the exit handlers it registered: all as before; the
    objects of its modules are not freed one by one (no ``__del__`` runs)."""
    result = subprocess.run(
        [sys.executable, "-c", EXITING, how], capture_output=True, text=True, env=clean_env()
    )
    assert result.returncode == status
    assert result.stdout == "x" * 100_000
    assert result.stderr == f"{stderr}handler ran\n"
