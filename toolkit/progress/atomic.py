"""Replacing a file in one step, so that a reader never sees half of a rewrite."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

def write_atomic(path: Path, text: str) -> None:
    """Replace the file in one step: readers see the old or the new text, never a mix."""
    target = path.resolve()  # through a symlink, so the link stays a link
    mode = _mode_for(target)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:  # bytes: no newline translation
            out.write(text.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
            os.fchmod(out.fileno(), mode)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_dir(target.parent)


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        # A new file gets what open() would give it (mkstemp's 0600 would hide it from others).
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_dir(folder: Path) -> None:
    # The rename itself is durable only once the folder is synced.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
