"""Constrained delegation end to end (issue 17 §3): a KDC and two ``service_demo`` processes
on free ports; alice fetches the front's ``/backend/whoami`` with ``orthrus fetch``, and the
front calls the back end in her name (S4U2Proxy) with ``service_lib.delegated_session``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import REALM, Realm, User, clean_env, free_port, stop, wait_http

FRONT = f"HTTP/front@{REALM}"
BACKEND = f"HTTP/backend@{REALM}"


@dataclass
class Deployment:
    realm: Realm
    kdc_url: str
    front_url: str
    directory: Path

    def user(self, name: str) -> User:
        return User(self.kdc_url, self.directory / f"{name}.ccache")


def _service(
    directory: Path, name: str, keytab: Path, principal: str, *extra: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [
        sys.executable, "-m", "service_demo", "--keytab", str(keytab), "--port", str(port),
        "--db", str(directory / f"{name}.sqlite"), "--principal", principal, *extra,
    ]  # fmt: skip
    with open(directory / f"{name}.log", "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=clean_env(), cwd=directory
        )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/livez", process)
    return process, url


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    directory = tmp_path_factory.mktemp("delegation")
    realm = Realm.create(directory / "kdc")
    realm.add_user("alice", "alice-delegation-pass")
    realm.add_service(FRONT, directory / "front.keytab")
    realm.add_service(BACKEND, directory / "backend.keytab")
    realm.admin("modprinc", "--allowed-to-delegate-to", BACKEND, FRONT)
    processes = []
    try:
        kdc_url = realm.serve()
        backend, backend_url = _service(directory, "backend", directory / "backend.keytab", BACKEND)
        processes.append(backend)
        front, front_url = _service(
            directory, "front", directory / "front.keytab", FRONT,
            "--kdc-url", kdc_url, "--backend-url", backend_url, "--backend-principal", BACKEND,
        )  # fmt: skip
        processes.append(front)
        yield Deployment(realm, kdc_url, front_url, directory)
    finally:
        for process in processes:
            stop(process)
        realm.stop_all()
    for name in ("front", "backend"):
        text = (directory / f"{name}.log").read_text()
        assert "Traceback" not in text, text


def _fetch(user: User, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return user.run("fetch", "--service", FRONT, *extra, url)


def test_the_back_end_sees_the_user_and_the_delegating_front(deployment: Deployment) -> None:
    alice = deployment.user("alice")
    alice.kinit(f"alice@{REALM}", "alice-delegation-pass", "-f").check_returncode()
    flags = alice.run("klist", "-f", check=True).stdout
    assert "Flags: FRIA" in flags
    fetched = _fetch(alice, deployment.front_url + "/backend/whoami")
    assert fetched.returncode == 0, fetched.stderr
    reply = json.loads(fetched.stdout)
    assert reply["front"] == f"alice@{REALM}"
    assert reply["delegation"] == "s4u2proxy"
    assert reply["backend"]["principal"] == f"alice@{REALM}"
    assert reply["backend"]["delegated_by"] == FRONT
    assert reply["backend"]["service"] == BACKEND
    getprinc = deployment.realm.admin("getprinc", FRONT).stdout
    assert f"Allowed to delegate to: {BACKEND}" in getprinc


def test_without_kinit_f_the_kdc_refuses_the_delegation(deployment: Deployment) -> None:
    bob = deployment.user("alice-no-f")
    bob.kinit(f"alice@{REALM}", "alice-delegation-pass").check_returncode()
    fetched = _fetch(bob, deployment.front_url + "/backend/whoami")
    assert fetched.returncode == 1
    error = json.loads(fetched.stdout)["error"]
    assert error["name"] == "KDC_ERR_BADOPTION"
    assert "not forwardable" in error["message"]


def test_a_tgt_is_forwarded_only_to_a_service_trusted_with_it(deployment: Deployment) -> None:
    """``orthrus fetch --forward`` hands the front a forwarded TGT only once its tickets are
    OK-AS-DELEGATE (``modprinc --ok-as-delegate``); the front then calls the back end with
    it, and the back end sees alice alone. A TGT without -f cannot be forwarded."""
    alice = deployment.user("alice-forward")
    url = deployment.front_url + "/backend/whoami"
    alice.kinit(f"alice@{REALM}", "alice-delegation-pass", "-f").check_returncode()
    untrusted = _fetch(alice, url, "--forward")
    assert "not forwarding the TGT" in untrusted.stderr
    assert json.loads(untrusted.stdout)["delegation"] == "s4u2proxy"
    deployment.realm.admin("modprinc", "--ok-as-delegate", FRONT)
    try:
        alice.kinit(f"alice@{REALM}", "alice-delegation-pass", "-f").check_returncode()
        fetched = _fetch(alice, url, "--forward")
        assert fetched.returncode == 0, fetched.stderr
        reply = json.loads(fetched.stdout)
        assert reply["delegation"] == "forwarded-tgt"
        assert reply["backend"]["principal"] == f"alice@{REALM}"
        assert reply["backend"]["delegated_by"] is None
        assert "Flags: FAO" in alice.run("klist", "-f", check=True).stdout
        alice.kinit(f"alice@{REALM}", "alice-delegation-pass").check_returncode()
        refused = _fetch(alice, url, "--forward")
        assert refused.returncode != 0 and "KDC_ERR_BADOPTION" in refused.stderr
        assert "Traceback" not in refused.stderr
    finally:
        deployment.realm.admin("modprinc", "--no-ok-as-delegate", FRONT)
