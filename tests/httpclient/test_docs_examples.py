"""Every code block of README.md and docs/ runs as written, so that none can go stale.

A block's language says what this test does with it:

- ``python``: run as it is, each block in a fresh process, in the page's order, against the
  session's real KDC and a real ``service_demo``; the realm reaches it through ``ORTHRUS_*``
  variables, as it reaches the reader's programs (``ORTHRUS_SERVICE_URL``: the service).
  A ``python`` block right after ``<!-- not run: REASON -->`` is an excerpt whose names come
  from the program around it; the reason is required and shown on the page's source.
- ``sh``: the page's ``sh`` blocks, in order, in one bash session (``set -euo pipefail``),
  in a scratch directory with a link to the project's ``.venv``, inside a network
  namespace of its own (``unshare -rn``) so that the fixed ports the text uses (8088, 8080)
  are free; what a block starts in the background is stopped at the end.
- ``json``, ``toml``: parsed (the wire examples are valid JSON, the settings valid TOML).
- ``console``: commands shown, not run, because a test cannot give what they need: a lab
  realm the lab pages build step by step with passwords typed at prompts (the exercises are
  tested by tests/labs), a production host (PostgreSQL, systemd, certificates under /etc),
  a realm another page set up (docs/service_demo.md continues the README's walk-through,
  which runs here), or ``make`` itself (``make test``, ``make bench``, ``make lock``).
- ``text``, ``http``, ``ini``, ``nginx``: layouts, outputs, HTTP messages and configuration
  files: nothing to run.

A block without a language, or with one not listed here, fails: its author says which it is.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from support import BIN, REALM, Realm, clean_env

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")], key=lambda p: str(p.relative_to(ROOT))
)
RUN = {"python", "sh", "json", "toml"}
SHOWN = {"console", "text", "http", "ini", "nginx"}
NOT_RUN = re.compile(r"<!-- not run: (\S.*?) -->\s*\Z")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    language: str
    code: str
    excerpt: str | None

    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


@functools.cache
def blocks(page: Path) -> tuple[Block, ...]:
    """The page's code blocks, parsed once per run (collection asks for them several times)."""
    tokens = MarkdownIt("commonmark").parse(page.read_text())
    found = []
    for previous, token in zip([None, *tokens], tokens, strict=False):
        if token.type not in ("fence", "code_block") or token.map is None:
            continue
        note = (
            NOT_RUN.match(previous.content) if previous and previous.type == "html_block" else None
        )
        language = token.info.split()[0] if token.info.strip() else ""
        found.append(Block(page, token.map[0] + 1, language, token.content, note and note[1]))
    return tuple(found)


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _run_python(code: str, env: dict[str, str], where: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, f"the example at {where} failed:\n{result.stderr}"
    return result.stdout


def test_every_block_says_what_it_is() -> None:
    """A bare fence (or an unknown language) is refused, and so is a ``not run`` note
    without a reason or on a block that is not Python."""
    for page in PAGES:
        for block in blocks(page):
            assert block.language in RUN | SHOWN, (
                f"{block.where()}: a code block must say what it is: {sorted(RUN | SHOWN)}"
            )
            assert block.excerpt is None or block.language == "python", block.where()


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_json_and_toml_blocks_parse(page: Path) -> None:
    parsers = {"json": json.loads, "toml": tomllib.loads}
    for block in blocks(page):
        parse = parsers.get(block.language)
        if parse is not None:
            try:
                parse(block.code)
            except ValueError as exc:
                pytest.fail(f"{block.where()} is not {block.language}: {exc}")


@pytest.fixture(scope="module")
def batch_keytab(realm: Realm, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """docs/client.md's own principals: a keytab for batch/localhost, and carol, whose
    password an example changes (no other test's user is touched)."""
    keytab = tmp_path_factory.mktemp("docs") / "batch.keytab"
    realm.add_service(f"batch/localhost@{REALM}", keytab)
    realm.add_user(f"carol@{REALM}", "carol-pass")
    return keytab


def python_pages() -> list[Path]:
    return [p for p in PAGES if any(b.language == "python" and not b.excerpt for b in blocks(p))]


@pytest.mark.parametrize("page", python_pages(), ids=page_id)
def test_python_examples_run(
    page: Path,
    kdc_url: str,
    service_url: str,
    batch_keytab: Path,
    http_keytab: Path,
    tmp_path: Path,
) -> None:
    """The keytab is docs/client.md's batch/localhost, except for the README's service,
    run as the README says (``ORTHRUS_KEYTAB=var/http.keytab
    ORTHRUS_SERVICE_PRINCIPALS=HTTP/localhost``)."""
    keytab = {"ORTHRUS_KEYTAB": str(batch_keytab)}
    if page.name == "README.md":
        keytab = {
            "ORTHRUS_KEYTAB": str(http_keytab),
            "ORTHRUS_SERVICE_PRINCIPALS": "HTTP/localhost",
        }
    env = clean_env(
        ORTHRUS_KDC_URL=kdc_url,
        ORTHRUS_CCACHE=str(tmp_path / "ccache"),
        ORTHRUS_SERVICE_URL=service_url,
        **keytab,
    )
    outputs = [
        _run_python(block.code, env, block.where())
        for block in blocks(page)
        if block.language == "python" and not block.excerpt
    ]
    if page.name == "client.md":
        _check_client_page(outputs)


def _check_client_page(outputs: list[str]) -> None:
    """What docs/client.md's examples print, where the page says what they do."""
    assert f"logged in as batch/localhost@{REALM}" in outputs[0]
    assert f"logged in as alice@{REALM}" in outputs[1]
    assert f"'principal': 'alice@{REALM}'" in outputs[3]
    assert f"{{'alice@{REALM}'}}" in outputs[5]
    assert "the service proved itself: True" in outputs[6]
    assert outputs[9] == f"batch/localhost@{REALM}\n"
    assert outputs[10].startswith("TGT until ")
    assert "wrong password: KDC_ERR_PREAUTH_FAILED 24" in outputs[-1]


def test_client_doc_has_an_example_for_each_tutorial_step() -> None:
    code = "\n".join(b.code for b in blocks(ROOT / "docs" / "client.md"))
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
        "keep_fresh",
        "change_password",
        "except client_lib.BadPassword",
    ):
        assert call in code, call


def sh_pages() -> list[Path]:
    return [p for p in PAGES if any(b.language == "sh" for b in blocks(p))]


# The README's walk-through starts two KDCs and two services (a second realm, trusting the
# first): on a loaded machine that takes minutes; the script's own bound (below) is 300 s.
@pytest.mark.timeout(330)
@pytest.mark.parametrize("page", sh_pages(), ids=page_id)
def test_shell_examples_run(page: Path, tmp_path: Path) -> None:
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    namespace = [unshare, "-rn"] if unshare and ip else []
    if not namespace or subprocess.run([*namespace, "true"], check=False).returncode != 0:
        pytest.skip("needs a network namespace of its own (unshare -rn, ip) for the page's ports")
    (tmp_path / ".venv").symlink_to(BIN.parent)
    steps = [b for b in blocks(page) if b.language == "sh"]
    script = "\n".join(
        [
            "set -euo pipefail",
            f"{ip} link set lo up",
            "trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT",
            *(f"echo '### {b.where()}'\n{b.code}" for b in steps),
        ]
    )
    env = clean_env(HOME=str(tmp_path), XDG_STATE_HOME=str(tmp_path / "state"))
    env.pop("XDG_RUNTIME_DIR", None)
    result = subprocess.run(
        [*namespace, "bash", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    if page.name == "README.md":
        assert "Default principal: alice@EXAMPLE.TEST" in result.stdout
        assert "HTTP/localhost@EXAMPLE.TEST: kvno = 1" in result.stdout
        assert '"principal": "alice@EXAMPLE.TEST"' in result.stdout
        assert "the request and the reply travelled sealed" in result.stderr
        assert '"auth_factors": ["otp"]' in result.stdout.replace('":["', '": ["')
        # The second realm: a ticket of OTHER.TEST for EXAMPLE.TEST's alice, by trust.
        assert "HTTP/localhost@OTHER.TEST: kvno = 1" in result.stdout
        assert "krbtgt/OTHER.TEST@EXAMPLE.TEST" in result.stdout
        assert '"service":"HTTP/localhost@OTHER.TEST"' in result.stdout


def test_blocks_are_read_with_their_language_line_and_not_run_note(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# A page\n\n```python\nprint(1)\n```\n\n<!-- not run: an excerpt -->\n"
        "```python\napp.run()\n```\n\n```\nbare\n```\n"
    )
    found = [(b.line, b.language, b.code, b.excerpt) for b in blocks(page)]
    assert found == [
        (3, "python", "print(1)\n", None),
        (8, "python", "app.run()\n", "an excerpt"),
        (12, "", "bare\n", None),
    ]
