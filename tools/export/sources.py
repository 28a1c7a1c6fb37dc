"""Local export files, confined to the configured roots (`TASKLENS_EXPORT_ROOTS`).

A tool that opens paths an agent chose is a file-read primitive, so the rules are strict and each
refusal says which one applied: no `..` components; the path, with every symlink resolved, must lie
inside a root (a symlink inside a root that points outside is refused); only regular files (a FIFO
would block the server, a device would never end). The file is opened without following a final
symlink and non-blocking, then checked again on the open descriptor, so a swap between the check and
the open cannot slip another file in; a swap caught that way, or while the path is being resolved, is
refused with its own sentence.

A hard link is the same file under a second name, so a hard link inside a root to a file outside it
is read: nothing on the path or the descriptor tells the two apart.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import ErrorKind, ProviderError, clean_upstream_text

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFLNK: "a symlink",
}


def refuse(hint: str, kind: ErrorKind = "invalid_argument") -> ProviderError:
    """An export failure as the one sentence the model sees."""
    return ProviderError("export", kind, hint=hint)


@dataclass
class LocalFile:
    file: BinaryIO
    size: int
    path: str


def _shown(source: str) -> str:
    """A path as quoted in a refusal: cleaned, and its tail only when long (the model sent it; quoting a
    long argument back costs tokens and can carry injected text)."""
    text = clean_upstream_text(source, limit=500)
    return text if len(text) <= 48 else "…" + text[-40:]


def _inside(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def open_local(source: str, roots: Sequence[str]) -> LocalFile:
    """Open `source` for reading if the rules allow it; otherwise raise the refusal."""
    if not roots:
        raise refuse(
            "No export roots are configured; set TASKLENS_EXPORT_ROOTS to the folders exports may be read from."
        )
    if "\x00" in source or not source.strip():
        raise refuse("That is not a usable file path; pass the path of an export file.")
    shown = _shown(source)
    path = Path(source)
    if ".." in path.parts:
        raise refuse("Export paths may not contain '..'; pass the file's full path inside an export root.")
    try:
        real_roots = [os.path.realpath(root) for root in roots]
        absolute = path if path.is_absolute() else Path(real_roots[0]) / path
        real = os.path.realpath(absolute)
    except OSError:  # a symlink on the way was replaced between its lstat and its readlink
        raise refuse(_changed(shown, "while its path was being resolved")) from None
    except RecursionError:  # each symlink of a chain is one level of realpath's recursion
        raise refuse(f"{shown} is reached through too long a chain of symlinks; it was not read.") from None
    allowed = ", ".join(real_roots[:3])
    if not _inside(real, real_roots):
        if _inside(os.path.abspath(absolute), real_roots):
            raise refuse(f"{shown} is a symlink to a place outside the export roots ({allowed}); it was not read.")
        raise refuse(
            f"{shown} is outside the export roots ({allowed}); move the file there or add its folder to "
            "TASKLENS_EXPORT_ROOTS."
        )
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise refuse(f"There is no file at {shown}; check the path.", "not_found") from None
    except PermissionError:
        raise refuse(f"tasklens may not read {shown} (permission denied).", "forbidden") from None
    except OSError as error:
        if error.errno == errno.ELOOP:  # resolved to a file, yet a symlink when opened: a swap, or a loop
            raise refuse(
                f"{shown} is a symlink loop, or was replaced by a symlink between being checked and being opened; "
                "it was not read."
            ) from None
        raise refuse(f"{shown} cannot be opened ({error.strerror or 'error'}); pass a regular export file.") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            raise refuse(f"{shown} is {kind}, not a regular file; pass an export file.")
        opened = _opened_path(fd)
        if opened is not None and not _inside(opened, real_roots):
            raise refuse(_changed(shown, "while being opened, and now points outside the export roots"))
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        return LocalFile(file=os.fdopen(fd, "rb", buffering=0), size=info.st_size, path=source)
    except BaseException:
        os.close(fd)
        raise


def _changed(shown: str, when: str) -> str:
    """The sentence for a path that something on this machine changed under tasklens (a symlink swap)."""
    return f"{shown} changed {when}; it was not read. Retry once nothing is replacing it."


def _opened_path(fd: int) -> str | None:
    """The path the kernel says the descriptor refers to (Linux); None where that is unavailable."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
