"""Private files (keytabs, credential caches, master key stashes): written atomically with
mode 0600, read and destroyed only when they are regular files owned by us and closed to
others, opened without following links; private directories (0700) to hold them; and lock
files that serialize their writers.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from orthrus.errors import ConfigError

__all__ = [
    "MAX_PRIVATE_FILE",
    "destroy_private",
    "locked_private",
    "private_directory",
    "read_private",
    "write_private",
]

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


def private_directory(path: Path, what: str) -> Path:
    """``path`` as a directory only we can use: created 0700 if missing; refused if it is a
    symbolic link, not a directory, another user's, or open to others.

    A name someone else made first (in a shared place) must not become ours: they could
    read, replace or delete what we put in it, or just stop us from writing there.
    """
    path = Path(path)
    with contextlib.suppress(FileExistsError):
        path.mkdir(parents=True, mode=0o700)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(
            f"{what} {path} is not a directory of ours ({exc.strerror}); "
            "remove it, or set ORTHRUS_CCACHE to a file in a directory only you can write"
        ) from None
    try:
        _check_ours(os.fstat(fd), path, what, 0o700)
    finally:
        os.close(fd)
    return path


def _check_ours(info: os.stat_result, path: Path, what: str, mode: int) -> None:
    """Refuse what another user owns (they may have made it first, to read or block what we
    put there) or what is open to others (``mode`` is the one to give it)."""
    if info.st_uid != os.geteuid():
        raise ConfigError(
            f"{what} {path} belongs to another user (uid {info.st_uid}); refusing it: "
            "remove it (ask an administrator) or use another path"
        )
    if info.st_mode & 0o077:
        raise ConfigError(
            f"{what} {path} is open to other users (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"run: chmod {mode:o} {path}"
        )


def _open_private(path: Path, what: str, flags: int) -> int:
    """Open ``path`` without following a link and check the file opened (``fstat``, never
    the path, which could change between a check and the open)."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(
                f"{what} {path} is a symbolic link; refusing it: give the real path"
            ) from None
        raise ConfigError(f"cannot open {what} {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{what} {path} is not a regular file")
        _check_ours(info, path, what, 0o600)
        if info.st_size > MAX_PRIVATE_FILE:
            raise ConfigError(f"{what} {path} is larger than {MAX_PRIVATE_FILE} bytes")
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def locked_private(path: Path, what: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the lock file ``path`` (created 0600, never written),
    waiting for the writer that holds it.

    A lock file another user made, or one open to others, is refused: whoever can open it
    can hold the lock forever and so stop every write of ours.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        raise ConfigError(
            f"cannot open {what} {path} ({exc.strerror}): remove it, or use a file in a "
            "directory only you can write"
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{what} {path} is not a regular file; remove it")
        _check_ours(info, path, what, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_private(path: Path, what: str) -> bytes:
    """Read a secret file; refuse links, other owners, and modes open to group or others."""
    path = Path(path)
    fd = _open_private(path, what, os.O_RDONLY)
    with os.fdopen(fd, "rb") as handle:
        return handle.read(MAX_PRIVATE_FILE + 1)


def destroy_private(path: Path, what: str) -> bool:
    """Overwrite a secret file with zeros, then delete it; False if there was none.

    The file is opened without following links and checked once open, so a link planted at
    ``path`` cannot make us zero another of our files.
    """
    path = Path(path)
    if not os.path.lexists(path):
        return False
    fd = _open_private(path, what, os.O_RDWR)
    with os.fdopen(fd, "r+b") as handle:
        handle.write(b"\0" * os.fstat(fd).st_size)
        handle.flush()
        os.fsync(fd)
    try:
        os.unlink(path)
    except FileNotFoundError:
        return True
    except OSError as exc:
        raise ConfigError(f"cannot delete {what} {path}: {exc.strerror}") from None
    return True
