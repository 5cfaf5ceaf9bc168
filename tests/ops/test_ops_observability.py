"""Metrics summed over the workers (the KDC's own server's, the service's gunicorn's), and
the audit log: one JSON line per AS, TGS, password change, admin action and AP verification
with the required fields, and never a secret — every password, key and ticket the test used
is looked for in every log and output."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from ops_support import (
    SERVICE,
    USERS,
    Cluster,
    Secrets,
    Service,
    ap_token,
    audit_lines,
    metric,
    metric_files,
    needs_pg,
    needs_redis,
    service_ticket,
    whoami,
)
from support import REALM, User, http_login, kdc_post

from client_lib.ccache import CredentialCache
from orthrus.as_exchange import ASOptions, make_as_req
from orthrus.principal import Principal

pytestmark = [needs_pg, needs_redis]

#: What every exchange's audit line holds (``error`` too when refused).
FIELDS = {"timestamp", "event", "principal", "service", "client_address", "result", "request_id"}


def probe(url: str) -> httpx.Response:
    request = make_as_req(Principal.parse(f"zed@{REALM}"), time.time(), os.urandom, ASOptions())
    return kdc_post(url, "/v1/as", request)


def settles(read: Callable[[], float], expected: float) -> None:
    """Every scrape (whichever worker answers) gives ``expected``."""
    values = [read() for _ in range(4)]
    assert values == [expected] * 4, (values, expected)


def test_kdc_metrics_are_summed_over_its_workers(cluster: Cluster) -> None:
    kdc = cluster.kdcs[0]
    labels = {"component": "kdc", "exchange": "AS"}

    def requests() -> float:
        result = "KDC_ERR_PREAUTH_REQUIRED"
        return metric(kdc.url, "orthrus_requests_total", result=result, **labels)

    def latencies() -> float:
        return metric(kdc.url, "orthrus_request_duration_seconds_count", **labels)

    before, latency_before = requests(), latencies()
    sent = 0
    own = cluster.directory / "metrics" / str(kdc.process.pid)
    for _ in range(5):  # until both workers have answered some (usually the first round)
        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(lambda _: probe(kdc.url), range(24)))
        assert {r.json()["error"]["name"] for r in replies} == {"KDC_ERR_PREAUTH_REQUIRED"}
        sent += len(replies)
        if len(metric_files(own)) >= 2:
            break
    assert len(metric_files(own)) == 2, metric_files(own)  # two workers, one file each
    settles(requests, before + sent)
    settles(latencies, latency_before + sent)


def test_service_metrics_are_summed_over_its_workers(
    cluster: Cluster, redis_service: Service
) -> None:
    tgt, _ = http_login(cluster.kdcs[0].url, f"zed@{REALM}", USERS["zed"])
    credential = service_ticket(cluster.kdcs[0].url, tgt)
    labels = {"component": "service", "exchange": "AP"}

    def accepted() -> float:
        return metric(redis_service.url, "orthrus_requests_total", result="ok", **labels)

    before = accepted()
    with ThreadPoolExecutor(8) as pool:
        replies = list(
            pool.map(lambda _: whoami(redis_service.url, ap_token(credential)), range(24))
        )
    assert {r.status_code for r in replies} == {200}
    assert len(metric_files(redis_service.metrics_dir)) == 2
    settles(accepted, before + 24)
    assert metric(redis_service.url, "orthrus_request_duration_seconds_count", **labels) >= 24
    ready = httpx.get(redis_service.url + "/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "principals": [f"HTTP/localhost@{REALM}"]}


def find(entries: list[dict[str, Any]], **fields: object) -> dict[str, Any]:
    found = [e for e in entries if all(e.get(k) == v for k, v in fields.items())]
    assert found, f"no audit line with {fields}"
    return found[-1]


def test_audit_log_has_every_exchange_and_no_secret(
    cluster: Cluster, redis_service: Service, tmp_path: Path
) -> None:
    name, password, new_password = f"olive@{REALM}", "olive-s3cret-pass", "olive-n3w-s3cret"
    secrets = Secrets()
    secrets.add_text(password, new_password, *USERS.values())
    outputs: list[str] = []

    outputs.append(cluster.admin("addprinc", "--group", "auditors", name, input=f"{password}\n"))
    user = User(cluster.kdcs[0].url, tmp_path / "ccache")
    for result in (
        user.kinit(name, password),
        user.kinit(name, "a-wrong-password"),  # refused: the cache keeps the first TGT
        user.run("kvno", SERVICE),
        user.run("fetch", redis_service.url.replace("127.0.0.1", "localhost") + "/whoami"),
    ):
        outputs.append(result.stdout + result.stderr)
    assert json.loads(outputs[-1])["principal"] == name
    # A token made from the cached service ticket, as `orthrus token` would print it.
    cached = {str(c.server): c for c in CredentialCache(user.ccache).credentials()}
    token = ap_token(cached[SERVICE])
    first = whoami(redis_service.url, token, headers={"X-Request-Id": "req-audit-1"})
    replay = whoami(redis_service.url, token, headers={"X-Request-Id": "req-audit-2"})
    assert (first.status_code, replay.status_code) == (200, 401)
    assert first.headers["x-request-id"] == "req-audit-1"
    secrets.add_ccache(user.ccache)
    secrets.add_text(token)
    kpasswd = user.run("kpasswd", name, input=f"{password}\n{new_password}\n")
    assert kpasswd.returncode == 0, kpasswd.stderr
    outputs.append(kpasswd.stdout + kpasswd.stderr)
    secrets.add_keytab(cluster.keytab)
    secrets.add_master_key(cluster.directory / "master.key")

    kdc_lines = audit_lines(cluster.directory / "audit.log")
    tgs_name = f"krbtgt/{REALM}@{REALM}"
    as_ok = find(kdc_lines, event="as", principal=name, result="ok", service=tgs_name)
    as_refused = find(kdc_lines, event="as", principal=name, error="KDC_ERR_PREAUTH_FAILED")
    tgs = find(kdc_lines, event="tgs", principal=name, service=f"HTTP/localhost@{REALM}")
    changed = find(kdc_lines, event="kpasswd", result="ok")
    for entry in (as_ok, as_refused, tgs, changed):
        assert entry.keys() >= FIELDS, entry
        assert entry["client_address"] == "127.0.0.1"
        assert entry["component"] == "kdc"
    assert as_refused["error"] == "KDC_ERR_PREAUTH_FAILED"
    assert changed["service"] == f"kadmin/changepw@{REALM}" and changed["principal"] == name
    assert as_ok["request_id"] != tgs["request_id"]
    admin_entry = find(kdc_lines, event="admin", action="addprinc", principal=name)
    assert {"timestamp", "admin", "component"} <= admin_entry.keys()

    service_lines = audit_lines(redis_service.audit_log)
    ap_ok = find(service_lines, event="ap", principal=name, result="ok")
    assert ap_ok.keys() >= FIELDS
    assert ap_ok["service"] == f"HTTP/localhost@{REALM}"
    assert ap_ok["component"] == "service"
    assert find(service_lines, request_id="req-audit-1")["result"] == "ok"
    replayed = find(service_lines, request_id="req-audit-2")
    assert (replayed["result"], replayed["error"]) == ("refused", "KRB_AP_ERR_REPEAT")
    assert replayed["principal"] == name and replayed["client_address"] == "127.0.0.1"

    texts = {
        "kdc audit": (cluster.directory / "audit.log").read_text(),
        "service audit": redis_service.audit_log.read_text(),
        "service log": redis_service.server.log_text(),
        "outputs": "\n".join(outputs),
        **{f"kdc log {i}": s.log_text() for i, s in enumerate(cluster.kdcs)},
    }
    assert len(secrets.values) > 20
    # The search finds secrets where they are meant to be, as they are written there.
    assert secrets.found_in(user.ccache.read_text())
    assert secrets.found_in(cluster.keytab.read_text())
    assert secrets.found_in((cluster.directory / "master.key").read_text())
    for where, text in texts.items():
        assert secrets.found_in(text) == [], where
