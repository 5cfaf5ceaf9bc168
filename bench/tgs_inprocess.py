"""The Kerberos-wire TGS in-process: ``python -m bench.tgs_inprocess [--profile]``.

The in-memory realm of the core tests (``tests/core/kerberos_realm.py``: a KDC context with
RFC 3962/8009 keys, no I/O) logs a user in over DER, then answers TGS-REQs for one service
with that TGT through :func:`orthrus.kerberos.kdc.answer`, bytes in and bytes out, as the
KDC's UDP and TCP listeners call it. Each request has its own authenticator (the TGS replay
cache sees each once); they are built before the clock starts. Prints µs of CPU per TGS,
best of ``--rounds``; ``--profile`` prints cProfile's top functions of one more round.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "core")]

from core_realm import T0  # noqa: E402
from kerberos_realm import KerberosRealm  # noqa: E402

from orthrus.kerberos import kdc  # noqa: E402
from orthrus.kerberos.client import tgs_request  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    realm = KerberosRealm()
    alice = realm.add_krb_user("alice", "correct horse")
    service = realm.add_krb_service("HTTP/bench.test")
    tgt = realm.krb_login(alice, "correct horse")

    def batch() -> list[bytes]:
        return [tgs_request(tgt, service, T0, os.urandom).encode() for _ in range(args.requests)]

    def run(requests: list[bytes]) -> float:
        started = time.process_time()
        for data in requests:
            answer = kdc.answer(data, realm.ctx, T0)
            assert answer.error is None, answer.message
        return (time.process_time() - started) / len(requests)

    best = min(run(batch()) for _ in range(args.rounds))
    print(f"in-process DER TGS: {best * 1e6:,.0f} µs per request (best of {args.rounds})")
    if args.profile:
        requests = batch()
        profiler = cProfile.Profile()
        profiler.runcall(run, requests)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
