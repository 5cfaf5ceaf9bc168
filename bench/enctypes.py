"""The enctypes' costs in-process: ``python -m bench.enctypes``.

For each RFC enctype: encrypt and decrypt of 300 octets under one key and usage (the
derived keys cached on the key, as in a KDC that reuses its keys), the derivation of Kc, Ke
and Ki for a key not seen before (a new session key), and string-to-key at the default
iteration count; beside them, in the same run, the JSON dialect's JWE
``A256GCM`` seal/open (the reference) and its Argon2id string-to-key.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.micro import timeit


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=2000, help="operations per round")
    parser.add_argument("--s2k-rounds", type=int, default=3)
    args = parser.parse_args()
    from orthrus.enctypes import ENCTYPES, KeyBlock
    from orthrus.keys import Key, KeyUsage
    from orthrus.principal import Principal
    from orthrus.pwkdf import KDFParams, string_to_key
    from orthrus.seal import open_sealed, seal

    usage = KeyUsage.TICKET
    plaintext = os.urandom(300)
    salt = b"BENCH.TESTalice"
    key = Key.generate(os.urandom, 1)
    token = seal(key, usage, plaintext, os.urandom)
    timeit("A256GCM (JWE) seal 300 B", lambda: seal(key, usage, plaintext, os.urandom), args.n)
    timeit("A256GCM (JWE) open 300 B", lambda: open_sealed(key, usage, token), args.n)
    params = KDFParams(salt=salt)
    alice = Principal(("alice",), "BENCH.TEST")
    timeit("A256GCM Argon2id s2k (default)", lambda: string_to_key("pw", alice, params, 1), 1, 3)
    for e in ENCTYPES.values():
        block = e.random_to_key(os.urandom(e.key_size))
        sealed = e.encrypt(block, usage, plaintext, os.urandom(16))
        timeit(
            f"{e.name} encrypt 300 B",
            lambda e=e, block=block: e.encrypt(block, usage, plaintext, os.urandom(16)),
            args.n,
        )
        timeit(
            f"{e.name} decrypt 300 B",
            lambda e=e, block=block, sealed=sealed: e.decrypt(block, usage, sealed),
            args.n,
        )
        timeit(
            f"{e.name} derive Kc, Ke, Ki (a new key)",
            lambda e=e, block=block: e.derive(KeyBlock(e.number, block.material), usage),
            args.n,
        )
        timeit(
            f"{e.name} s2k ({e.default_iterations} iterations)",
            lambda e=e: e.string_to_key("pw", salt),
            1,
            args.s2k_rounds,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
