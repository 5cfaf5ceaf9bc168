"""Settings from a TOML file with environment variables on top; errors name the bad key."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from orthrus.errors import ConfigError

__all__ = ["build_settings", "load_toml"]

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
