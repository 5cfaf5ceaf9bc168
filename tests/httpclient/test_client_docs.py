"""Every ```python example of docs/client.md, run as it is, in order, each in a fresh process,
against the real KDC and service_demo; the realm reaches them through ORTHRUS_* variables."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import REALM, Realm, clean_env

DOC = Path(__file__).resolve().parents[2] / "docs" / "client.md"
EXAMPLE = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def examples() -> list[str]:
    return EXAMPLE.findall(DOC.read_text())


@pytest.fixture(scope="module")
def batch_keytab(realm: Realm, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The doc's own principals: a keytab for batch/localhost, and carol, whose password
    the example changes (no other test's user is touched)."""
    keytab = tmp_path_factory.mktemp("docs") / "batch.keytab"
    realm.add_service(f"batch/localhost@{REALM}", keytab)
    realm.add_user(f"carol@{REALM}", "carol-pass")
    return keytab


def test_client_doc_has_an_example_for_each_tutorial_step() -> None:
    code = "\n".join(examples())
    for call in (
        "login_with_keytab",
        ".login(",
        "get_service_ticket",
        "RequestsTicketAuth()",
        "HttpxTicketAuth()",
        "httpx.AsyncClient",
        "mutual=True",
        "fetch_sealed",
        ".renew()",
        "change_password",
        "except client_lib.BadPassword",
    ):
        assert call in code, call


def test_client_doc_examples_run(
    kdc_url: str, service_url: str, batch_keytab: Path, tmp_path: Path
) -> None:
    env = clean_env(
        ORTHRUS_KDC_URL=kdc_url,
        ORTHRUS_CCACHE=str(tmp_path / "ccache"),
        ORTHRUS_KEYTAB=str(batch_keytab),
        ORTHRUS_SERVICE_URL=service_url,
    )
    outputs = []
    for number, code in enumerate(examples(), 1):
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
        )
        assert result.returncode == 0, f"example {number} of {DOC.name}:\n{result.stderr}"
        outputs.append(result.stdout)
    assert f"logged in as batch/localhost@{REALM}" in outputs[0]
    assert f"logged in as alice@{REALM}" in outputs[1]
    assert f"'principal': 'alice@{REALM}'" in outputs[3]
    assert f"{{'alice@{REALM}'}}" in outputs[5]
    assert "the service proved itself: True" in outputs[6]
    assert "wrong password: KDC_ERR_PREAUTH_FAILED 24" in outputs[-1]
