"""Writing files so that a reader, or a crash, only ever sees the old or the new content.

`write_atomically`: a temporary file in the same folder, written and fsynced, given the
old file's mode and owner (or `new_mode`), renamed over the target, then the folder is
fsynced so the rename itself survives a power cut.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import EnvironmentProblem


def write_atomically(path: str | os.PathLike, data: bytes | str, *, new_mode: int = 0o600) -> None:
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    folder = path.parent
    try:
        try:
            old = path.stat()
        except FileNotFoundError:
            old = None
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            if old is not None:
                os.chmod(temporary, old.st_mode & 0o7777)
                if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
                    try:
                        os.chown(temporary, old.st_uid, old.st_gid)
                    except PermissionError:
                        pass  # not root: the file becomes ours, as any editor would leave it
            else:
                os.chmod(temporary, new_mode)
            os.replace(temporary, path)
        except BaseException:
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass
            raise
        _fsync_folder(folder)
    except FileNotFoundError as exc:
        if not folder.is_dir():
            raise EnvironmentProblem(f"{path}: cannot write: the folder {folder} does not exist: create it "
                                     "(mkdir -p), or correct the path") from exc
        raise EnvironmentProblem(f"{path}: cannot write: {exc.strerror or exc}") from exc
    except OSError as exc:
        raise EnvironmentProblem(f"{path}: cannot write: {exc.strerror or exc}") from exc


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete what a killed writer left of `write_atomically` next to `path` (the
    ``.<name>.*.tmp`` files); the target itself is always whole. Returns what was removed."""
    path = Path(path)
    removed = []
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            leftover.unlink()
            removed.append(leftover)
        except OSError:
            pass
    return removed
