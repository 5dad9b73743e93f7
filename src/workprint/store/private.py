"""Owner-only files: every folder workprint keeps data in is 0700, every file 0600 -
whatever mode a folder had before and whatever the umask says.

SQLite creates its ``-wal`` and ``-shm`` files with the mode of the database file, so a
database created here with :func:`private_file` first keeps its companions private too;
:func:`private_tree` fixes up a folder whose files were created before (or by an older
workprint).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path | str) -> Path:
    """Create ``path`` (and missing parents) and make it 0700, whatever mode it had."""
    path = Path(path)
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _chmod(path, DIR_MODE)
    return path


def private_file(path: Path | str) -> Path:
    """Create ``path`` empty if missing (0600 from its first byte) and make it 0600."""
    path = Path(path)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def private_tree(path: Path | str) -> None:
    """Make ``path`` and every folder under it 0700, every regular file 0600 (symlinks
    are left alone, never followed)."""
    path = Path(path)
    if not path.is_dir() or path.is_symlink():
        return
    _chmod(path, DIR_MODE)
    for root, dirs, files in os.walk(path):
        for name in dirs:
            p = Path(root, name)
            if not p.is_symlink():
                _chmod(p, DIR_MODE)
        for name in files:
            p = Path(root, name)
            if not p.is_symlink() and p.is_file():
                _chmod(p, FILE_MODE)


def _chmod(path: Path, mode: int) -> None:
    try:
        if stat.S_IMODE(path.stat().st_mode) != mode:
            os.chmod(path, mode)
    except FileNotFoundError:
        pass
    except PermissionError:
        pass  # not ours (a shared parent): nothing workprint may change


__all__ = ["private_dir", "private_file", "private_tree", "DIR_MODE", "FILE_MODE"]
