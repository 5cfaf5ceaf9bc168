"""The alembic migrations of ``kdc/migrations`` on a database made by an older revision, and
``orthrus-kdc upgrade``, which applies them to an existing realm."""

from __future__ import annotations

import json
from pathlib import Path

from alembic import command
from alembic.config import Config
from click.testing import CliRunner
from sqlalchemy import text
from support import FAST_KDF, REALM

import kdc
from kdc.cli import cli
from kdc.store import make_engine


def admin(directory: Path, *args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(cli, ["--dir", str(directory), *args], input=input)
    assert result.exit_code == 0, result.output
    return result.output


def test_upgrade_adds_allow_svr_off_for_principals_made_before_it(tmp_path: Path) -> None:
    """0003 adds allow_svr, off for every existing principal: after the upgrade a password
    principal is no ticket's server until an administrator allows it again. ``upgrade`` is
    safe to repeat, and 0003 can be undone."""
    directory = tmp_path / "kdc"
    admin(directory, "init", "--realm", REALM, *FAST_KDF)
    user = f"old@{REALM}"
    admin(directory, "addprinc", "--allow-svr", user, input="old-s3cret-pass\n")
    config = Config()
    config.set_main_option("script_location", str(Path(kdc.__file__).parent / "migrations"))
    engine = make_engine(f"sqlite:///{directory / 'principal.db'}")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
        columns = [row[1] for row in connection.execute(text("PRAGMA table_info(principals)"))]
    engine.dispose()
    assert "allow_svr" not in columns
    for _ in range(2):
        assert admin(directory, "upgrade").strip() == "Database schema is up to date."
    assert json.loads(admin(directory, "getprinc", "--json", user))["allow_svr"] is False


def test_upgrade_to_delegation_keeps_every_key_and_delegates_nothing(tmp_path: Path) -> None:
    """0007 adds the delegation attributes in place: every key stays (a copy of the
    principals table would have deleted them all through ON DELETE CASCADE, on the way up
    and on the way down), and existing principals keep forwardable tickets, are trusted
    with no forwarded TGT and may delegate to nothing. ``upgrade`` is safe to repeat."""
    directory = tmp_path / "kdc"
    admin(directory, "init", "--realm", REALM, *FAST_KDF)
    user = f"old@{REALM}"
    admin(directory, "addprinc", user, input="old-s3cret-pass\n")
    config = Config()
    config.set_main_option("script_location", str(Path(kdc.__file__).parent / "migrations"))
    engine = make_engine(f"sqlite:///{directory / 'principal.db'}")
    count_keys = text("SELECT (SELECT count(*) FROM keys) + (SELECT count(*) FROM kerberos_keys)")
    with engine.begin() as connection:
        keys = connection.execute(count_keys).scalar()
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
        columns = [row[1] for row in connection.execute(text("PRAGMA table_info(principals)"))]
        assert connection.execute(count_keys).scalar() == keys
    assert "delegate_to" not in columns and "ok_as_delegate" not in columns
    for _ in range(2):
        assert admin(directory, "upgrade").strip() == "Database schema is up to date."
    with engine.connect() as connection:
        assert connection.execute(count_keys).scalar() == keys
    engine.dispose()
    info = json.loads(admin(directory, "getprinc", "--json", user))
    assert (info["allow_forwardable"], info["ok_as_delegate"]) == (True, False)
    assert info["allowed_to_delegate_to"] == []
