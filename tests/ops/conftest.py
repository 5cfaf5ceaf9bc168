"""Fixtures of the operations tests, shared so that each process starts once per session.

- ``cluster``: one realm in its own PostgreSQL schema, served by two ``orthrus-kdc serve``
  processes of two workers each, sharing lockout counters and the TGS replay cache in Redis
  under a prefix of their own; with a service principal and its keytab.
- ``redis_service``: ``python -m service_demo`` with two workers and the Redis replay cache,
  for the cluster's service principal, writing an audit log and per-worker metrics.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ops_support import (
    PG_URL,
    REDIS_URL,
    SERVICE,
    SQLITE_USERS,
    USERS,
    Cluster,
    Service,
    admin,
    ok,
    pg_schema,
    populate,
    redis_cleanup,
    redis_prefix,
    set_config,
    start_kdc,
    start_service,
    stop_all,
    wait_all,
)
from support import FAST_KDF, REALM, Realm


def require_backends() -> None:
    if not PG_URL:
        pytest.skip("ORTHRUS_TEST_PG_URL is not set (PostgreSQL; .ci/run sets it)")
    if not REDIS_URL:
        pytest.skip("ORTHRUS_TEST_REDIS_URL is not set (Redis; .ci/run sets it)")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_backends()
    base = tmp_path_factory.mktemp("cluster")
    with pg_schema("cluster") as db_url:
        directory = base / "kdc"
        Realm.create(directory, "--db-url", db_url)
        prefix = redis_prefix("cluster")
        keytab = base / "http.keytab"
        cluster = Cluster(directory, db_url, prefix, [], keytab)
        cluster.kdcs = [start_kdc(directory, 2, cluster.env) for _ in range(2)]
        try:
            populate(directory, USERS, SERVICE, keytab)
            wait_all(cluster.kdcs)
            yield cluster
        finally:
            stop_all(cluster.kdcs)
            redis_cleanup(REDIS_URL, prefix)
        for server in cluster.kdcs:
            assert not server.tracebacks(), server.log_text()


@pytest.fixture(scope="session")
def redis_service(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    directory = tmp_path_factory.mktemp("service")
    metrics_dir = directory / "metrics"
    metrics_dir.mkdir()
    prefix = redis_prefix("service")
    server = start_service(
        directory,
        cluster.keytab,
        workers=2,
        args=["--redis-url", REDIS_URL, "--redis-prefix", prefix],
        env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
    ).wait()
    try:
        yield Service(server, directory, metrics_dir, prefix)
    finally:
        server.stop()
        redis_cleanup(REDIS_URL, prefix)
    assert not server.tracebacks(), server.log_text()


@pytest.fixture(scope="session")
def sqlite_realm(tmp_path_factory: pytest.TempPathFactory) -> Realm:
    """EXAMPLE.TEST in SQLite (the embedded default) with the users of ``SQLITE_USERS``
    and HTTP/localhost in ``DIR/../http.keytab``; no server (each module starts its own)."""
    directory = tmp_path_factory.mktemp("sqlite") / "kdc"
    realm = Realm.create(directory)
    populate(directory, SQLITE_USERS, SERVICE, directory.parent / "http.keytab")
    return realm


@pytest.fixture(scope="session")
def short_realm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another EXAMPLE.TEST (SQLite, a master key of its own) whose kdc.toml says tickets
    live 2 s with 1 s of skew, holding HTTP/localhost: for pruning after the horizon, and as
    a dump sealed under another master key."""
    directory = tmp_path_factory.mktemp("short") / "kdc"
    ok(admin(directory, "init", "--realm", REALM, "--max-life", "2s", *FAST_KDF))
    set_config(directory, max_skew=1)
    populate(directory, {}, SERVICE, directory.parent / "http.keytab")
    return directory
