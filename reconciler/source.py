"""Where spec files come from: a folder on disk (validate, render, diff) or, later, a commit.

`read_spec_folder` returns the bytes of every ``*.yaml``/``*.yml`` file under a folder,
keyed by path relative to it, plus located errors for what it refused to read:
- a symlink that resolves outside the folder (it could expose any file on the host);
- a file larger than the loader's limit (read no further than that limit);
- a file that cannot be read.
Hidden files and folders (``.git``, ``.github``) are skipped, as editors and git tools do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import EnvironmentProblem, Location, SpecError
from .loader import DEFAULT_LIMITS, Limits

SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass
class SpecFolder:
    files: dict[str, bytes] = field(default_factory=dict)
    errors: list[SpecError] = field(default_factory=list)


def read_spec_folder(folder: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> SpecFolder:
    """Every spec file under `folder`, read safely. Raises EnvironmentProblem if the folder
    itself cannot be read."""
    root = Path(folder)
    if not root.is_dir():
        raise EnvironmentProblem(f"{folder}: not a folder: give the folder that holds the spec files")
    real_root = root.resolve()
    result = SpecFolder()
    for directory, subdirs, names in os.walk(root, followlinks=False, onerror=_raise_unreadable):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in subdirs:
            path = Path(directory, name)
            if path.is_symlink() and not path.resolve().is_relative_to(real_root):
                result.errors.append(SpecError(Location(path.relative_to(root).as_posix(), 1, 1), "",
                                               f"symlink to {os.readlink(path)!s}, outside the spec folder: "
                                               "spec files must live inside it"))
        for name in sorted(names):
            if name.startswith(".") or not name.endswith(SPEC_SUFFIXES):
                continue
            path = Path(directory, name)
            shown = path.relative_to(root).as_posix()
            problem = _refusal(path, real_root)
            if problem:
                result.errors.append(SpecError(Location(shown, 1, 1), "", problem))
                continue
            try:
                with open(path, "rb") as handle:
                    # Read one byte past the limit so the loader can say the file is too big.
                    result.files[shown] = handle.read(limits.max_file_bytes + 1)
            except OSError as exc:
                result.errors.append(SpecError(Location(shown, 1, 1), "", f"cannot read: {exc.strerror}"))
    return result


def _refusal(path: Path, real_root: Path) -> str | None:
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(real_root):
            return (f"symlink to {os.readlink(path)!s}, outside the spec folder: "
                    "spec files must live inside it; copy the file in or remove the link")
    if not path.exists():
        return "broken symlink: remove it or point it at a file inside the spec folder"
    if not path.is_file():
        return "not a regular file"
    return None


def _raise_unreadable(error: OSError) -> None:
    raise EnvironmentProblem(f"{error.filename}: cannot read: {error.strerror}")
