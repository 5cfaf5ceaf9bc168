"""``orthrus kinit --keep -k -t KEYTAB SPN`` as a foreground process against the session KDC:
it logs in, says so on stderr, keeps running, and exits 0 on SIGTERM or SIGINT.

The test waits for the line the process prints after its first refresh (a read that blocks
until the line comes), never for a length of time.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
from support import BIN, REALM, Realm, User

KEEPER = f"keeper/localhost@{REALM}"


@pytest.fixture(scope="module")
def keeper_keytab(realm: Realm, tmp_path_factory: pytest.TempPathFactory) -> Path:
    keytab = tmp_path_factory.mktemp("keeper") / "keeper.keytab"
    realm.add_service(KEEPER, keytab)
    return keytab


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_kinit_keep_logs_in_and_stops_cleanly_on_a_signal(
    user: User, keeper_keytab: Path, stop: signal.Signals
) -> None:
    process = subprocess.Popen(
        [str(BIN / "orthrus"), "kinit", "--keep", "-k", "-t", str(keeper_keytab), KEEPER],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=user.env(),
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert f"orthrus: TGT for {KEEPER} acquired from the keytab, valid until" in first
        assert "next refresh at" in first
        listing = json.loads(user.run("klist", "--json", check=True).stdout)
        assert listing["principal"] == KEEPER
        assert process.poll() is None, "kinit --keep must stay in the foreground"
        process.send_signal(stop)
        assert process.wait(timeout=30) == 0
        rest = process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert rest == f"orthrus: stopped on {stop.name}; the cache keeps its last ticket\n"
    assert "Traceback" not in rest


def test_kinit_keep_needs_a_keytab(user: User) -> None:
    result = user.run("kinit", "--keep", KEEPER)
    assert result.returncode == 2
    assert "--keep logs in again from a keytab: orthrus kinit --keep -k -t KEYTAB" in (
        result.stderr
    )
    assert not user.ccache.exists()


def test_kinit_keep_with_a_keytab_without_the_key_exits_with_one_sentence(
    user: User, keeper_keytab: Path
) -> None:
    result = user.run("kinit", "--keep", "-k", "-t", str(keeper_keytab), f"other/x@{REALM}")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"orthrus: keytab {keeper_keytab} holds no key for other/x@{REALM}"
    )


def test_kinit_help_describes_keep(user: User) -> None:
    result = user.run("kinit", "--help", check=True)
    assert "--keep" in result.stdout and "k5start" in result.stdout
    assert "orthrus kinit --keep -k -t KEYTAB" in result.stdout
