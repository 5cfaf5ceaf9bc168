"""Sections of the docs written by the scripts that measure their figures.

A page marks the section with two HTML comments, invisible once rendered::

    <!-- mutations:begin (written by `make mutations`; do not edit by hand) -->
    ...
    <!-- mutations:end -->

and the script replaces what lies between them, so a figure on the page is always the one
the last run measured, with its date, machine and versions.
"""

from __future__ import annotations

import re
from pathlib import Path


def replace_section(page: Path, name: str, text: str) -> None:
    """Put ``text`` between the ``name`` markers of ``page`` (each must be there once)."""
    source = page.read_text()
    pattern = re.compile(rf"(<!-- {name}:begin[^>]*-->\n).*?(<!-- {name}:end -->)", re.DOTALL)
    if len(pattern.findall(source)) != 1:
        raise SystemExit(f"{page}: no single '<!-- {name}:begin -->' ... end section")
    page.write_text(pattern.sub(lambda m: f"{m[1]}{text.rstrip()}\n{m[2]}", source))
