"""PostgreSQL: a realm made by ``init --db-url`` in its own schema (alembic migrations), served by
two ``orthrus-kdc serve`` processes of two workers each, consistent at once; the database
down at start (one line, password hidden, non-zero exit) and while serving (503, nothing
half-written, recovery)."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from ops_support import (
    PG_URL,
    USERS,
    Cluster,
    TCPProxy,
    admin,
    metric,
    needs_pg,
    needs_redis,
    newest_migration,
    pg_execute,
    pg_snapshot,
    start_kdc,
    with_port,
)
from support import REALM, User, free_port, http_login, kdc_post

from orthrus.as_exchange import ASOptions, make_as_req
from orthrus.principal import Principal

pytestmark = [needs_pg, needs_redis]


def as_probe(url: str, name: str) -> httpx.Response:
    """An AS-REQ without pre-authentication (answers PREAUTH_REQUIRED or UNKNOWN)."""
    request = make_as_req(Principal.parse(name), time.time(), os.urandom, ASOptions())
    return kdc_post(url, "/v1/as", request)


def test_schema_is_managed_by_alembic(cluster: Cluster) -> None:
    schema = cluster.db_url.rpartition("%3D")[2]
    tables = {
        row[0]
        for row in pg_execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", schema
        )
    }
    assert {"alembic_version", "principals", "keys", "groups", "signing_keys"} <= tables
    assert pg_execute(f'SELECT version_num FROM "{schema}".alembic_version') == [
        (newest_migration(),)
    ]


def test_a_change_through_one_process_is_seen_by_the_other_at_once(
    cluster: Cluster, tmp_path: Path
) -> None:
    first, second = (server.url for server in cluster.kdcs)
    name, password, new_password = f"nina@{REALM}", "nina-first-pass", "nina-second-pass"
    # Both processes (every worker) have looked the name up already: nothing may be cached.
    with ThreadPoolExecutor(8) as pool:
        unknown = list(pool.map(lambda url: as_probe(url, name), [first, second] * 4))
    assert {r.json()["error"]["name"] for r in unknown} == {"KDC_ERR_C_PRINCIPAL_UNKNOWN"}

    cluster.admin("addprinc", name, input=f"{password}\n")
    user = User(second, tmp_path / "ccache")
    result = user.kinit(name, password)
    assert result.returncode == 0, result.stderr
    assert f"Default principal: {name}" in user.run("klist", check=True).stdout
    http_login(first, name, password)

    cluster.admin("cpw", name, input=f"{new_password}\n")
    http_login(first, name, new_password)
    http_login(second, name, new_password)
    old = user.kinit(name, password)  # the old password is gone everywhere
    assert old.returncode != 0 and "KDC_ERR_PREAUTH_FAILED" in old.stderr

    cluster.admin("delprinc", "--force", name)
    for url in (first, second):
        assert as_probe(url, name).json()["error"]["name"] == "KDC_ERR_C_PRINCIPAL_UNKNOWN"


def test_database_down_at_start_is_one_clear_line(cluster: Cluster, tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql+psycopg://orthrus:pg-hunter2-pass@127.0.0.1:{port}/nowhere"
    with ThreadPoolExecutor(2) as pool:
        init_job = pool.submit(admin, tmp_path / "new", "init", "--realm", REALM, "--db-url", url)
        serve_job = pool.submit(
            admin,
            cluster.directory,
            "serve",
            "--kerberos-port",
            "0",
            "--port",
            str(free_port()),
            env={"ORTHRUS_DB_URL": url},
        )
        init, serve = init_job.result(), serve_job.result()
    for result in (init, serve):
        assert result.returncode != 0
        assert f"postgresql+psycopg://orthrus:***@127.0.0.1:{port}/nowhere" in result.stderr
        assert "pg-hunter2-pass" not in result.stderr + result.stdout
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    # init checked the database before writing anything.
    assert not (tmp_path / "new" / "kdc.toml").exists()
    assert not (tmp_path / "new" / "master.key").exists()


def test_database_down_while_serving(cluster: Cluster) -> None:
    """A KDC reaching PostgreSQL through a proxy we cut: 503 (never 500) while it is gone,
    an admin change refused without a trace, and service again as soon as it is back."""
    target = urlsplit(PG_URL.replace("postgresql+psycopg", "postgresql"))
    proxy = TCPProxy((target.hostname or "127.0.0.1", target.port or 5432))
    proxy.start()
    proxied = {**cluster.env, "ORTHRUS_DB_URL": with_port(cluster.db_url, proxy.port)}
    kdc = start_kdc(cluster.directory, 1, proxied).wait()
    name, password = f"zed@{REALM}", USERS["zed"]
    try:
        http_login(kdc.url, name, password)
        before = pg_snapshot(cluster.db_url)

        proxy.stop()
        with ThreadPoolExecutor(4) as pool:
            replies = list(pool.map(lambda _: as_probe(kdc.url, name), range(8)))
        assert {r.status_code for r in replies} == {503}
        labels = {"component": "kdc", "exchange": "AS", "result": "UNAVAILABLE"}
        assert metric(kdc.url, "orthrus_requests_total", **labels) == 8
        error = replies[0].json()["error"]
        assert (error["name"], error["code"]) == ("UNAVAILABLE", 503)
        assert "is unavailable" in error["message"] and "try again" in error["message"]
        ready = httpx.get(kdc.url + "/readyz", timeout=10)
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
        assert httpx.get(kdc.url + "/livez", timeout=10).status_code == 200
        refused = admin(cluster.directory, "cpw", name, input="zed-other-pass\n", env=proxied)
        assert refused.returncode != 0 and "unavailable" in refused.stderr
        assert "Traceback" not in refused.stderr

        proxy.start()
        deadline = time.monotonic() + 60
        while as_probe(kdc.url, name).status_code != 401:
            assert time.monotonic() < deadline, "the KDC did not recover"
            time.sleep(0.2)
        http_login(kdc.url, name, password)
        assert httpx.get(kdc.url + "/readyz", timeout=10).status_code == 200
        # The refused change left nothing behind: every row as before.
        assert pg_snapshot(cluster.db_url) == before
    finally:
        kdc.stop()
        proxy.stop()
    assert not kdc.tracebacks(), kdc.log_text()
    assert " 500 " not in kdc.log_text()


def test_readyz_and_livez(cluster: Cluster) -> None:
    for server in cluster.kdcs:
        assert httpx.get(server.url + "/livez", timeout=10).json() == {"status": "ok"}
        ready = httpx.get(server.url + "/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json()["realm"] == REALM
