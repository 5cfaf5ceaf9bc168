"""A realm not created as a lab refuses every lab switch: the client's large clock offset, the
service's replay cache off, unchecked authorization data, recorded tokens, traces, and every
``orthrus-lab`` command."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from werkzeug.serving import make_server

from labs.lab import Lab
from labs.state import LabPaths, NotALab
from orthrus.errors import ConfigError
from orthrus.principal import Principal


class RealRealm:
    """An ordinary realm (``lab = false``) with its KDC served on a thread, and a keytab."""

    def __init__(self, root: Path) -> None:
        from kdc import cli as kdc_cli
        from kdc.app import create_app
        from kdc.config import load_settings
        from kdc.store import Store

        self.kdc_dir = root / "kdc"
        self.keytab = root / "svc.keytab"
        with contextlib.redirect_stdout(io.StringIO()):
            for args in (
                [
                    "init",
                    "--realm",
                    "REAL.TEST",
                ],
                ["addprinc", "--randkey", "HTTP/svc"],
                ["ktadd", "-k", str(self.keytab), "HTTP/svc"],
            ):
                kdc_cli.cli.main(["--dir", str(self.kdc_dir), *args], standalone_mode=False)
        settings = load_settings(self.kdc_dir, env={})
        assert settings.lab is False
        self.app = create_app(settings, Store.open(settings))
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealRealm]:
    realm = RealRealm(tmp_path_factory.mktemp("real"))
    yield realm
    realm.close()


def test_the_kdc_says_whether_its_realm_is_a_lab(real: RealRealm, lab: Lab) -> None:
    assert httpx.get(f"{real.url}/v1/realm").json() == {
        "realm": "REAL.TEST",
        "lab": False,
        "max_skew": 300,
    }
    assert httpx.get(f"{lab.url('kdc')}/v1/realm").json()["lab"] is True


def test_a_real_kdc_writes_no_trace(real: RealRealm) -> None:
    from orthrus import codec
    from orthrus.as_exchange import ASOptions, make_as_req

    probe = make_as_req(Principal.parse("HTTP/svc@REAL.TEST"), 1e9, bytes, ASOptions())
    httpx.post(f"{real.url}/v1/as", content=codec.encode(probe))
    assert list(real.kdc_dir.glob("trace*")) == []


def _client_cli(kdc_url: str, *args: str, tmp: Path) -> Result:
    from client_lib.cli import cli

    env = {
        "ORTHRUS_KDC_URL": kdc_url,
        "ORTHRUS_CCACHE": str(tmp / "none.ccache"),
        "ORTHRUS_CONFIG": "/dev/null",
    }
    return CliRunner().invoke(cli, list(args), env=env)


def test_a_large_clock_offset_needs_a_lab_realm(real: RealRealm, lab: Lab, tmp_path: Path) -> None:
    refused = _client_cli(real.url, "--clock-offset", "600", "klist", tmp=tmp_path)
    assert isinstance(refused.exception, ConfigError)
    assert "not a lab realm" in str(refused.exception)
    # Small offsets are always allowed; in a lab realm large ones too (klist then says no cache).
    for url, offset in ((real.url, "30"), (lab.url("kdc"), "600")):
        allowed = _client_cli(url, "--clock-offset", offset, "klist", tmp=tmp_path)
        assert "no credentials cache" in str(allowed.exception)


@pytest.mark.parametrize(
    "switch",
    [
        "lab_replay_cache_off",
        "lab_unsigned_authz",
        "lab_no_authenticator",
        "lab_no_session_key",
        "lab_no_timestamp",
        "record_messages",
    ],
)
def test_every_verifier_switch_is_refused_outside_a_lab(real: RealRealm, switch: str) -> None:
    from service_lib import Verifier, VerifierSettings

    keytab, svc = str(real.keytab), ["HTTP/svc"]
    settings = VerifierSettings(keytab=keytab, principals=svc, kdc_url=real.url, **{switch: True})
    with pytest.raises(ConfigError, match="not a lab realm"):
        Verifier.from_settings(settings)
    no_kdc = VerifierSettings(keytab=keytab, principals=svc, **{switch: True})
    with pytest.raises(ConfigError, match="lab switch"):
        Verifier.from_settings(no_kdc)
    plain = Verifier.from_settings(
        VerifierSettings(keytab=keytab, principals=svc, kdc_url=real.url)
    )
    assert plain.settings.lab_switches == []


def test_a_lab_kdc_of_another_realm_does_not_vouch(real: RealRealm, lab: Lab) -> None:
    from service_lib import Verifier, VerifierSettings

    settings = VerifierSettings(
        keytab=str(real.keytab),
        principals=["HTTP/svc"],
        kdc_url=lab.url("kdc"),
        lab_replay_cache_off=True,
    )
    with pytest.raises(ConfigError, match=r"does not serve realm REAL\.TEST"):
        Verifier.from_settings(settings)


def test_the_switches_work_in_the_lab(lab: Lab) -> None:
    from service_lib import Verifier, VerifierSettings
    from service_lib.lab import NoReplayCache

    settings = VerifierSettings(
        keytab=str(lab.paths.keytab("notes")),
        principals=["HTTP/notes"],
        kdc_url=lab.url("kdc"),
        lab_replay_cache_off=True,
        lab_unsigned_authz=True,
    )
    verifier = Verifier.from_settings(settings)
    assert isinstance(verifier.replay_cache, NoReplayCache)


@pytest.mark.parametrize(
    "flag", ["--lab-no-replay-cache", "--lab-unsigned-authz", "--trace=trace.jsonl"]
)
def test_the_services_refuse_lab_flags_outside_a_lab(
    real: RealRealm, tmp_path: Path, flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from labs.legacy import main as legacy_main
    from service_demo.__main__ import main as demo_main

    common = ["--keytab", str(real.keytab), "--principal", "HTTP/svc", "--kdc-url", real.url, flag]
    assert demo_main([*common, "--db", str(tmp_path / "notes.sqlite")]) == 2
    assert "not a lab realm" in capsys.readouterr().err
    assert legacy_main(common) == 2
    assert "not a lab realm" in capsys.readouterr().err


def test_lab_commands_refuse_a_realm_not_made_as_a_lab(
    real: RealRealm, lab: Lab, tmp_path: Path
) -> None:
    from labs.cli import cli

    fake = tmp_path / "fake-lab"
    fake.mkdir()
    shutil.copy(lab.paths.state, fake / "lab.json")
    (fake / "kdc").symlink_to(real.kdc_dir)  # a lab.json, but the realm is not a lab
    for args in (
        ["status"],
        ["up"],
        ["check", "1"],
        ["trace"],
        ["switch", "notes", "authz", "off"],
    ):
        result = CliRunner().invoke(cli, [*args, "--dir", str(fake)])
        assert isinstance(result.exception, NotALab), (args, result.output)
        assert "was not created as a lab" in str(result.exception)
    with pytest.raises(NotALab):
        Lab.open(LabPaths.of(fake))
    assert json.loads((fake / "lab.json").read_text())["realm"] == "LAB.TEST"
