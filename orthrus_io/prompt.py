"""Reading passwords as MIT's tools do: from the terminal (twice for a new one), or one
line from standard input when it is not a terminal (for scripts: ``printf 'pw\\n' | ...``).
"""

from __future__ import annotations

import getpass
import sys

from orthrus.errors import ConfigError

__all__ = ["read_password"]

MAX_PASSWORD_LENGTH = 1024


def read_password(prompt: str, confirm: bool = False) -> str:
    """The password typed or piped in; ``ConfigError`` if empty, too long, or mistyped."""
    if sys.stdin.isatty():
        password = getpass.getpass(f"{prompt}: ")
        if confirm and getpass.getpass(f"Verify {prompt[0].lower()}{prompt[1:]}: ") != password:
            raise ConfigError("the two passwords differ; nothing was changed")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise ConfigError("empty password; nothing was changed")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ConfigError(f"password longer than {MAX_PASSWORD_LENGTH} characters")
    return password
