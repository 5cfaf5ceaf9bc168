"""Private files (keytabs, credential caches, master key stashes): written atomically with
mode 0600, read only when they are regular files owned by us and closed to others.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from orthrus.errors import ConfigError

__all__ = ["MAX_PRIVATE_FILE", "read_private", "write_private"]

MAX_PRIVATE_FILE = 4 * 1024 * 1024


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (temp file, fsync, rename), mode 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_private(path: Path, what: str) -> bytes:
    """Read a secret file; refuse links, other owners, and modes open to group or others."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(
                f"{what} {path} is a symbolic link; refusing it: give the real path"
            ) from None
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{what} {path} is not a regular file")
        if info.st_uid != os.geteuid():
            raise ConfigError(f"{what} {path} belongs to another user; refusing it")
        if info.st_mode & 0o077:
            raise ConfigError(
                f"{what} {path} is open to other users (mode {stat.S_IMODE(info.st_mode):04o}); "
                f"run: chmod 600 {path}"
            )
        if info.st_size > MAX_PRIVATE_FILE:
            raise ConfigError(f"{what} {path} is larger than {MAX_PRIVATE_FILE} bytes")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(MAX_PRIVATE_FILE + 1)
    finally:
        os.close(fd)
