"""What every Orthrus command line shares: one sentence per error, never a traceback."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import click

from orthrus.errors import OrthrusError, ProtocolError

__all__ = ["run"]


def run(command: Callable[..., object], prog: str) -> None:
    """Run a click command; print ``prog: NAME: what happened and what to do`` and exit 1."""
    try:
        status = command.main(prog_name=prog, standalone_mode=False)  # type: ignore[attr-defined]
    except click.exceptions.Abort:
        click.echo(f"{prog}: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ProtocolError as exc:
        click.echo(f"{prog}: {exc.name}: {exc.message}", err=True)
        sys.exit(1)
    except OrthrusError as exc:
        click.echo(f"{prog}: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo(f"{prog}: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("ORTHRUS_DEBUG"):
            raise
        click.echo(
            f"{prog}: internal error ({type(exc).__name__}: {exc}); please report it, with the "
            "traceback that ORTHRUS_DEBUG=1 shows",
            err=True,
        )
        sys.exit(70)
    sys.exit(status if isinstance(status, int) else 0)
