"""Redis shared by every KDC process and every service worker: lockout counters exact under
concurrent guesses over two KDC processes, the TGS and AP replay caches refusing a replay sent
to another process, and Redis down at start (one line, password hidden, non-zero exit) or
while serving (503 with a clear error, never accepted unchecked, recovery)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import msgspec
from ops_support import (
    REDIS_URL,
    SERVICE,
    USERS,
    Cluster,
    RedisServer,
    Service,
    admin,
    ap_token,
    audit_lines,
    metric,
    needs_pg,
    needs_redis,
    needs_redis_server,
    redis_keys,
    service_ticket,
    start_kdc,
    start_service,
    whoami,
)
from support import REALM, clean_env, free_port, http_login, kdc_post

from orthrus.as_exchange import ASOptions, make_as_req
from orthrus.principal import Principal
from orthrus.pwkdf import KDFParams, string_to_key
from orthrus.tgs_exchange import make_tgs_req

pytestmark = [needs_pg, needs_redis]

#: lockout_attempts of the cluster's kdc.toml (the default).
LIMIT = 5


def wrong_password_requests(url: str, name: str, count: int) -> list[bytes]:
    """``count`` distinct AS-REQs pre-authenticated with a wrong password."""
    from orthrus import codec

    principal = Principal.parse(name)
    probe = make_as_req(principal, time.time(), os.urandom, ASOptions())
    hint = kdc_post(url, "/v1/as", probe).json()["error"]["data"]
    params = msgspec.convert(hint["kdf"], KDFParams)
    key = string_to_key("not-the-password", principal, params, hint["kvno"])
    return [
        codec.encode(make_as_req(principal, time.time(), os.urandom, ASOptions(), key))
        for _ in range(count)
    ]


def kdc_metric(cluster: Cluster, name: str, **labels: str) -> float:
    """A metric summed over both KDC processes (each sums its own workers)."""
    return sum(metric(s.url, name, component="kdc", **labels) for s in cluster.kdcs)


def test_lockout_is_exactly_n_across_processes(cluster: Cluster) -> None:
    name = f"mallory@{REALM}"
    urls = [s.url for s in cluster.kdcs]
    lockouts = kdc_metric(cluster, "orthrus_lockouts_total")
    bodies = wrong_password_requests(urls[0], name, 16)
    with ThreadPoolExecutor(16) as pool:
        replies = list(
            pool.map(lambda i: kdc_post(urls[i % 2], "/v1/as", bodies[i]), range(len(bodies)))
        )
    names = Counter(r.json()["error"]["name"] for r in replies)
    assert names == {"KDC_ERR_PREAUTH_FAILED": LIMIT, "KDC_ERR_CLIENT_REVOKED": 16 - LIMIT}
    statuses = {"KDC_ERR_PREAUTH_FAILED": 401, "KDC_ERR_CLIENT_REVOKED": 403}
    assert all(r.status_code == statuses[r.json()["error"]["name"]] for r in replies)
    # Locked everywhere: the right password does not help now.
    for url in urls:
        probe = kdc_post(url, "/v1/as", wrong_password_requests(url, name, 1)[0])
        assert probe.json()["error"]["name"] == "KDC_ERR_CLIENT_REVOKED"
    assert redis_keys(REDIS_URL, f"{cluster.prefix}:{REALM}:lockout:locked:{name}")
    assert kdc_metric(cluster, "orthrus_lockouts_total") == lockouts + 16 - LIMIT + 2

    result = admin(cluster.directory, "modprinc", "--unlock", name, env=cluster.env)
    assert result.returncode == 0, result.stderr
    assert "unlocked" in result.stdout
    http_login(urls[1], name, USERS["mallory"])
    assert not redis_keys(REDIS_URL, f"{cluster.prefix}:{REALM}:lockout:locked:{name}")


def test_tgs_replay_to_the_other_process_is_refused(cluster: Cluster) -> None:
    first, second = (s.url for s in cluster.kdcs)
    tgt, _ = http_login(first, f"trent@{REALM}", USERS["trent"])
    replays = kdc_metric(cluster, "orthrus_replay_rejections_total", exchange="TGS")
    request = make_tgs_req(tgt, Principal.parse(SERVICE), time.time(), os.urandom)
    assert kdc_post(first, "/v1/tgs", request.message).status_code == 200
    again = kdc_post(second, "/v1/tgs", request.message)
    assert again.status_code == 400 and again.json()["error"]["name"] == "KRB_AP_ERR_REPEAT"

    # Of N simultaneous copies spread over both processes (4 workers), exactly one succeeds.
    for _ in range(3):
        body = make_tgs_req(tgt, Principal.parse(SERVICE), time.time(), os.urandom).message
        urls = [first, second] * 4
        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(lambda url, b=body: kdc_post(url, "/v1/tgs", b), urls))
        assert sorted(r.status_code for r in replies) == [200] + [400] * 7
        assert {r.json()["error"]["name"] for r in replies if r.status_code != 200} == {
            "KRB_AP_ERR_REPEAT"
        }
    after = kdc_metric(cluster, "orthrus_replay_rejections_total", exchange="TGS")
    assert after == replays + 1 + 3 * 7


def test_ap_replay_to_another_worker_is_refused(cluster: Cluster, redis_service: Service) -> None:
    tgt, _ = http_login(cluster.kdcs[0].url, f"trent@{REALM}", USERS["trent"])
    credential = service_ticket(cluster.kdcs[1].url, tgt)
    token = ap_token(credential)
    replays_before = metric(
        redis_service.url, "orthrus_replay_rejections_total", component="service"
    )
    assert whoami(redis_service.url, token).status_code == 200
    with ThreadPoolExecutor(8) as pool:
        replays = list(pool.map(lambda _: whoami(redis_service.url, token), range(16)))
    assert {r.status_code for r in replays} == {401}
    assert {r.json()["error"]["name"] for r in replays} == {"KRB_AP_ERR_REPEAT"}
    # Of N simultaneous copies of one request, exactly one is accepted.
    for _ in range(3):
        fresh = ap_token(credential)
        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(lambda _, t=fresh: whoami(redis_service.url, t), range(8)))
        assert sorted(r.status_code for r in replies) == [200] + [401] * 7
    replays = metric(redis_service.url, "orthrus_replay_rejections_total", component="service")
    assert replays == replays_before + 16 + 3 * 7
    # Both workers took part, through one Redis cache whose entries expire with the window.
    files = {p.name for p in redis_service.metrics_dir.glob("counter_*.db")}
    assert len(files) >= 2, files
    keys = redis_keys(REDIS_URL, f"{redis_service.prefix}:rc:")
    assert len(keys) >= 4
    import redis

    ttl = redis.Redis.from_url(REDIS_URL).pttl(keys[0])
    assert 0 < ttl <= 2 * 300 * 1000


def test_redis_down_at_start_is_one_clear_line(cluster: Cluster, tmp_path: Path) -> None:
    port = free_port()
    url = f"redis://orthrus:redis-hunter2-pass@127.0.0.1:{port}/0"
    with ThreadPoolExecutor(1) as pool:
        kdc_job = pool.submit(
            admin,
            cluster.directory,
            "serve",
            "--kerberos-port",
            "0",
            "--port",
            str(free_port()),
            env={"ORTHRUS_REDIS_URL": url},
        )
        service = subprocess.run(
            [
                sys.executable,
                "-m",
                "service_demo",
                "--keytab",
                str(cluster.keytab),
                "--principal",
                f"HTTP/localhost@{REALM}",
                "--port",
                str(free_port()),
                "--db",
                str(tmp_path / "notes.sqlite"),
                "--redis-url",
                url,
            ],
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,
        )
        kdc = kdc_job.result()
    for result in (kdc, service):
        assert result.returncode != 0
        assert f"redis://orthrus:***@127.0.0.1:{port}/0" in result.stderr, result.stderr
        assert "redis-hunter2-pass" not in result.stderr + result.stdout
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@needs_redis_server
def test_redis_down_while_serving(cluster: Cluster, tmp_path: Path) -> None:
    """Our own redis-server, killed under a running KDC and a running 2-worker service:
    503 with a clear error at both (never a 500, never accepted unchecked), and service
    again once it is back on the same port."""
    own = RedisServer(tmp_path)
    own.start()
    env = {"ORTHRUS_REDIS_URL": own.url, "ORTHRUS_REDIS_PREFIX": "down-test"}
    kdc = start_kdc(cluster.directory, 1, env)
    service = start_service(tmp_path / "svc", cluster.keytab, 1, ["--redis-url", own.url])
    name, password = f"trent@{REALM}", USERS["trent"]
    try:
        kdc.wait()
        service.wait()
        tgt, _ = http_login(kdc.url, name, password)
        credential = service_ticket(kdc.url, tgt)
        assert whoami(service.url, ap_token(credential)).status_code == 200
        guess = wrong_password_requests(kdc.url, name, 1)[0]

        own.kill()
        login = kdc_post(kdc.url, "/v1/as", guess)
        tgs = kdc_post(
            kdc.url,
            "/v1/tgs",
            make_tgs_req(tgt, Principal.parse(SERVICE), time.time(), os.urandom).message,
        )
        for reply in (login, tgs):
            assert reply.status_code == 503, reply.text
            assert "Redis is unavailable" in reply.json()["error"]["message"]
        # What was turned away is counted and audited (an operator sees the outage).
        for exchange, reply in (("AS", login), ("TGS", tgs)):
            labels = {"component": "kdc", "exchange": exchange, "result": "UNAVAILABLE"}
            assert metric(kdc.url, "orthrus_requests_total", **labels) == 1
            audited = [
                line
                for line in audit_lines(cluster.directory / "audit.log")
                if line.get("request_id") == reply.headers["X-Request-Id"]
            ]
            assert [(a["result"], a["error"]) for a in audited] == [("refused", "UNAVAILABLE")]
        with ThreadPoolExecutor(4) as pool:
            refused = list(pool.map(lambda _: whoami(service.url, ap_token(credential)), range(6)))
        assert {r.status_code for r in refused} == {503}
        body = refused[0].json()["error"]
        assert body["name"] == "UNAVAILABLE" and "Redis" in body["message"]
        assert refused[0].headers["retry-after"] == "1"
        ready = httpx.get(service.url + "/readyz", timeout=10)
        assert ready.status_code == 503 and "replay_cache" in ready.json()["problems"]
        assert metric(service.url, "orthrus_requests_total", result="UNAVAILABLE") == 6

        own.start()
        deadline = time.monotonic() + 60
        while whoami(service.url, ap_token(credential)).status_code != 200:
            assert time.monotonic() < deadline, "the service did not recover"
            time.sleep(0.2)
        http_login(kdc.url, name, password)
        # Redis came back empty: the KDC refuses a TGS-REQ made before it noticed the loss
        # (RFC 4120 §3.2.3), then accepts the client's fresh one.
        stale = make_tgs_req(tgt, Principal.parse(SERVICE), time.time(), os.urandom).message
        tgs = kdc_post(kdc.url, "/v1/tgs", stale)
        assert tgs.status_code == 400 and "reset at" in tgs.json()["error"]["message"]
        service_ticket(kdc.url, tgt)
        assert httpx.get(service.url + "/readyz", timeout=10).status_code == 200
    finally:
        kdc.stop()
        service.stop()
        own.kill()
    for log in (kdc.log_text(), service.log_text()):
        assert "Traceback" not in log
        assert "internal error" not in log


@needs_redis_server
def test_ap_replay_after_redis_restarted_empty_is_refused(cluster: Cluster, tmp_path: Path) -> None:
    """Issue 12 §3: ``service_demo --workers 2 --redis-url``: a token accepted, its replay
    refused, then Redis restarted with nothing kept (no persistence). The service notices
    the loss (the marker key is gone) and refuses the replay again, with an audit line; a
    fresh token is accepted."""
    own = RedisServer(tmp_path)
    own.start()
    service = start_service(tmp_path / "svc", cluster.keytab, 2, ["--redis-url", own.url])
    try:
        service.wait()
        tgt, _ = http_login(cluster.kdcs[0].url, f"trent@{REALM}", USERS["trent"])
        credential = service_ticket(cluster.kdcs[0].url, tgt)
        token = ap_token(credential)
        assert whoami(service.url, token).status_code == 200
        assert whoami(service.url, token).status_code == 401
        own.kill()
        own.start()
        again = whoami(service.url, token)
        assert again.status_code == 401
        error = again.json()["error"]
        assert error["name"] == "KRB_AP_ERR_REPEAT" and "reset at" in error["message"]
        audited = [a for a in audit_lines(tmp_path / "svc" / "audit.log") if a.get("error")]
        assert audited[-1]["error"] == "KRB_AP_ERR_REPEAT"
        assert audited[-1]["replay_cache_since"] == error["data"]["replay_cache_since"]
        assert whoami(service.url, ap_token(credential)).status_code == 200
    finally:
        service.stop()
        own.kill()
    assert not service.tracebacks(), service.log_text()
