"""The layering rule of docs/architecture.md, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Modules that do I/O or read clocks or randomness; the core takes these as arguments.
IO_MODULES = {
    "os",
    "io",
    "sys",
    "time",
    "random",
    "secrets",
    "socket",
    "ssl",
    "pathlib",
    "shutil",
    "tempfile",
    "subprocess",
    "sqlite3",
    "select",
    "selectors",
    "asyncio",
    "urllib",
    "http",
    "logging",
    "requests",
    "httpx",
    "flask",
    "werkzeug",
    "sqlalchemy",
    "redis",
    "gunicorn",
    "uvloop",
    "httptools",
    "click",
    "rich",
    "tomllib",
}
EDGES = ("kdc", "client_lib", "service_lib")


def imported_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_core_imports_no_io_module() -> None:
    offenders = {
        path: sorted(names & IO_MODULES)
        for path, names in imported_modules("orthrus").items()
        if names & IO_MODULES
    }
    assert offenders == {}


def test_core_imports_no_edge() -> None:
    edges = {"orthrus_io", *EDGES, "labs", "service_demo"}
    offenders = {p: sorted(n & edges) for p, n in imported_modules("orthrus").items() if n & edges}
    assert offenders == {}


@pytest.mark.parametrize("edge", EDGES)
def test_edges_never_import_each_other(edge: str) -> None:
    others = set(EDGES) - {edge}
    offenders = {p: sorted(n & others) for p, n in imported_modules(edge).items() if n & others}
    assert offenders == {}
