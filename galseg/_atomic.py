"""Crash-safe publication of directories and files: write aside, fsync, rename into place.

A mask revision or a new cutout is first written completely into a staging
directory, flushed to disk, and then published with one ``rename(2)``, which
POSIX makes atomic. A process killed at any moment therefore leaves either no
trace in the published tree or the whole new directory, never a part of it.
:func:`write_file` does the same for one file (settings, checkpoints).
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import errno
import os
from pathlib import Path
import shutil
import uuid

__all__ = ["STAGING_NAME", "fsync_file", "fsync_tree", "publish", "staging_dir", "write_file"]

STAGING_NAME = ".galseg-staging"
"""Folder, at the top of a store, where new directories are written before they
are published."""


@contextlib.contextmanager
def staging_dir(root: Path) -> Iterator[Path]:
    """A fresh, private directory under ``root/.galseg-staging``.

    The directory is removed on exit if it still exists (that is, when it was
    not published or an error occurred); the staging folder itself is removed
    when it is left empty.
    """
    area = root / STAGING_NAME
    path = area / uuid.uuid4().hex
    for attempt in range(20):
        try:
            path.mkdir(parents=True)
            break
        except (FileNotFoundError, FileExistsError):
            # Another writer removed the empty area while this one was making
            # it or entering it (mkdir then finds neither a folder nor room).
            if attempt == 19:
                raise
    try:
        yield path
    finally:
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(OSError):
            area.rmdir()  # only succeeds when no other writer is staging


def fsync_tree(path: Path) -> None:
    """Flush every file and directory below ``path`` (and ``path``) to disk."""
    for dirpath, _dirnames, filenames in os.walk(path):
        for name in filenames:
            fsync_file(Path(dirpath, name))
        fsync_file(Path(dirpath))


def fsync_file(path: Path) -> None:
    """Flush one file (or a directory's entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(staged: Path, target: Path) -> bool:
    """Atomically move the directory ``staged`` to ``target``.

    Returns
    -------
    bool
        True if published; False if ``target`` already exists (another writer
        got there first), in which case ``staged`` is left in place.
    """
    fsync_tree(staged)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        return False
    try:
        os.rename(staged, target)
    except OSError as exc:
        # rename(2) replaces an *empty* directory but refuses a non-empty one:
        # a concurrent writer published the same name between our check and now.
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            return False
        raise
    fsync_file(target.parent)
    return True


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it, then rename it to ``path``.

    A process killed at any moment leaves either the old file or the new one
    at ``path``, never a part of it. The parent folder is created if needed.
    The file's mode follows the umask, as ``open(path, "wb")`` would make it
    (644 under the usual umask 022).

    Raises
    ------
    OSError
        If the file cannot be written (the temporary file is removed).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}-{uuid.uuid4().hex[:12]}.tmp")
    # os.open applies the umask to 0o666; tempfile.mkstemp would make the file 600
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
