"""Files written whole or not at all: a save interrupted by a full disk or Ctrl-C leaves the
previous file as it was, never a half-written one, and no temporary file behind."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Write a file by ``write(handle)`` so that ``path`` is replaced whole or not at all.

    The bytes go to a new temporary file in the same folder, are flushed to disk, and the
    file is then renamed over ``path``. If writing fails or is interrupted, the temporary
    file is removed and whatever was at ``path`` is left as it was. Returns ``path``.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {path}: there is no folder {folder}")
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a folder")
    fd, temporary = _create_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())                  # the bytes are on disk before the rename
        os.replace(temporary, path)                    # atomic: the old file or the new, never half
    except BaseException:                              # KeyboardInterrupt too
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_folder(folder)
    return path


def _create_beside(path: Path) -> tuple[int, Path]:
    """A new, empty temporary file in ``path``'s folder, opened for writing: (fd, its path).

    Created with mode 0o666 less the umask, as any new file would be, so that the model file
    it becomes is not private the way ``tempfile.mkstemp``'s 0o600 would make it.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file beside {path}")


def _sync_folder(folder: Path) -> None:
    """Make the rename durable where the system allows syncing a folder (POSIX)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text_atomically(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` with ``write_atomically``."""
    return write_atomically(path, lambda handle: handle.write(text.encode("utf-8")))


def stale_temporaries(folder: str | os.PathLike, names: tuple[str, ...]) -> list[Path]:
    """The temporary files ``write_atomically`` leaves beside ``folder/name`` when the process is
    killed mid-write (``.{name}.{12 hex digits}.tmp``), for each of ``names``; nothing else."""
    folder = Path(folder)
    found = []
    for name in names:
        for path in folder.glob(f".{name}.*.tmp"):
            middle = path.name[len(name) + 2:-4]
            if len(middle) == 12 and all(c in "0123456789abcdef" for c in middle) and path.is_file():
                found.append(path)
    return sorted(found)


class FolderInUse(OSError):
    """Another process holds the lock of an output folder."""


class FolderLock:
    """An exclusive lock on a folder, held by one process at a time: ``with FolderLock(folder):``.

    The lock is a file ``folder/LOCK_NAME`` holding the owner's process id, locked with
    ``fcntl.flock``; the system releases it when the process ends however it ends (``kill -9``
    too), so a lock is never stale. Entering raises ``FolderInUse`` naming the holder's process
    id when another process holds it. The file is removed on leaving. Where ``fcntl`` does not
    exist (Windows) the lock does nothing.
    """

    LOCK_NAME = ".chainrule.lock"

    def __init__(self, folder: str | os.PathLike):
        self.path = Path(folder) / self.LOCK_NAME
        self.fd: int | None = None

    def __enter__(self) -> FolderLock:
        try:
            import fcntl
        except ImportError:                                        # pragma: no cover - Windows
            return self
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise FolderInUse(f"{self.path.parent} is in use by another run (process {holder})") from None
            try:                                                   # the file we locked may have been removed
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino  # by its last holder: lock the new one
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self.fd = fd
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        except OSError:                                            # a full disk, say: leave no lock file
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            os.close(self.fd)                                      # closing releases the lock
            self.fd = None
