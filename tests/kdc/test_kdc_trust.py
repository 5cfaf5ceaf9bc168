"""``orthrus-kdc trust add`` and ``trust list`` (issue 17 §4), in process on two realms of
the test's own: the keys one KDC exports are the keys the other stores, and every file,
code or direction that does not fit is refused before anything is stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support import FAST_KDF, open_store

from client_lib.config import ClientSettings
from kdc.cli import cli as kdc_cli
from orthrus.errors import ConfigError, OrthrusError
from orthrus.principal import Principal, krbtgt

A, B = "A.TEST", "B.TEST"
A_TO_B = Principal(("krbtgt", B), A)
B_TO_A = Principal(("krbtgt", A), B)


def kdc(directory: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(kdc_cli, ["--dir", str(directory), *args], input=input)


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def refused(result: Result, words: str) -> None:
    """A refusal: a usage error, or the ConfigError/AdminError that ``orthrus-kdc`` prints
    as one sentence (orthrus_io.cli.run; here the exception itself)."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert isinstance(result.exception, OrthrusError), result.exception
    text = result.output + str(result.exception or "")
    assert result.exit_code != 0 and words in text, text


@pytest.fixture
def realms(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    ok(kdc(a, "init", "--realm", A, *FAST_KDF))
    ok(kdc(b, "init", "--realm", B, *FAST_KDF))
    return a, b


def export(directory: Path, peer: str, direction: str, file: Path) -> str:
    made = ok(kdc(directory, "trust", "add", peer, "--direction", direction,
                  "--export", str(file), "--json"))  # fmt: skip
    return str(json.loads(made)["code"])


def test_both_directions_share_the_same_keys(realms: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = realms
    transfer = tmp_path / "t.json"
    code = export(a, B, "both", transfer)
    assert code not in transfer.read_text()  # the code travels apart from the file
    stored = ok(kdc(b, "trust", "add", A, "--direction", "both", "--import", str(transfer),
                    input=f"{code}\n"))  # fmt: skip
    assert stored.splitlines()[-1] == f"Trust with {A}: stored {B_TO_A}, {A_TO_B}."
    with open_store(a) as at_a, open_store(b) as at_b:
        for name in (A_TO_B, B_TO_A):
            mine, theirs = at_a.lookup(name), at_b.lookup(name)
            assert mine is not None and theirs is not None
            assert mine.current_key.material == theirs.current_key.material
            assert [(k.enctype, k.key.material) for k in mine.kerberos_keys] == [
                (k.enctype, k.key.material) for k in theirs.kerberos_keys
            ]
            assert theirs.kdf is None  # a random key: a ticket's server
    listed = json.loads(ok(kdc(b, "trust", "list", "--json")))
    assert {(t["principal"], t["direction"]) for t in listed} == {
        (str(A_TO_B), "incoming"),
        (str(B_TO_A), "outgoing"),
    }


def test_import_refuses_what_does_not_fit(realms: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = realms
    transfer = tmp_path / "t.json"
    code = export(a, B, "outgoing", transfer)
    args = ["trust", "add", A, "--import", str(transfer), "--code"]
    # The same direction on both sides: B would hold krbtgt/A.TEST@B.TEST, which A did not make.
    refused(kdc(b, *args, code, "--direction", "outgoing"), "use the --direction that matches")
    refused(kdc(b, *args, "x" * 43, "--direction", "incoming"), "does not open with this code")
    refused(kdc(b, "trust", "add", "C.TEST", "--import", str(transfer), "--code", code,
                "--direction", "incoming"), "does not open with this code")  # fmt: skip
    changed = bytearray(transfer.read_bytes())  # one character of the ciphertext changed
    middle = len(changed) // 2
    changed[middle] = ord("A") if changed[middle] != ord("A") else ord("B")
    transfer.write_bytes(bytes(changed))
    refused(kdc(b, *args, code, "--direction", "incoming"), "does not open")
    assert json.loads(ok(kdc(b, "trust", "list", "--json"))) == []


def test_import_twice_and_usage_errors(realms: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = realms
    transfer = tmp_path / "t.json"
    code = export(a, B, "outgoing", transfer)
    args = ["trust", "add", A, "--direction", "incoming", "--import", str(transfer), "--code", code]
    ok(kdc(b, *args))
    refused(kdc(b, *args), "exists already")
    refused(kdc(b, "trust", "add", A, "--direction", "incoming"), "--export FILE")
    # A's outgoing key exists: "both" makes neither of its keys.
    refused(kdc(a, "trust", "add", B, "--direction", "both", "--export",
                str(tmp_path / "both.json")), "exists already")  # fmt: skip
    assert [t["principal"] for t in json.loads(ok(kdc(a, "trust", "list", "--json")))] == [
        str(A_TO_B)
    ]
    refused(kdc(a, "trust", "add", A, "--direction", "outgoing", "--export",
                str(tmp_path / "self.json")), "own realm")  # fmt: skip


def test_trust_keys_survive_dump_and_load_and_delprinc(
    realms: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = realms
    transfer = tmp_path / "t.json"
    code = export(a, B, "outgoing", transfer)
    ok(kdc(b, "trust", "add", A, "--direction", "incoming", "--import", str(transfer),
           "--code", code))  # fmt: skip
    dumped = tmp_path / "b.dump"
    ok(kdc(b, "dump", str(dumped)))
    ok(kdc(b, "load", "--force", str(dumped)))
    with open_store(b) as store:
        assert store.lookup(A_TO_B) is not None
    ok(kdc(a, "delprinc", "--force", str(A_TO_B)))  # ends the trust on A's side
    refused(kdc(a, "delprinc", "--force", str(krbtgt(A))), "cannot be deleted")
    assert json.loads(ok(kdc(a, "trust", "list", "--json"))) == []


def test_client_finds_other_realms_kdc() -> None:
    settings = ClientSettings(kdc_url="http://127.0.0.1:1", realms={B: "https://kdc.b.test"})
    assert settings.kdc_url_of(A, A) == "http://127.0.0.1:1"
    assert settings.kdc_url_of(B, A) == "https://kdc.b.test"
    with pytest.raises(ConfigError, match=r"\[client.realms\]"):
        settings.kdc_url_of("C.TEST", A)
    plain = ClientSettings(realms={B: "http://kdc.b.test"})
    with pytest.raises(ConfigError, match="plain HTTP"):
        plain.kdc_url_of(B, A)
