"""The alembic migrations of ``kdc/migrations`` on a database made by an older revision."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

import kdc
from kdc.store import make_engine


def migrate(engine: Engine, step: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(kdc.__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, step)(config, revision)


def test_allow_svr_is_off_for_principals_made_before_it(tmp_path: Path) -> None:
    """0003 adds allow_svr off for every existing principal: after the upgrade a password
    principal is no ticket's server until an administrator allows it; 0003 can be undone."""
    engine = make_engine(f"sqlite:///{tmp_path / 'principal.db'}")
    migrate(engine, "upgrade", "0002")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO principals (name, kvno, requires_preauth, allow_tickets, "
                "kdf_salt, created_at, modified_at) VALUES "
                "('old@EXAMPLE.TEST', 1, 1, 1, x'00', '2026-01-01', '2026-01-01')"
            )
        )
    migrate(engine, "upgrade", "head")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT name, allow_svr FROM principals")).all()
    assert [tuple(row) for row in rows] == [("old@EXAMPLE.TEST", False)]
    migrate(engine, "downgrade", "0002")
    with engine.connect() as connection:
        names = connection.execute(text("SELECT name FROM principals")).scalars().all()
    assert names == ["old@EXAMPLE.TEST"]
    engine.dispose()
