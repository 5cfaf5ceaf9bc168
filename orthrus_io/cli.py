"""What every Orthrus command line shares: one sentence per error, never a traceback, and an
exit that does not tear the interpreter down.

A command's process ends once its work is done: its threads joined, the exit handlers it
registered run, its output flushed. Python would then free every object of every module it
imported one by one (SQLAlchemy, cryptography, click...), ~0.1-0.15 s of CPU for nothing
the process needs (docs/performance.md, "CLI start-up"); :func:`run` ends it there instead,
with its exit status. Files are written within ``with`` blocks and transactions are
committed before a command returns, so nothing is left to the teardown.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
from collections.abc import Callable

import click

from orthrus.errors import OrthrusError, ProtocolError

__all__ = ["end_process", "run"]

#: The status the process exits with (:func:`_end_here`); an exception that escapes
#: :func:`run` (``ORTHRUS_DEBUG``) exits 1, as Python does.
_status = 1


def run(command: Callable[..., object], prog: str) -> None:
    """Run a click command; print ``prog: NAME: what happened and what to do`` and exit 1."""
    atexit.register(_end_here)  # first registered, so run after the command's own handlers
    try:
        status = command.main(prog_name=prog, standalone_mode=False)  # type: ignore[attr-defined]
    except click.exceptions.Abort:
        click.echo(f"{prog}: interrupted", err=True)
        _exit(130)
    except click.ClickException as exc:
        exc.show()
        _exit(exc.exit_code)
    except ProtocolError as exc:
        click.echo(f"{prog}: {exc.name}: {exc.message}", err=True)
        _exit(1)
    except OrthrusError as exc:
        click.echo(f"{prog}: {exc}", err=True)
        _exit(1)
    except KeyboardInterrupt:
        click.echo(f"{prog}: interrupted", err=True)
        _exit(130)
    except SystemExit as exc:
        _exit(exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1, exc)
    except Exception as exc:
        if os.environ.get("ORTHRUS_DEBUG"):
            raise
        click.echo(
            f"{prog}: internal error ({type(exc).__name__}: {exc}); please report it, with the "
            "traceback that ORTHRUS_DEBUG=1 shows",
            err=True,
        )
        _exit(70)
    _exit(status if isinstance(status, int) else 0)


def _exit(status: int, exc: SystemExit | None = None) -> None:
    global _status
    _status = status
    raise exc if exc is not None else SystemExit(status)


def _end_here() -> None:
    """The last exit handler of a command (:func:`run`)."""
    end_process(_status)


def end_process(status: int) -> None:
    """Flush the logs and the standard streams, then end this process with ``status``
    (``os._exit``), without the interpreter's teardown: for a process whose work is done,
    its threads joined and its files closed."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            status = status or 120  # as Python exits when it cannot flush standard output
    os._exit(status)
