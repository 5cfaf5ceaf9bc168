"""``kdc.toml`` settings (:mod:`kdc.config`)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from kdc.config import KDCSettings, load_settings
from orthrus.errors import ConfigError


def test_a_bad_rate_limit_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "kdc.toml").write_text('realm = "EXAMPLE.TEST"\ndatabase_url = "sqlite://"\n')
    with pytest.raises(ConfigError, match="key 'rate_limit': 'lots' is not a rate limit"):
        load_settings(tmp_path, {"ORTHRUS_RATE_LIMIT": "lots"})
    assert load_settings(tmp_path, {"ORTHRUS_RATE_LIMIT": "5/second"}).rate_limit == "5/second"


def test_a_pbkdf2_count_mit_refuses_is_named_before_serving() -> None:
    """MIT's libk5crypto refuses counts below each enctype's default (RFC 3962: 4,096;
    RFC 8009: 32,768): the KDC says so when it serves Kerberos with such a count."""
    low = KDCSettings(realm="EX.TEST", database_url="sqlite://", kerberos_iterations=4096)
    warning = low.mit_iterations_warning()
    assert warning is not None and "32768" in warning and "kdc.toml" in warning
    sha1_only = msgspec.structs.replace(low, enctypes=("aes256-cts-hmac-sha1-96",))
    assert sha1_only.mit_iterations_warning() is None
    assert msgspec.structs.replace(low, kerberos_iterations=32768).mit_iterations_warning() is None
