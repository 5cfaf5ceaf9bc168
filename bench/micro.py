"""The KDC's per-request costs in-process, without HTTP: ``python -m bench.micro``.

Builds a throwaway realm, then times (CPU time, best of several rounds) each step of a TGS
and an AS request: decoding, the principal lookup, the exchange function, the signature
of the authorization data, the whole Flask app through a WSGI call. Useful to see where a
change helps before running the full side-by-side benchmark.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.orthrus_realm import SERVICE, OrthrusRealm


def timeit(name: str, fn: Callable[[], Any], n: int, rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time() - t) / n)
    print(f"{name:55s} {best * 1e6:9.1f} µs", flush=True)
    return best


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=2000)
    args = parser.parse_args()
    from kdc.app import create_app
    from kdc.backends import make_backends
    from kdc.config import load_settings
    from kdc.store import Store
    from orthrus.as_exchange import ASOptions, handle_as_req, make_as_req, read_as_rep
    from orthrus.codec import decode, encode
    from orthrus.keytab import Keytab
    from orthrus.messages import ASReq, TGSReq
    from orthrus.principal import Principal
    from orthrus.realm import KDCContext
    from orthrus.tgs_exchange import handle_tgs_req, make_tgs_req

    with tempfile.TemporaryDirectory(prefix="orthrus-micro-") as tmp:
        realm = OrthrusRealm(Path(tmp))
        realm.setup()
        os.environ["ORTHRUS_KDC_DIR"] = str(realm.kdc_dir)
        settings = load_settings(realm.kdc_dir)
        store = Store.open(settings)
        backends = make_backends(settings, 2)
        ctx = KDCContext(
            policy=settings.policy,
            lookup=store.lookups.lookup,
            replay_cache=backends.replay_cache,
            entropy=os.urandom,
            signer=store.signer(),
            guard=backends.guard,
        )
        app = create_app(settings, store, backends)
        bob = Principal.parse("bob@BENCH.TEST")
        alice = Principal.parse("alice@BENCH.TEST")
        service = Principal.parse(SERVICE)

        def key(name: str, who: Principal) -> Any:
            keys = Keytab.from_bytes((realm.dir / f"{name}.keytab").read_bytes())
            table = keys.keys_by_principal()[who]
            return table[max(table)]

        bob_key, alice_key = key("bob", bob), key("alice", alice)
        as_req = make_as_req(alice, time.time(), os.urandom, ASOptions(), alice_key)
        tgt = read_as_rep(handle_as_req(as_req, ctx, time.time()), as_req, alice_key, time.time())
        n = args.n
        total = n * 5 + 10
        tgs_reqs = iter(
            [make_tgs_req(tgt, service, time.time(), os.urandom).message for _ in range(total * 3)]
        )
        tgs_bodies = iter(
            [
                encode(make_tgs_req(tgt, service, time.time(), os.urandom).message)
                for _ in range(total * 3)
            ]
        )
        as_reqs = [
            make_as_req(bob, time.time(), os.urandom, ASOptions(), bob_key) for _ in range(200)
        ]
        as_body = encode(as_reqs[0])
        tgs_body = encode(make_tgs_req(tgt, service, time.time(), os.urandom).message)

        timeit("decode TGS-REQ", lambda: decode(tgs_body, TGSReq), n)
        timeit("decode AS-REQ", lambda: decode(as_body, ASReq), n)
        timeit("store.lookup(service)", lambda: store.lookup(service), n)
        timeit("handle_tgs_req", lambda: handle_tgs_req(next(tgs_reqs), ctx, time.time()), n)
        timeit("handle_as_req (pre-auth)", lambda: handle_as_req(as_reqs[0], ctx, time.time()), n)
        part = decode(tgs_body, TGSReq)
        from orthrus.keys import Key
        from orthrus.messages import EncryptionKey, EncTicketPart

        tp = EncTicketPart(
            flags=["initial"],
            key=EncryptionKey.from_key(Key.generate(os.urandom)),
            client=alice,
            authtime=1,
            starttime=1,
            endtime=2,
        )
        timeit("AuthzSigner.sign", lambda: ctx.signer.sign(tp, service, ("staff",)), n)  # type: ignore[union-attr]
        timeit(
            "replay cache check_and_store",
            lambda: ctx.replay_cache.check_and_store(
                os.urandom(32), time.time() + 300, time.time()
            ),
            n,
        )
        del part

        def wsgi(path: str, body_iter: Any) -> Callable[[], Any]:
            def call() -> Any:
                body = next(body_iter) if not isinstance(body_iter, bytes) else body_iter
                env = {
                    "REQUEST_METHOD": "POST",
                    "PATH_INFO": path,
                    "SERVER_NAME": "127.0.0.1",
                    "SERVER_PORT": "80",
                    "SERVER_PROTOCOL": "HTTP/1.1",
                    "CONTENT_TYPE": "application/json",
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_ADDR": "127.0.0.1",
                    "wsgi.input": io.BytesIO(body),
                    "wsgi.url_scheme": "http",
                    "wsgi.errors": sys.stderr,
                    "wsgi.multithread": True,
                    "wsgi.multiprocess": True,
                    "wsgi.run_once": False,
                    "wsgi.version": (1, 0),
                }
                out = b"".join(app(env, lambda status, headers, exc=None: None))
                return out

            return call

        timeit("WSGI app /v1/tgs (whole)", wsgi("/v1/tgs", tgs_bodies), n)
        timeit("WSGI app /v1/as (whole)", wsgi("/v1/as", as_body), n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
