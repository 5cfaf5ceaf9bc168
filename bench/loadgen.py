"""One Orthrus client process of a load: ``python -m bench.loadgen MODE ...``.

So that the client is not the bottleneck, every request is made before the timed window —
each with a fresh nonce and a fresh authenticator, used once — and turned into the exact
HTTP/1.1 bytes to send. Then, when the parent writes a line to standard input (all clients
start together), the requests go one at a time over one keep-alive connection (a raw
socket, no HTTP library), each answer read to its end and its status checked, and each
latency recorded. The run stops after ``--count`` requests or ``--secs`` seconds, whichever
comes first; one JSON line on standard output gives the result.

Modes:
  as_preauth   AS-REQ with PA-ENC-TIMESTAMP under bob's key from his keytab (one round trip,
               as ``orthrus kinit -k -t``)
  as_preauth2  the same login in MIT's two round trips: first without pre-authentication
               (answered 401 KDC_ERR_PREAUTH_REQUIRED), then with it; a login is the pair
  tgs          TGS-REQ for HTTP/bench.test with alice's TGT (fresh authenticator and subkey)
  http_get     GET PATH with ``Authorization: Ticket`` (fresh AP-REQ) or, with --open,
               without (an unprotected endpoint); HTTP/1.0 style, one connection per request
               if the server closes it
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from pathlib import Path

from orthrus.ap import AuthenticatorFields, make_ap_req
from orthrus.as_exchange import ASOptions, make_as_req, read_as_rep
from orthrus.codec import decode, encode
from orthrus.httpauth import encode_ap_req, http_binding
from orthrus.keytab import Keytab
from orthrus.messages import ASRep, TGSRep
from orthrus.principal import Principal
from orthrus.tgs_exchange import make_tgs_req, read_tgs_rep

HOST = "127.0.0.1"


def _post(path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _key(keytab: Path, principal: Principal):  # type: ignore[no-untyped-def]
    keys = Keytab.from_bytes(keytab.read_bytes()).keys_by_principal()[principal]
    return keys[max(keys)]


class Connection:
    """A keep-alive HTTP/1.1 connection that sends prepared bytes and reads one answer."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buf = b""
        self.reconnects = 0

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((HOST, self.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        return sock

    def request(self, data: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = self._connect()
        try:
            self.sock.sendall(data)
            return self._read()
        except (ConnectionError, _Closed):
            # The server closed the connection (a sync worker after each answer): again on a
            # new one. A request that was never answered was never processed.
            self.reconnects += 1
            self.sock.close()
            self.sock = self._connect()
            self.sock.sendall(data)
            return self._read()

    def _read(self) -> tuple[int, bytes]:
        assert self.sock is not None
        buf = self.buf
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            chunk = self.sock.recv(65536)
            if not chunk:
                raise _Closed
            buf += chunk
        head = buf[:end].decode("latin-1")
        status = int(head[9:12])
        length, close = 0, False
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        need = end + 4 + length
        while len(buf) < need:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise _Closed
            buf += chunk
        body = buf[end + 4 : need]
        self.buf = buf[need:]
        if close:
            self.sock.close()
            self.sock = None
        return status, body

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


class _Closed(Exception):
    pass


def _prepare(args: argparse.Namespace) -> tuple[list[list[bytes]], list[int], object]:
    """The requests (each a list of round trips), the expected statuses, and a checker."""
    realm_dir = Path(args.realm_dir)
    realm = args.realm
    now = time.time
    if args.mode in ("as_preauth", "as_preauth2"):
        bob = Principal.parse(f"bob@{realm}")
        key = _key(realm_dir / "bob.keytab", bob)
        options = ASOptions()
        reqs = []
        for _ in range(args.count):
            req = make_as_req(bob, now(), os.urandom, options, key)
            trips = [_post("/v1/as", encode(req))]
            if args.mode == "as_preauth2":
                probe = make_as_req(bob, now(), os.urandom, options)
                trips.insert(0, _post("/v1/as", encode(probe)))
            reqs.append(trips)
        statuses = [401, 200] if args.mode == "as_preauth2" else [200]
        first = make_as_req(bob, now(), os.urandom, options, key)

        def check(conn: Connection) -> None:
            status, body = conn.request(_post("/v1/as", encode(first)))
            assert status == 200, body[:300]
            read_as_rep(decode(body, ASRep), first, key, now())

        return reqs, statuses, check
    if args.mode == "tgs":
        alice = Principal.parse(f"alice@{realm}")
        key = _key(realm_dir / "alice.keytab", alice)
        conn = Connection(args.port)
        as_req = make_as_req(alice, now(), os.urandom, ASOptions(), key)
        status, body = conn.request(_post("/v1/as", encode(as_req)))
        assert status == 200, body[:300]
        tgt = read_as_rep(decode(body, ASRep), as_req, key, now())
        conn.close()
        service = Principal.parse(args.service)
        reqs = [
            [_post("/v1/tgs", encode(make_tgs_req(tgt, service, now(), os.urandom).message))]
            for _ in range(args.count)
        ]
        probe = make_tgs_req(tgt, service, now(), os.urandom)

        def check(conn: Connection) -> None:
            status, body = conn.request(_post("/v1/tgs", encode(probe.message)))
            assert status == 200, body[:300]
            read_tgs_rep(decode(body, TGSRep), probe, now())

        return reqs, [200], check
    if args.mode == "http_get":
        path = args.path
        head = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n"
        if args.open:
            one = [(head + "\r\n").encode()]
            reqs = [one] * args.count
        else:
            cred = _service_ticket(args)
            fields = AuthenticatorFields(checksum=http_binding("GET", path))
            reqs = []
            for _ in range(args.count):
                ap_req, _ = make_ap_req(cred, now(), os.urandom, fields)
                auth = f"Authorization: Ticket {encode_ap_req(ap_req)}\r\n\r\n"
                reqs.append([(head + auth).encode()])

        def check(conn: Connection) -> None:
            return None

        return reqs, [200], check
    raise SystemExit(f"unknown mode {args.mode}")


def _service_ticket(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """A ticket for the service from the KDC at --kdc-port (AS then TGS)."""
    realm_dir = Path(args.realm_dir)
    alice = Principal.parse(f"alice@{args.realm}")
    key = _key(realm_dir / "alice.keytab", alice)
    conn = Connection(args.kdc_port)
    as_req = make_as_req(alice, time.time(), os.urandom, ASOptions(), key)
    status, body = conn.request(_post("/v1/as", encode(as_req)))
    assert status == 200, body[:300]
    tgt = read_as_rep(decode(body, ASRep), as_req, key, time.time())
    tgs = make_tgs_req(tgt, Principal.parse(args.service), time.time(), os.urandom)
    status, body = conn.request(_post("/v1/tgs", encode(tgs.message)))
    assert status == 200, body[:300]
    conn.close()
    return read_tgs_rep(decode(body, TGSRep), tgs, time.time())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--kdc-port", type=int, default=0)
    parser.add_argument("--realm-dir", required=True)
    parser.add_argument("--realm", default="BENCH.TEST")
    parser.add_argument("--service", default="HTTP/bench.test@BENCH.TEST")
    parser.add_argument("--path", default="/whoami")
    parser.add_argument("--open", action="store_true")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--secs", type=float, required=True)
    args = parser.parse_args()

    prepare_started = time.perf_counter()
    reqs, statuses, check = _prepare(args)
    prepared = time.perf_counter() - prepare_started
    conn = Connection(args.port)
    check(conn)  # type: ignore[operator]
    print(json.dumps({"ready": True, "prepare_s": round(prepared, 3)}), flush=True)
    if not sys.stdin.readline():
        return

    lat: list[float] = []
    errors, first_error = 0, ""
    clock = time.perf_counter
    cpu0 = time.process_time()
    t0 = clock()
    deadline = t0 + args.secs
    done = 0
    for trips in reqs:
        s = clock()
        for data, want in zip(trips, statuses, strict=True):
            status, body = conn.request(data)
            if status != want:
                errors += 1
                if not first_error:
                    first_error = f"HTTP {status}: {body[:200]!r}"
        e = clock()
        lat.append(e - s)
        done += 1
        if e >= deadline:
            break
    elapsed = clock() - t0
    cpu = time.process_time() - cpu0
    conn.close()
    lat.sort()
    n = len(lat)
    print(
        json.dumps(
            {
                "ops": done,
                "secs": elapsed,
                "ops_per_s": done / elapsed if elapsed else 0.0,
                "p50_us": lat[n // 2] * 1e6 if n else 0.0,
                "p99_us": lat[min(n - 1, int(n * 0.99))] * 1e6 if n else 0.0,
                "errors": errors,
                "first_error": first_error,
                "exhausted": done == len(reqs),
                "reconnects": conn.reconnects,
                "cpu_s": cpu,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
