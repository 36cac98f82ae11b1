"""A package folder seen, read and swapped without following a symlink.

A package folder may come from anyone's branch, so a symlink in it may point anywhere (README.md
to /proc/self/environ, engine/ to a user's folder). flowgen never creates one, so it never needs
to follow one: everything here works on what `lstat` sees.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import sys
from pathlib import Path
from typing import Literal

Kind = Literal["file", "dir", "link", "other"]

# Not on every system; where missing, the flag is 0 and `read_file` checks the result with fstat.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO named README.md must not hang `check`


def kind_of(mode: int) -> Kind:
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    return "other"


def scan(top: Path) -> dict[str, Kind]:
    """Every entry under `top`, by its path with `/`, as lstat sees it; a symlink is listed, never
    entered."""
    found: dict[str, Kind] = {}
    pending = [("", top)]
    while pending:
        prefix, folder = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                name = prefix + entry.name
                found[name] = kind_of(entry.stat(follow_symlinks=False).st_mode)
                if found[name] == "dir":
                    pending.append((name + "/", Path(entry.path)))
    return found


def blocked_by(name: str, on_disk: dict[str, Kind]) -> str | None:
    """The first folder on the way to `name` that exists but is not a real folder (a symlink, a
    file), or None."""
    parts = name.split("/")
    for end in range(1, len(parts)):
        ancestor = "/".join(parts[:end])
        kind = on_disk.get(ancestor)
        if kind is None:
            return None
        if kind != "dir":
            return ancestor
    return None


class NotAFile(OSError):
    """What was scanned as a regular file is something else now."""


def read_file(path: Path) -> bytes:
    """A regular file's bytes; never through a symlink, never blocking on a FIFO."""
    try:
        handle = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise NotAFile(errno.ELOOP, "a symlink", str(path)) from None
        raise
    with open(handle, "rb") as stream:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise NotAFile(errno.EINVAL, "not a regular file", str(path))
        return stream.read()


def write_new_file(path: Path, body: bytes) -> None:
    """Create `path` (which must not exist yet) holding `body`, readable by all."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
    with open(handle, "wb") as stream:
        stream.write(body)
    os.chmod(path, 0o644)  # whatever the umask, like a file git checks out


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def exchange(first: Path, second: Path) -> bool:
    """Swap two folders in one step (Linux's renameat2 with RENAME_EXCHANGE), so that a crash at
    any moment leaves each name holding one whole tree. False where the system cannot do it."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False  # a libc without renameat2 (glibc before 2.28, some musl)
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    done = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False  # the kernel or this filesystem has no exchange
    raise OSError(code, os.strerror(code), str(second))
