"""``kdc.toml`` settings (:mod:`kdc.config`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kdc.config import load_settings
from orthrus.errors import ConfigError


def test_a_bad_rate_limit_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "kdc.toml").write_text('realm = "EXAMPLE.TEST"\ndatabase_url = "sqlite://"\n')
    with pytest.raises(ConfigError, match="key 'rate_limit': 'lots' is not a rate limit"):
        load_settings(tmp_path, {"ORTHRUS_RATE_LIMIT": "lots"})
    assert load_settings(tmp_path, {"ORTHRUS_RATE_LIMIT": "5/second"}).rate_limit == "5/second"
