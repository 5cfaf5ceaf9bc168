"""Two processes writing one credentials cache, and a third reading it all along.

Each writer adds its own service tickets one by one (a read-modify-write of the whole
file); without the lock one writer's update would overwrite the other's, and without the
atomic rename the reader would see half-written files. Both writers start on one signal
(a line on their stdin), not after a sleep; the reader stops when a file says the writers
are done.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from core.core_realm import T0, CoreRealm

from client_lib.ccache import CredentialCache

STORES = 60

WRITER = textwrap.dedent(
    """
    import sys
    import msgspec
    from client_lib.ccache import CredentialCache
    from orthrus.principal import Principal

    cache = CredentialCache(sys.argv[1])
    tag = sys.argv[2]
    tgt = cache.credentials()[0]
    sys.stdin.readline()
    for i in range(int(sys.argv[3])):
        server = Principal.parse(f"svc/{tag}{i}@EX.TEST")
        cache.store(msgspec.structs.replace(tgt, server=server))
    """
)

READER = textwrap.dedent(
    """
    import os, sys
    from client_lib.ccache import CredentialCache

    cache, done = CredentialCache(sys.argv[1]), sys.argv[2]
    reads = failures = 0
    print("ready", flush=True)
    while not os.path.exists(done) or reads == 0:
        try:
            cache.credentials()
        except Exception as exc:
            failures += 1
            print(type(exc).__name__, exc, file=sys.stderr)
        reads += 1
    print(reads, failures)
    """
)


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_writers_sharing_a_cache_lose_nothing_and_a_reader_never_sees_a_torn_file(
    tmp_path: Path,
) -> None:
    core = CoreRealm()
    alice = core.add_user("alice", "alice-pass")
    tgt = core.login(alice, core.user_key(alice, "alice-pass"), T0)
    path, done = tmp_path / "ccache", tmp_path / "writers-done"
    CredentialCache(path).initialize(alice, tgt)

    reader = _python(READER, str(path), str(done))
    writers = [_python(WRITER, str(path), tag, str(STORES)) for tag in "ab"]
    assert reader.stdout is not None and reader.stdout.readline() == "ready\n"
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.close()
    for writer in writers:
        assert writer.wait(timeout=300) == 0, writer.stderr.read() if writer.stderr else ""
    done.touch()
    out, err = reader.communicate(timeout=60)
    reads, failures = map(int, out.split())
    assert failures == 0, err
    assert reads > 0

    servers = {str(c.server) for c in CredentialCache(path).credentials()}
    expected = {f"svc/{tag}{i}@EX.TEST" for tag in "ab" for i in range(STORES)}
    assert expected <= servers, f"{len(expected - servers)} updates lost"
    assert len(servers) == 2 * STORES + 1
