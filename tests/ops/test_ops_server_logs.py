"""What the ops tests count as an error in a server's log (``Server.tracebacks``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ops_support import Server

#: A worker stopped by the quick shutdown (SIGINT) right after it answered: the test's client
#: had its reply, the worker had not yet returned from ``sendall`` (a loaded machine).
QUICK_SHUTDOWN = """\
[2026-12-04 22:26:19 +0000] [12760] [INFO] Handling signal: int
[2026-12-04 22:26:19 +0000] [12775] [ERROR] Error handling request
Traceback (most recent call last):
  File ".../gunicorn/workers/sync.py", line 190, in handle_request
    resp.write(item)
  File ".../gunicorn/workers/base.py", line 195, in handle_quit
    sys.exit(0)
SystemExit: 0
[2026-12-04 22:26:19 +0000] [12775] [INFO] Worker exiting (pid: 12775)
"""
APP_ERROR = """\
[2026-12-04 22:26:18 +0000] [12775] [ERROR] Error handling request /whoami
Traceback (most recent call last):
  File ".../service_lib/verifier.py", line 200, in verify
    raise KeyError(kvno)
KeyError: 3
"""


def server_with_log(tmp_path: Path, text: str) -> Server:
    log = tmp_path / "server.log"
    log.write_text(text)
    process = subprocess.Popen(["true"])  # a server that has exited: only its log is read
    process.wait()
    return Server(process, "http://127.0.0.1:9", log)


def test_an_app_traceback_is_found_and_the_quick_shutdown_exit_is_not(tmp_path: Path) -> None:
    assert server_with_log(tmp_path, QUICK_SHUTDOWN).tracebacks() == []
    found = server_with_log(tmp_path, APP_ERROR + QUICK_SHUTDOWN).tracebacks()
    assert len(found) == 1 and found[0].endswith("KeyError: 3")
