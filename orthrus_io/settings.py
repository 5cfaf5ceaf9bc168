"""Settings from a TOML file with environment variables on top; errors name the bad key."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from orthrus.errors import ConfigError

__all__ = ["build_settings", "load_toml", "redact_url", "redacted_repr"]

T = TypeVar("T")


def load_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a missing or broken file is a ``ConfigError`` naming it."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None


def build_settings(
    type_: type[T],
    table: Mapping[str, Any],
    env: Mapping[str, str],
    env_names: Mapping[str, str],
    source: str,
) -> T:
    """Make ``type_`` (a msgspec Struct) from ``table``, with ``env_names[field]`` overriding.

    Environment values are strings; they are converted to the field's type, so
    ``ORTHRUS_MAX_SKEW=abc`` is refused with the variable's name.
    """
    values = dict(table)
    origin = {key: f"key '{key}' in {source}" for key in values}
    for field, variable in env_names.items():
        if env.get(variable):
            values[field] = env[variable]
            origin[field] = f"environment variable {variable}"
    try:
        return msgspec.convert(values, type_, strict=False)
    except msgspec.ValidationError as exc:
        text = str(exc)
        for field, where in origin.items():
            if f"`$.{field}`" in text:
                raise ConfigError(f"{where}: {text.split(' - at ')[0]}") from None
        raise ConfigError(f"{source}: {text}") from None


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (RFC 3986 §3.2.1 userinfo), for logs,
    errors and ``repr``: ``redis://:***@host:6379/0``, ``postgresql://kdc:***@db/kdc``."""
    scheme, sep, rest = url.partition("://")
    credentials, _, host = rest.rpartition("@")
    user, colon, _ = credentials.partition(":")
    if not colon:  # no userinfo, or a user name alone: nothing to hide
        return url
    return f"{scheme}{sep}{user}:***@{host}"


def redacted_repr(settings: msgspec.Struct) -> str:
    """The ``repr`` of a settings struct with the password of every ``*_url`` field hidden."""
    fields = []
    for name in settings.__struct_fields__:
        value = getattr(settings, name)
        if name.endswith("_url") and isinstance(value, str):
            value = redact_url(value)
        fields.append(f"{name}={value!r}")
    return f"{type(settings).__name__}({', '.join(fields)})"
