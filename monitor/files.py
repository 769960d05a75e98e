"""Files CryoGuard writes: readable by their owner only, never written through a symlink.

Session files, exports, reports and event streams hold patient data. Whatever the umask, a new
file is created ``0600`` and a new directory ``0700``. A path whose last component is a symlink
(dangling or not) is refused with a clear message: following it could create or clobber a file
somewhere else. Whole documents (reports, exports) are written to a private temporary file in
the same directory and renamed into place, so a reader never sees half a file and an existing
symlink at the destination is replaced, not followed. Why: docs/reliability.md ("Files").
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from monitor.errors import CryoGuardError

FILE_MODE = 0o600
DIR_MODE = 0o700


class UnsafePathError(CryoGuardError):
    """A path CryoGuard refuses to write: a symlink, or not a regular file."""


def private_dir(directory: Path) -> None:
    """Create ``directory`` and any missing parents with mode 0700 (existing ones untouched)."""
    missing: list[Path] = []
    here = directory
    while not here.exists() and not here.is_symlink():
        missing.append(here)
        if here.parent == here:
            break
        here = here.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        except OSError as exc:
            raise CryoGuardError(f"cannot create the directory {path}: "
                                 f"{exc.strerror or exc}") from exc
        os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask
    if not directory.is_dir():
        raise CryoGuardError(f"{directory} is not a directory")


def refuse_symlink(path: Path) -> None:
    """Raise :class:`UnsafePathError` when ``path`` itself is a symlink or not a regular file."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise UnsafePathError(f"{path} is a symbolic link; CryoGuard does not write through "
                              "links: give the real path")
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePathError(f"{path} exists and is not a regular file")


def create_private(path: Path, *, exclusive: bool = True, append: bool = False) -> int:
    """Open ``path`` for writing as a new 0600 file and return the descriptor.

    ``exclusive`` refuses an existing file (``FileExistsError``); otherwise an existing regular
    file is truncated (or appended to with ``append``) and set to 0600. A symlink is always
    refused. Missing parent directories are created 0700.
    """
    private_dir(path.parent)
    refuse_symlink(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    if exclusive:
        flags |= os.O_EXCL
    elif append:
        flags |= os.O_APPEND
    else:
        flags |= os.O_TRUNC
    try:
        fd = os.open(path, flags, FILE_MODE)
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: the path became a symlink after the check
            raise UnsafePathError(f"{path} is a symbolic link; CryoGuard does not write "
                                  "through links: give the real path") from exc
        raise
    try:
        os.fchmod(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return fd


def open_private_text(path: Path, *, exclusive: bool = True, append: bool = False) -> IO[str]:
    """:func:`create_private` as a UTF-8 text stream (newline translation off, like csv wants)."""
    fd = create_private(path, exclusive=exclusive, append=append)
    return os.fdopen(fd, "w", encoding="utf-8", newline="")


@contextlib.contextmanager
def replace_privately(path: Path) -> Iterator[Path]:
    """Yield a private temporary path beside ``path``; on success rename it over ``path``.

    For whole documents written by libraries that want a file name (matplotlib, pyarrow):
    the temporary file is created 0600 first, so the library only ever writes a private file.
    ``os.replace`` swaps a symlink at ``path`` for the new file instead of following it.
    """
    if path.is_dir():
        raise UnsafePathError(f"{path} is a directory; give a file name")
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    os.close(create_private(tmp, exclusive=True))
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_private(path: Path, data: bytes | str) -> None:
    """Write a whole document to ``path`` (0600, atomically, never through a symlink)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with replace_privately(path) as tmp, open(tmp, "wb") as handle:
        handle.write(payload)
